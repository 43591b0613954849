// Noise XX for libp2p (libp2p/specs noise/README.md): Noise_XX_25519_ChaChaPoly_SHA256, empty
// prologue, messages framed as u16be(len) || message on the wire. A pure engine: no I/O, no clock;
// the only outside input besides the caller's bytes is the ephemeral key, drawn from libsodium's CSPRNG.
//
//   XX:  -> e                      initiator, message 1 (no payload)
//        <- e, ee, s, es           responder, message 2 + responder's NoiseHandshakePayload
//        -> s, se                  initiator, message 3 + initiator's NoiseHandshakePayload
//
// Our payload (identity_key, identity_sig over "noise-libp2p-static-key:" || static_public,
// extensions) is built once by TypeScript and passed in. The remote payload is parsed and verified
// here (l2n/identity.h), its PeerId compared with the expected one, and its extensions exposed.
//
// Call order: start() (both roles; only the initiator produces bytes), then feed() with whatever
// arrives, sending everything appended to `out` after each call, until done() or error() != kNone.
// Then take_send()/take_recv() give the transport CipherStates. On any error: close the connection.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "l2n/crypto.h"

namespace l2n::noise {

inline constexpr size_t kMaxMessageLength = 65535;          // Noise spec §3; u16 length prefix
inline constexpr size_t kLengthPrefixLength = 2;            // libp2p noise spec, wire format
inline constexpr size_t kTagLength = 16;                    // ChaChaPoly tag
inline constexpr size_t kMaxPlaintextLength = kMaxMessageLength - kTagLength;
inline constexpr size_t kFrameOverhead = kLengthPrefixLength + kTagLength;  // per transport message
inline constexpr size_t kKeyLength = 32;                    // X25519 keys
// Our payload must fit message 2 (e, encrypted s, payload + tag), the larger of the two that carry it.
inline constexpr size_t kMaxPayloadLength = kMaxMessageLength - kKeyLength - (kKeyLength + kTagLength) - kTagLength;
// Remote extensions: go-libp2p and js-libp2p send one or two muxers and at most two certhashes
// (webtransport: current and next certificate); longer lists are refused as abuse.
inline constexpr size_t kMaxStreamMuxers = 32;
inline constexpr size_t kMaxCerthashes = 16;
// Same bound as a multistream-select line (l2n/multistream.h kMaxMessageLength).
inline constexpr size_t kMaxProtocolIdLength = 1024;
inline constexpr std::string_view kStaticKeySignaturePrefix = "noise-libp2p-static-key:";

// Values are stable (the TS error map depends on them): new ones are appended.
//   kMessageTooLong     our payload over kMaxPayloadLength, or a transport message over the limits
//   kDecryptFailed      a handshake or transport message failed authentication
//   kBadPayload         the remote NoiseHandshakePayload is malformed or lacks key/signature
//   kBadSignature       identity_sig does not verify over the remote static key
//   kUnsupportedKeyType the remote identity key type is not in keys.proto
//   kPeerIdMismatch     the remote identity is not the expected PeerId
//   kUnexpectedMessage  feed() on an initiator before start(); a CipherState used without a key
//   kNonceExhausted     2^64 - 1 messages in one direction (the last nonce is reserved by Noise)
//   kMessageTooShort    a handshake message shorter than its pattern, a transport message < tag
//   kBadKey             the remote identity key is invalid, or its X25519 key is of low order
enum class Error : uint8_t { kNone, kMessageTooLong, kDecryptFailed, kBadPayload, kBadSignature,
                             kUnsupportedKeyType, kPeerIdMismatch, kUnexpectedMessage, kNonceExhausted,
                             kMessageTooShort, kBadKey };
enum class Role : uint8_t { kInitiator, kResponder };

struct HandshakeConfig {
  Role role = Role::kInitiator;
  uint8_t static_secret[kKeyLength] = {};
  uint8_t static_public[kKeyLength] = {};
  std::vector<uint8_t> payload;                 // our NoiseHandshakePayload protobuf
  std::vector<uint8_t> expected_remote_peer_id; // multihash bytes; empty accepts any peer
};

struct RemoteIdentity {
  std::vector<uint8_t> public_key;              // keys protobuf PublicKey {Type, Data}, canonical encoding
  std::vector<uint8_t> peer_id;                 // multihash
  std::vector<std::string> stream_muxers;       // extensions.stream_muxers, in the remote's order
  std::vector<std::vector<uint8_t>> webtransport_certhashes;  // extensions.webtransport_certhashes
};

// One direction of the transport (or of the handshake, with the handshake hash as AD).
// Nonce = 4 zero bytes || 64-bit little-endian counter (Noise §12.3 ChaChaPoly). One OpenSSL
// context per CipherState, reused for every message: encrypt/decrypt never allocate. Move-only.
class CipherState {
 public:
  CipherState() = default;
  explicit CipherState(const uint8_t key[kKeyLength]);  // has_key() false if OpenSSL fails
  bool has_key() const { return aead_.has_key(); }
  void initialize_key(const uint8_t key[kKeyLength]);  // Noise InitializeKey(): new key, nonce 0

  // `out` may equal `in`, else the buffers must not overlap. encrypt writes len + kTagLength bytes
  // (len <= kMaxPlaintextLength); decrypt writes len - kTagLength (kTagLength <= len <= kMaxMessageLength).
  // Errors: kMessageTooLong, kMessageTooShort, kNonceExhausted, kDecryptFailed (out then holds
  // garbage and the nonce is not advanced; from encrypt it reports an OpenSSL failure),
  // kUnexpectedMessage (no key).
  Error encrypt(const uint8_t* in, size_t len, uint8_t* out) { return encrypt_with_ad(nullptr, 0, in, len, out); }
  Error decrypt(const uint8_t* in, size_t len, uint8_t* out) { return decrypt_with_ad(nullptr, 0, in, len, out); }
  // Writes u16be(len + kTagLength) || ciphertext || tag: len + kFrameOverhead bytes. `in` must not
  // overlap `out` unless in == out + kLengthPrefixLength (plaintext placed after room for the prefix).
  Error encrypt_frame(const uint8_t* in, size_t len, uint8_t* out);
  Error encrypt_with_ad(const uint8_t* ad, size_t ad_len, const uint8_t* in, size_t len, uint8_t* out);
  Error decrypt_with_ad(const uint8_t* ad, size_t ad_len, const uint8_t* in, size_t len, uint8_t* out);
  uint64_t nonce() const { return n_; }
  void set_nonce(uint64_t n) { n_ = n; }        // Noise SetNonce(); tests use it to reach exhaustion

 private:
  crypto::Aead aead_;
  uint64_t n_ = 0;
};

// NoiseHandshakePayload { bytes identity_key = 1; bytes identity_sig = 2;
//   NoiseExtensions extensions = 4 { repeated bytes webtransport_certhashes = 1;
//                                    repeated string stream_muxers = 2; } }
// Views into the parsed buffer. Unknown fields (such as the deprecated `data = 3`) are skipped;
// repeated `extensions` fields merge, as protobuf specifies.
struct ByteView { const uint8_t* data = nullptr; size_t len = 0; };
struct HandshakePayload {
  ByteView identity_key;
  ByteView identity_sig;
  std::vector<std::string_view> stream_muxers;
  std::vector<ByteView> webtransport_certhashes;
};
// Errors: kBadPayload (malformed, a known field of the wrong wire type, lists over their bounds).
Error parse_handshake_payload(const uint8_t* data, size_t len, HandshakePayload& out);

class XXState;  // the Noise state machine without libp2p's payload rules (core/noise/xx_state.h)

class Handshake {
 public:
  explicit Handshake(const HandshakeConfig&);
  ~Handshake();
  Handshake(Handshake&&) noexcept;
  Handshake& operator=(Handshake&&) noexcept;
  Handshake(const Handshake&) = delete;
  Handshake& operator=(const Handshake&) = delete;

  // Initiator: appends message 1 (with its u16 prefix). Responder: appends nothing.
  void start(std::vector<uint8_t>& out);
  // Consumes bytes up to the end of the last handshake message at most: any bytes after it are
  // transport messages and are left unconsumed (returned count < len once done()). Partial
  // messages are buffered, so any split of the input works. Appends the messages to send to `out`
  // (the responder's message 2, the initiator's message 3). After done() or an error, returns 0.
  size_t feed(const uint8_t* data, size_t len, std::vector<uint8_t>& out);
  bool done() const { return done_; }
  Error error() const { return error_; }
  // Valid once done(). After kPeerIdMismatch, public_key and peer_id hold the identity the remote's
  // payload claims (its signature unchecked), for the error report; the other fields stay empty.
  const RemoteIdentity& remote() const { return remote_; }
  const uint8_t* handshake_hash() const;                     // 32 bytes, valid once done() (channel binding)
  CipherState take_send();  CipherState take_recv();         // after done(); later calls give keyless states

 private:
  Error process(const uint8_t* msg, size_t len, std::vector<uint8_t>& out);
  Error verify_remote(const std::vector<uint8_t>& payload, const uint8_t remote_static[kKeyLength]);
  Error write_framed(const uint8_t* payload, size_t len, std::vector<uint8_t>& out);

  Role role_;
  std::vector<uint8_t> payload_;
  std::vector<uint8_t> expected_peer_id_;
  std::unique_ptr<XXState> state_;
  std::vector<uint8_t> buf_;          // the message being received (without its prefix)
  uint8_t prefix_[kLengthPrefixLength] = {};
  size_t prefix_have_ = 0;
  size_t want_ = 0;                   // body length of the message being received
  bool started_ = false;
  bool done_ = false;
  Error error_ = Error::kNone;
  RemoteIdentity remote_;
  CipherState send_, recv_;
  uint8_t hash_[crypto::kSha256Length] = {};
};

}  // namespace l2n::noise
