// libp2p TLS 1.3 handshake (libp2p/specs tls/tls.md): the certificate that carries the host key,
// and the verification of a peer's certificate. Used by QUIC (l2n/quic.h) and later by /tls/1.0.0
// over TCP. No clock is read: wall-clock time (for certificate validity) is an argument.
//
// Our certificate is built in two steps because the host key (Ed25519) lives in TypeScript:
//   1. CertificateRequest::generate() makes an ephemeral ECDSA P-256 key and returns the bytes the
//      host key must sign: "libp2p-tls-handshake:" || SubjectPublicKeyInfo DER.
//   2. The caller signs them and calls CertificateRequest::finish(host_public_key, signature),
//      which writes the libp2p extension and self-signs the certificate (ECDSA-SHA256).
// One Certificate may serve many connections (the spec allows reuse); it is immutable once built
// and may be shared between threads.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace l2n::tls {

// OID 1.3.6.1.4.1.53594.1.1 (IANA-assigned to libp2p), as dotted text and as DER content bytes.
inline constexpr std::string_view kExtensionOid = "1.3.6.1.4.1.53594.1.1";
// Prefix of the message the host key signs (spec: "libp2p Public Key Extension").
inline constexpr std::string_view kSignaturePrefix = "libp2p-tls-handshake:";
// ALPN protocol id for libp2p over TLS and QUIC (spec, and every libp2p QUIC implementation).
inline constexpr std::string_view kAlpn = "libp2p";

// Bounds on what we parse from a peer. The largest legitimate extension carries an RSA host key
// of identity::kMaxRsaBits = 8192 (SPKI about 1.05 KiB) and its signature (1 KiB), plus DER
// headers: 4 KiB leaves room; anything larger is refused before it is read.
inline constexpr size_t kMaxExtensionLength = 4096;
// A libp2p certificate is a P-256 SPKI, validity and the extension: ours are under 600 bytes
// with an Ed25519 host key (tls_test checks it), about 2.5 KiB with an RSA-8192 one. 16 KiB, the
// largest TLS record's plaintext, leaves room for other implementations' extra fields.
inline constexpr size_t kMaxCertificateLength = 16384;
// Our certificates: NotBefore is an hour in the past so that peers whose clocks lag accept it;
// NotAfter is far ahead because the certificate may be reused for the node's whole lifetime
// (go-libp2p uses 100 years too). The peer's key is ephemeral, so a long validity costs nothing.
inline constexpr int64_t kCertBackdateSeconds = 3600;
inline constexpr int64_t kCertValiditySeconds = int64_t{100} * 365 * 24 * 3600;
// Precomputed ECDSA nonces kept ready per certificate (Certificate::prepare_signature): a
// handshake uses one per side and the I/O thread prepares one after each flush, so 4 covers a
// burst of 4 handshakes signed in one loop iteration; beyond that a signature is made whole
// (~26 us instead of ~0.4). Each holds two 32-byte numbers.
inline constexpr size_t kSignNoncePool = 4;

enum class Error : uint8_t {
  kNone,
  kBadCertificate,            // not a parseable DER X.509 certificate, or too large
  kChainLength,               // the peer sent zero or more than one certificate
  kNotYetValid,               // NotBefore is after now
  kExpired,                   // NotAfter is before now
  kBadSelfSignature,          // the certificate's self-signature does not verify
  kWeakSignatureAlgorithm,    // self-signature uses a hash shorter than 256 bits (MD5, SHA-1)
  kUniqueIdPresent,           // issuerUniqueID/subjectUniqueID present (the spec forbids them)
  kUnknownCriticalExtension,  // a critical extension we do not understand
  kMissingExtension,          // no libp2p Public Key Extension
  kBadExtension,              // the extension is not SignedKey DER, or its PublicKey protobuf is bad
  kUnsupportedKeyType,        // host key type outside keys.proto
  kBadHostSignature,          // the host key's signature over the certificate key does not verify
  kPeerIdMismatch,            // the host key's PeerId is not the expected one
  kInternal,                  // GnuTLS/OpenSSL failed to allocate or generate: close, retry later
};
const char* error_name(Error);

// The parsed libp2p extension: views into the bytes it was parsed from.
struct SignedKey {
  const uint8_t* public_key = nullptr; size_t public_key_len = 0;  // keys.proto PublicKey
  const uint8_t* signature = nullptr;  size_t signature_len = 0;
};
// Bounded DER parse of SignedKey ::= SEQUENCE { publicKey OCTET STRING, signature OCTET STRING }.
// Strict DER: definite minimal lengths, no trailing bytes. Returns kBadExtension or kNone.
Error parse_signed_key(const uint8_t* der, size_t len, SignedKey& out);
// DER encoding of SignedKey (what finish() puts into the extension).
std::vector<uint8_t> encode_signed_key(const uint8_t* public_key, size_t public_key_len,
                                       const uint8_t* signature, size_t signature_len);

// Host-key signature check and PeerId derivation (Ed25519, ECDSA P-256/384/521, secp256k1, RSA),
// forwarded to l2n/identity.h. key_protobuf is a keys.proto PublicKey. Returns kNone,
// kBadExtension (bad protobuf or key bytes, RSA outside 2048..8192 bits), kUnsupportedKeyType or
// kBadHostSignature.
Error verify_host_signature(const uint8_t* key_protobuf, size_t key_len, const uint8_t* msg,
                            size_t msg_len, const uint8_t* sig, size_t sig_len);
// Multihash PeerId bytes: identity multihash when the protobuf is at most 42 bytes, else sha2-256.
std::vector<uint8_t> peer_id_from_public_key(const uint8_t* key_protobuf, size_t key_len);

// What a verified peer certificate tells us.
struct PeerIdentity {
  std::vector<uint8_t> public_key;  // keys.proto PublicKey of the remote host
  std::vector<uint8_t> peer_id;     // multihash bytes
};

// Full check of a peer's certificate (spec "Peer Authentication"), in this order: size and DER
// structure, no unique ids, validity at unix_now_s, self-signature (hash >= 256 bits), critical
// extensions, the libp2p extension, the host signature over "libp2p-tls-handshake:" || SPKI, and
// the PeerId against expected_peer_id (empty: accept any peer). On kNone `out` is filled; on
// kPeerIdMismatch only out.peer_id (the peer's real, signature-checked id, for the error message).
Error verify_certificate(const uint8_t* der, size_t len, int64_t unix_now_s,
                         const uint8_t* expected_peer_id, size_t expected_len, PeerIdentity& out);

class Certificate;

// Step 1 and 2 of building our certificate (see the top of this file).
class CertificateRequest {
 public:
  CertificateRequest();
  ~CertificateRequest();
  CertificateRequest(CertificateRequest&&) noexcept;
  CertificateRequest& operator=(CertificateRequest&&) noexcept;
  // Makes the ephemeral P-256 key. not_before/not_after are Unix seconds; the defaults above give
  // (unix_now_s - kCertBackdateSeconds, unix_now_s + kCertValiditySeconds). kNone or kInternal.
  Error generate(int64_t not_before, int64_t not_after);
  Error generate(int64_t unix_now_s) {
    return generate(unix_now_s - kCertBackdateSeconds, unix_now_s + kCertValiditySeconds);
  }
  // "libp2p-tls-handshake:" || SPKI DER: what the host key signs. Valid after generate().
  const std::vector<uint8_t>& message_to_sign() const;
  // Builds and self-signs the certificate. The host signature is not checked here (the caller
  // made it); a wrong one makes every peer reject us with kBadHostSignature. kNone or kInternal.
  Error finish(const uint8_t* host_public_key, size_t key_len, const uint8_t* signature,
               size_t sig_len, std::shared_ptr<const Certificate>& out);
  // Test hook: builds a certificate with the given raw extension value (or none when ext is
  // null), so tests can make certificates that are wrong in one precise way.
  Error finish_raw(const uint8_t* ext, size_t ext_len, bool critical,
                   std::shared_ptr<const Certificate>& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Our certificate and its private key, ready for GnuTLS sessions (native/core/tls/gnutls_glue.h).
class Certificate {
 public:
  ~Certificate();
  const std::vector<uint8_t>& der() const;
  // Our CertificateVerify signature costs ~0.4 us on the handshake's path when a nonce was
  // prepared beforehand (certificate.cpp, NonceSigner). Prepares at most one (~26 us) when fewer
  // than kSignNoncePool are ready and returns whether it did; thread-safe. The I/O threads call
  // it after each flush, between handshakes; without it every signature is made whole.
  bool prepare_signature() const;
  struct Impl;
  const Impl& impl() const { return *impl_; }
  explicit Certificate(std::unique_ptr<Impl>);

 private:
  std::unique_ptr<Impl> impl_;
};

// ---------------------------------------------------------------------------------------------
// /tls/1.0.0 over a byte stream (TCP): a pure TLS 1.3 session engine. No socket: the caller feeds
// received bytes and sends what poll_output() appends. Call order: feed(), then read() until it
// returns 0, then write() for application data, then poll_output(). The handshake runs inside
// feed()/start(); done() turns true when it has completed and the peer's certificate passed
// verify_certificate(). Records are at most 16 KiB of plaintext (RFC 8446 5.1).
// Note (spec): a client completes its handshake before the server has checked the client's
// certificate; if the server rejects it, the client learns it from the server's alert.

// TLS caps a record's plaintext at 2^14 bytes; write() never produces larger records.
inline constexpr size_t kMaxRecordPlaintext = 16384;
// Ciphertext received but not yet consumed is bounded: a peer cannot make us buffer more than
// this before read() drains it (one maximal record plus its header and tag, four times over).
inline constexpr size_t kMaxBufferedInput = 4 * (kMaxRecordPlaintext + 256);

enum class SessionError : uint8_t {
  kNone,
  kCertificate,      // our verification refused the peer: certificate_error() says why
  kHandshake,        // TLS handshake failed (bad message, no common parameters, ALPN, peer alert)
  kDecrypt,          // a record failed to decrypt or parse: the stream is corrupt
  kInputTooLarge,    // feed() beyond kMaxBufferedInput without read() draining it
  kClosed,           // the peer sent close_notify (not an error for the reader: end of stream)
  kInternal,
};

struct SessionConfig {
  bool is_server = false;
  std::shared_ptr<const Certificate> cert;
  std::vector<uint8_t> expected_peer_id;  // multihash; empty accepts any peer (inbound)
  int64_t unix_now_s = 0;                 // for the peer certificate's validity check
  // Early muxer negotiation: stream muxer ids offered in ALPN before "libp2p" (go-libp2p and
  // js-libp2p do the same), e.g. {"/yamux/1.0.0"}. When both sides have one, selected_muxer()
  // names it and the multistream-select round for the muxer is skipped.
  std::vector<std::string> muxers;
};

class Session {
 public:
  explicit Session(const SessionConfig&);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Client: produces the ClientHello (poll_output). Server: nothing to do. Returns false on error.
  bool start();
  // Takes received bytes (copied into the engine's bounded input buffer) and advances the
  // handshake. Returns false once the session has failed (error() says why).
  bool feed(const uint8_t* data, size_t len);
  // How many bytes feed() takes now without kInputTooLarge: kMaxBufferedInput minus what is
  // buffered. After read() returned 0 at least kMaxBufferedInput - one record is free, so a caller
  // with more input feeds it in pieces of input_room(), draining read() in between.
  size_t input_room() const;
  // Borrowed input (no copy into the engine): `data` must stay valid and unchanged until
  // release_input(). Call order: feed_borrowed(), read() until it returns 0, release_input(),
  // which copies what is still unconsumed (a partial record, normally under one record) into the
  // bounded input buffer: kInputTooLarge if that would exceed kMaxBufferedInput. Both return
  // false once the session has failed.
  bool feed_borrowed(const uint8_t* data, size_t len);
  bool release_input();
  // Output straight to the caller: once set, every byte the engine sends (handshake messages,
  // records, alerts) goes to sink(ctx, data, len) as it is produced, in order, and poll_output()
  // has nothing more to give. Saves the copy through the engine's pending output. Set it after
  // taking start()'s output with poll_output() if other bytes must precede it.
  using OutputSink = void (*)(void* ctx, const uint8_t* data, size_t len);
  void set_output_sink(OutputSink sink, void* ctx);
  // Decrypts application data into dst (the caller's slab: no intermediate copy). Returns the
  // number of bytes written; 0 when more input is needed (or the peer closed: error() == kClosed).
  size_t read(uint8_t* dst, size_t cap);
  // Encrypts application data into TLS records, appended to the pending output. After done().
  bool write(const uint8_t* data, size_t len);
  // Sends close_notify.
  void close();
  // Appends everything the engine wants to send (handshake messages, records, alerts) to out.
  void poll_output(std::vector<uint8_t>& out);

  bool done() const;
  SessionError error() const;
  Error certificate_error() const;     // with SessionError::kCertificate
  const PeerIdentity& remote() const;  // after done(); after kPeerIdMismatch: peer_id only (the real one)
  // The muxer agreed through ALPN, or empty when ALPN settled on plain "libp2p" (then the muxer
  // is negotiated with multistream-select as usual). After done().
  const std::string& selected_muxer() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace l2n::tls
