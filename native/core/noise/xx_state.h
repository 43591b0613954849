// Noise_XX_25519_ChaChaPoly_SHA256 as the Noise spec (revision 34) defines it: SymmetricState and
// HandshakeState for the XX pattern with opaque payloads and any prologue. libp2p's rules (payload
// contents, PeerIds, framing) live in handshake.cpp on top of this. Internal header: tests use it for
// the known-answer transcript (fixed ephemeral keys through set_ephemeral_for_test()).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "l2n/crypto.h"
#include "l2n/noise.h"

namespace l2n::noise {

inline constexpr char kProtocolName[] = "Noise_XX_25519_ChaChaPoly_SHA256";  // exactly HASHLEN bytes
inline constexpr size_t kHashLength = crypto::kSha256Length;
inline constexpr size_t kEncryptedKeyLength = kKeyLength + kTagLength;  // `s` after a key is set

class XXState {
 public:
  XXState(bool initiator, const uint8_t* prologue, size_t prologue_len,
          const uint8_t static_secret[kKeyLength], const uint8_t static_public[kKeyLength]);
  ~XXState();
  XXState(const XXState&) = delete;
  XXState& operator=(const XXState&) = delete;

  // Test hook: use this ephemeral secret instead of a random one (before the message that sends e).
  void set_ephemeral_for_test(const uint8_t secret[kKeyLength]);

  // Appends the next message (without framing) carrying `payload`. Errors: kUnexpectedMessage
  // (not our turn), kBadKey (DH result of low order), kMessageTooLong.
  Error write_message(const uint8_t* payload, size_t len, std::vector<uint8_t>& out);
  // Reads the next message; its decrypted payload replaces `payload`. Errors: kUnexpectedMessage,
  // kMessageTooShort, kDecryptFailed, kBadKey.
  Error read_message(const uint8_t* msg, size_t len, std::vector<uint8_t>& payload);

  bool complete() const { return step_ == 3; }
  const uint8_t* remote_static() const { return rs_; }  // valid once read
  const uint8_t* handshake_hash() const { return h_; }
  // Split(): c1 encrypts initiator -> responder, c2 responder -> initiator (Noise §5.2).
  bool split(CipherState& c1, CipherState& c2);

 private:
  void mix_hash(const uint8_t* data, size_t len);
  bool mix_key(const uint8_t* ikm, size_t len);
  bool dh_mix(const uint8_t* secret, const uint8_t* pub);
  Error encrypt_and_hash(const uint8_t* in, size_t len, std::vector<uint8_t>& out);
  Error decrypt_and_hash(const uint8_t* in, size_t len, uint8_t* out);
  bool ensure_ephemeral();
  bool our_turn() const { return (step_ % 2 == 0) == initiator_; }

  bool initiator_;
  int step_ = 0;                     // messages processed so far (0..3)
  uint8_t ck_[kHashLength];
  uint8_t h_[kHashLength];
  CipherState cs_;
  crypto::Sha256 hasher_;
  uint8_t s_secret_[kKeyLength], s_public_[kKeyLength];
  uint8_t e_secret_[kKeyLength], e_public_[kKeyLength];
  bool have_e_ = false;
  uint8_t re_[kKeyLength] = {}, rs_[kKeyLength] = {};
};

}  // namespace l2n::noise
