// QUIC (/quic-v1, RFC 9000) with the libp2p TLS handshake, over ngtcp2 and its GnuTLS crypto
// helper. A pure engine in the quinn-proto / ngtcp2 style: it owns no socket and reads no clock.
//
// Call order, per Endpoint (and per Connection, which the Endpoint drives):
//   1. inputs:   handle_datagram(...) for each received datagram, handle_timeout(now) when
//                next_deadline() has passed;
//   2. commands: connect, open_stream, send, consume, reset_stream, stop_sending, close;
//   3. outputs:  write_datagrams(...) until it returns an empty Transmit;
//   4. next_deadline(): arm the timer.
// Events (handshake done, stream data, ...) are delivered synchronously to the EventSink during
// inputs, outputs and commands. on_event may call Connection commands (send, consume, ...) but
// not Endpoint methods (no connect or handle_* from inside a callback). Every `data` pointer in an Event is LENT: valid only during on_event (it
// points into ngtcp2's decrypted-packet or reassembly buffer); copy it into a slab there.
// Buffers passed to send() are TRANSFERRED: the engine (and ngtcp2, for retransmission) reads
// them until a kStreamAcked event reports an acked offset past their end, or kStreamClosed /
// kConnectionClosed for their stream/connection; only then may the caller reuse them.
//
// The engine is single-threaded: one Endpoint and its connections live on one I/O thread.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "l2n/tls.h"

namespace l2n::quic {

// --- Limits and defaults, each with where its value comes from ---------------------------------

// Our connection ids: 16 random bytes. RFC 9000 allows up to 20; 8 would route fine, 16 makes
// them unguessable (an off-path attacker cannot inject into a connection by guessing its id).
inline constexpr size_t kCidLength = 16;
// Largest UDP payload we send: 1500-byte Ethernet MTU minus IPv6 (40) and UDP (8) headers.
// ngtcp2 starts at 1200 (RFC 9000 14.1) and probes up to this (DPLPMTUD).
inline constexpr size_t kMaxUdpPayload = 1452;
// Smallest datagram that may carry a client Initial (RFC 9000 14.1): smaller ones are dropped
// before any state is made.
inline constexpr size_t kMinInitialDatagram = 1200;
// Our Stateless Reset: 1 + 24 random + 16 token bytes, as long as a short-header packet with a
// 20-byte id and a minimal payload (RFC 9000 10.3), so it cannot be told apart from one. We send
// one only in answer to a strictly longer packet (10.3.3: no reset loops, no amplification).
inline constexpr size_t kStatelessResetLength = 41;
// A GSO batch: Linux accepts at most 64 segments per send (UDP_MAX_SEGMENTS) and 64 KiB in all.
inline constexpr size_t kMaxGsoSegments = 64;
inline constexpr size_t kMaxGsoBytes = 65535 - 8 - 40;  // one IPv6 UDP datagram's payload bound

struct Config {
  // Handshake must complete within this (rust-libp2p's default, 5 s): 15 times the RFC 9002
  // initial RTT of 333 ms, so several lost flights still fit; a stuck peer frees its slot.
  uint64_t handshake_timeout_ns = 5'000'000'000;
  // Idle timeout advertised to the peer (rust-libp2p: 10 s); the effective one is the smaller of
  // both sides' (RFC 9000 10.1).
  uint64_t max_idle_timeout_ns = 10'000'000'000;
  // PING after this much silence so NATs keep the mapping and the idle timer never fires on a
  // live connection: half the idle timeout, so one lost keep-alive is survivable. 0 disables.
  uint64_t keep_alive_interval_ns = 5'000'000'000;
  // Streams the peer may have open towards us at once (rust-libp2p: 256). libp2p uses only
  // bidirectional streams, so the unidirectional limit is 0.
  uint64_t max_concurrent_streams = 256;
  // Per-stream receive window: starts at initial (1 MiB: about one RTT of 1 Gbit/s at 8 ms before
  // auto-tuning catches up) and ngtcp2 grows it towards max when the application reads fast
  // (16 MiB = 1.25 GB/s * 13 ms, the same bound as Yamux's max_stream_window).
  uint64_t initial_stream_window = 1u << 20;
  uint64_t max_stream_window = 16u << 20;
  // Connection-wide receive window: 1.5x the stream window, so one stream at full window leaves
  // room for others. It bounds the data a peer can make us buffer per connection.
  uint64_t initial_connection_window = 3u << 19;
  uint64_t max_connection_window = 24u << 20;
  // RFC 9002 6.2.2: 333 ms before the first RTT sample.
  uint64_t initial_rtt_ns = 333'000'000;
  // kBbr is BBR v1 on ngtcp2 0.12 and BBR v2 on 1.x (1.x has only that one); kBbr2 is BBR v2 on
  // both. Default BBR v2: on ngtcp2 < 1.8 cubic and reno stop growing the window at 2.89 x max
  // delivery rate x min RTT, and on loopback the min RTT (48-90 us with an I/O thread) is far below
  // the loaded RTT, so cubic froze at 90-650 KB and ran 3.7-6.4 Gbit/s from run to run; BBR v2 has
  // no such cap. Six alternating locked pairs (0.5 GiB, load ~1.5, threaded, down/up Gbit/s): BBR v2
  // 6.4-8.3 / 6.1-7.9 against cubic 3.7-6.4 / 3.8-6.4, CPU per GiB 1.9-2.4 against 2.3-3.1, no
  // datagram dropped; inline 6.2-8.1 / 6.7-8.3 against 5.2-7.4 / 5.7-7.0 (native-core.md, QUIC on
  // the I/O threads). LIBP2P_NATIVE_QUIC_CC=cubic|reno|bbr|bbr2 overrides it per process.
  enum class CongestionControl : uint8_t { kCubic, kReno, kBbr, kBbr2 } congestion_control = CongestionControl::kBbr2;
};

struct EndpointConfig {
  Config connection;
  bool accept_inbound = true;   // false: a client-only endpoint drops every unknown Initial
  // Server connections still in the handshake. Each holds an ngtcp2 connection, a GnuTLS session
  // and crypto buffers: 116 KiB measured (bench/native/quic_conn_memory.cpp, ngtcp2 0.12.1,
  // GnuTLS 3.7.9, -O2, glibc), so 256 cap the handshake state at ~29 MiB; further Initials are
  // dropped until slots free up (completed handshakes or handshake_timeout). Spoofed floods stop
  // much earlier, at retry_above_handshaking (64: ~7 MiB), since they cannot answer a Retry.
  size_t max_handshaking = 256;
  // Address validation (RFC 9000 8.1.2): once this many handshakes are pending, a new client
  // must first echo a Retry token from its real address (one extra round trip), so spoofed
  // Initials make no state at all and legitimate clients still get in during a flood. Below it a
  // client connects in one round trip. A quarter of max_handshaking: normal bursts of dials stay
  // at 1 RTT, a flood switches to Retry long before the hard limit drops anyone.
  size_t retry_above_handshaking = 64;
  // A Retry token is accepted for this long (a client answers a Retry within one RTT; 10 s covers
  // slow links and stays short enough that a captured token is of little use).
  uint64_t retry_token_lifetime_ns = 10'000'000'000;
  // All connections of this endpoint (established ones cost their windows at most).
  size_t max_connections = 4096;
  // Key of our stateless reset tokens (RFC 9000 10.3), 32 bytes. Give the same key after a
  // restart (TypeScript derives it from the host key) and peers of the previous run learn at
  // their next packet that their connection is gone, instead of waiting out the idle timeout.
  // Empty: a random key per endpoint (resets then only help within this process's lifetime).
  std::vector<uint8_t> stateless_reset_key;
  // Stateless replies queued for sending (Version Negotiation, Retry, Stateless Reset); more are
  // dropped rather than buffered (a reflection flood must not grow memory).
  size_t max_stateless_replies = 64;
};

// --- Addresses, errors, events --------------------------------------------------------------

struct Address {
  uint8_t family = 0;   // 4, 6, or 0 (unset)
  uint16_t port = 0;    // host byte order
  uint8_t ip[16] = {};  // network byte order; IPv4 in the first 4 bytes
  static Address v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port);
  bool operator==(const Address&) const = default;
};

// Closed set of errors. "Fatal" ones close the connection (the engine has already queued a
// CONNECTION_CLOSE and reports kConnectionClosed); the others refuse one command only.
enum class Error : uint8_t {
  kNone,
  // fatal, reported in kConnectionClosed / Connection::error():
  kCertificateRejected,  // we rejected the peer's certificate: tls_error() says why (e.g. kPeerIdMismatch)
  kHandshakeFailed,      // TLS failed otherwise (no certificate, ALPN, alert from the peer: remote_code())
  kHandshakeTimeout,     // Config::handshake_timeout_ns passed
  kIdleTimeout,          // nothing received for the idle timeout
  kPeerClosed,           // the peer sent CONNECTION_CLOSE (remote_code() has its code)
  kLocallyClosed,        // close() was called
  kProtocol,             // the peer violated QUIC (ngtcp2 reported a fatal error)
  kStatelessReset,       // the peer reset the connection statelessly
  kInternal,             // allocation or library failure
  // per command, the connection goes on:
  kStreamLimit,          // open_stream: the peer's limit is reached; wait for kStreamsAvailable
  kUnknownStream,        // no such stream (or it is closed)
  kStreamFinished,       // send after fin, or on a stream whose sending side was reset/stopped
  kClosed,               // the connection is closing or closed
  kEndpointFull,         // connect: max_connections reached
};
const char* error_name(Error);

enum class EventType : uint8_t {
  kHandshakeCompleted,   // peer authenticated: Event::peer
  kStreamOpened,         // the peer opened `stream`
  kStreamData,           // data/len (lent) at offset `value`, fin set on the last byte
  kStreamReset,          // the peer reset its sending side: `value` is the application code
  kStopSending,          // the peer sent STOP_SENDING (seen when we next write; RESET_STREAM already
                         // answered it). value = 0: ngtcp2 0.12 does not expose the peer's code
  kStreamAcked,          // all bytes of `stream` below offset `value` are acknowledged (release them)
  kStreamWritable,       // the peer raised the stream's flow-control limit after we were blocked
  kStreamClosed,         // both directions done; every transferred buffer of `stream` is released
  kStreamsAvailable,     // open_stream may succeed again (`value` = new limit of bidi streams)
  kConnectionClosed,     // error (and tls_error, value = remote code) say why; all buffers released
};

struct Event {
  EventType type;
  uint64_t conn = 0;            // Connection::id()
  int64_t stream = -1;
  const uint8_t* data = nullptr;
  size_t len = 0;
  bool fin = false;
  uint64_t value = 0;
  Error error = Error::kNone;
  tls::Error tls_error = tls::Error::kNone;
  const tls::PeerIdentity* peer = nullptr;  // lent, kHandshakeCompleted only
};

class EventSink {
 public:
  virtual void on_event(const Event&) = 0;
 protected:
  ~EventSink() = default;
};

// One GSO batch written by write_datagrams: `segments` datagrams of `segment_size` bytes each,
// except the last, which may be shorter, all for `remote`. bytes == 0: nothing to send now.
struct Transmit {
  size_t bytes = 0;
  size_t segment_size = 0;
  size_t segments = 0;
  Address remote;
  uint64_t conn = 0;
};

// --- Connection -------------------------------------------------------------------------------

class Endpoint;

class Connection {
 public:
  enum class State : uint8_t { kHandshaking, kEstablished, kClosing, kDraining, kClosed };
  ~Connection();
  uint64_t id() const;
  bool is_server() const;
  State state() const;
  Error error() const;                 // why it closed (kNone while open)
  tls::Error tls_error() const;        // with kCertificateRejected
  uint64_t remote_code() const;        // with kPeerClosed / kHandshakeFailed: the peer's code
  const tls::PeerIdentity& remote() const;  // after kHandshakeCompleted
  const Address& remote_address() const;
  uint64_t smoothed_rtt_ns() const;
  // Congestion state, for diagnostics (the I/O layer's debug log at close, tests). ngtcp2's view:
  // window, slow-start threshold (UINT64_MAX: still in slow start), bytes in flight, RTTs. Plus
  // how each send burst of write_datagrams ended when ngtcp2 wrote nothing more:
  // cwnd_limited (the window was full), app_limited (nothing queued), other (flow control,
  // pacing). A sender whose bursts end cwnd-limited while ssthresh is still UINT64_MAX and no
  // loss happened is held by ngtcp2 < 1.8's cwnd cap (docs/design/native-core.md, QUIC).
  struct CongestionStats {
    uint64_t cwnd = 0, ssthresh = 0, bytes_in_flight = 0;
    uint64_t smoothed_rtt_ns = 0, min_rtt_ns = 0, latest_rtt_ns = 0;
    uint64_t bursts_cwnd_limited = 0, bursts_app_limited = 0, bursts_other = 0;
  };
  CongestionStats congestion_stats() const;

  // Commands. open_stream returns the new bidirectional stream id, or -1 with kStreamLimit /
  // kClosed in *err. send queues `data` (TRANSFERRED, see top) and fin; len may be 0 with fin.
  int64_t open_stream(Error* err);
  Error send(int64_t stream, const uint8_t* data, size_t len, bool fin);
  // The application consumed n bytes of received data on `stream`: re-opens flow-control credit.
  Error consume(int64_t stream, size_t n);
  Error reset_stream(int64_t stream, uint64_t code);   // RESET_STREAM on our sending side
  Error stop_sending(int64_t stream, uint64_t code);   // STOP_SENDING for the peer's side
  // Queues CONNECTION_CLOSE with an application code; kConnectionClosed(kLocallyClosed) follows.
  void close(uint64_t app_code, uint64_t now_ns);
  // Bytes that may be sent on `stream` now without blocking on flow control (0 if unknown).
  uint64_t send_window(int64_t stream) const;
  size_t queued_bytes(int64_t stream) const;  // accepted by send() but not yet handed to ngtcp2

  struct Impl;
  explicit Connection(std::unique_ptr<Impl>);
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// --- Endpoint: one UDP socket's worth of connections -----------------------------------------

class Endpoint {
 public:
  // `cert` is our certificate (l2n/tls.h); `sink` receives every event of every connection.
  // unix_now_s: wall-clock seconds for certificate validity checks, refreshed by set_unix_time.
  Endpoint(const EndpointConfig&, std::shared_ptr<const tls::Certificate> cert, EventSink* sink,
           const Address& local, int64_t unix_now_s);
  ~Endpoint();
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  void set_unix_time(int64_t unix_now_s);
  // Stops (false) or resumes making server connections for new Initials (EndpointConfig::
  // accept_inbound); connections already made carry on. A closed listener's socket uses it while
  // its last connections finish.
  void set_accept_inbound(bool accept);

  // Input. Routes by destination connection id; an Initial for an unknown id makes a server
  // connection (bounded by max_handshaking / max_connections; past retry_above_handshaking only
  // with a valid Retry token, else it gets a Retry); a short-header packet for an unknown id gets
  // a Stateless Reset; anything else unknown, short, or malformed is dropped without state.
  // Never fails: drops are counted in stats().
  void handle_datagram(const uint8_t* data, size_t len, const Address& remote, uint64_t now_ns);
  void handle_timeout(uint64_t now_ns);

  // Command: dials `remote`; expected_peer_id (multihash bytes) may be empty to accept any peer.
  // Returns the connection (owned by the endpoint) or nullptr with *err set. After its
  // kConnectionClosed event the connection may be freed by any later Endpoint call: look it up
  // with find(id) instead of keeping the pointer.
  Connection* connect(const Address& remote, const std::vector<uint8_t>& expected_peer_id,
                      uint64_t now_ns, Error* err);
  Connection* find(uint64_t conn_id);

  // Output: one GSO batch of one connection (or a stateless reply) into out[0, cap). Call until
  // it returns bytes == 0. cap should be at least kMaxUdpPayload; kMaxGsoBytes fills a batch.
  Transmit write_datagrams(uint8_t* out, size_t cap, uint64_t now_ns);
  // Earliest time handle_timeout must be called; UINT64_MAX when nothing is pending.
  uint64_t next_deadline() const;

  struct Stats {
    uint64_t datagrams_in = 0, dropped_short = 0, dropped_unknown = 0, dropped_malformed = 0,
             dropped_handshake_limit = 0, dropped_bad_token = 0, dropped_reply_queue_full = 0,
             version_negotiations = 0, retries_sent = 0, stateless_resets_sent = 0,
             connections_accepted = 0,
             // peer certificates found verified already (native/core/quic/cert_cache.h): the
             // handshake skipped their self-signature and host-signature checks
             certificate_cache_hits = 0;
  };
  const Stats& stats() const;
  size_t connection_count() const;
  size_t handshaking_count() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace l2n::quic
