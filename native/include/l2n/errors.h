// Numeric error codes that cross the JS boundary. Native code never throws to JS for a wire or
// socket problem: it closes the one connection (or stream, or listener) concerned and reports one
// of these codes in an event. src/native/errors.ts maps each code to a class of src/core/errors.ts;
// keep both in step (test/native/protocol.test.ts parses this file and checks the TS side).
//
// Layout: each layer owns a block of 100. An engine's `enum class Error` value v maps to
// block + v, so adding an engine error needs no edit here beyond the comment.
#pragma once
#include <cstdint>

namespace l2n::err {

inline constexpr uint32_t kNone = 0;

// ---- sockets and the I/O layer (1..99) -------------------------------------------------------
inline constexpr uint32_t kConnectRefused = 1;     // ECONNREFUSED on dial
inline constexpr uint32_t kConnectFailed = 2;      // any other connect()/socket() failure
inline constexpr uint32_t kConnectionReset = 3;    // ECONNRESET / EPIPE while connected
inline constexpr uint32_t kEof = 4;                // the remote closed TCP before the connection was done
inline constexpr uint32_t kSocketError = 5;        // another read/write error
inline constexpr uint32_t kBindFailed = 6;         // bind()/listen() failed (EADDRINUSE, EACCES, ...)
inline constexpr uint32_t kBadAddress = 7;         // an address the I/O layer cannot parse
inline constexpr uint32_t kHandshakeTimeout = 8;   // upgrade not finished within kHandshakeTimeoutNs
inline constexpr uint32_t kLocalClose = 9;         // closed by a local command (graceful)
inline constexpr uint32_t kLocalAbort = 10;        // aborted by a local command
inline constexpr uint32_t kShutdown = 11;          // the host is shutting down
inline constexpr uint32_t kAddressInUse = 12;      // EADDRINUSE on listen
inline constexpr uint32_t kQuicNoCertificate = 13; // a QUIC listen/dial before the TLS certificate was set

// ---- limits (100..199): a named constant of native/io was reached ------------------------------
inline constexpr uint32_t kTooManyConnections = 100;   // kMaxConnectionsPerThread
inline constexpr uint32_t kOutOfMemory = 101;          // a buffer allocation failed
inline constexpr uint32_t kTooManyStreams = 102;       // yamux max_streams / stream handles
inline constexpr uint32_t kOutputOverflow = 103;       // control output exceeded kMaxOutputBuffer
inline constexpr uint32_t kTooManyPendingCommands = 104;

// ---- engines: block + the engine's enum value -------------------------------------------------
inline constexpr uint32_t kMultistreamBase = 200;  // l2n::mss::Error
inline constexpr uint32_t kNoiseBase = 300;        // l2n::noise::Error
inline constexpr uint32_t kYamuxBase = 400;        // l2n::yamux::Error
inline constexpr uint32_t kIdentityBase = 500;     // l2n::identity::Error

// Named members of the engine blocks that the TS side maps specially.
inline constexpr uint32_t kMssUnsupportedProtocol = kMultistreamBase + 5;  // mss::Error::kUnsupportedProtocol
inline constexpr uint32_t kNoisePeerIdMismatch = kNoiseBase + 6;           // noise::Error::kPeerIdMismatch
inline constexpr uint32_t kYamuxRemoteGoAway = kYamuxBase + 8;             // yamux::Error::kRemoteGoAway

// ---- stream-level outcomes (600..699) ----------------------------------------------------------
inline constexpr uint32_t kStreamRemoteReset = 600;
inline constexpr uint32_t kStreamConnectionClosed = 601;  // the connection went away under the stream
inline constexpr uint32_t kStreamRefused = 602;           // open failed: no stream slot / ids left
inline constexpr uint32_t kStreamNegotiationTimeout = 603;  // protocol not agreed within kStreamNegotiationTimeoutNs

// ---- JS boundary (700..799): commands the binding rejected ------------------------------------
inline constexpr uint32_t kBadCommand = 700;
inline constexpr uint32_t kUnknownConnection = 701;

// ---- TLS and QUIC engines: block + the engine's enum value ---------------------------------------
inline constexpr uint32_t kTlsBase = 800;   // l2n::tls::Error (a rejected peer certificate)
inline constexpr uint32_t kQuicBase = 900;  // l2n::quic::Error
// /tls/1.0.0 over TCP: l2n::tls::SessionError other than kCertificate (a rejected certificate is
// kTlsBase + tls::Error, as for QUIC).
inline constexpr uint32_t kTlsSessionBase = 1000;

template <class E>
constexpr uint32_t from_engine(uint32_t base, E e) { return base + static_cast<uint32_t>(e); }

}  // namespace l2n::err
