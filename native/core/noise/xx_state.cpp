// Noise_XX_25519_ChaChaPoly_SHA256: SymmetricState (§5.2) and HandshakeState (§5.3) specialised to
// the XX pattern (§7.5), written from the Noise spec:
//   -> e
//   <- e, ee, s, es
//   -> s, se
#include "core/noise/xx_state.h"

#include <cstring>

namespace l2n::noise {

static_assert(sizeof(kProtocolName) - 1 == kHashLength, "protocol name is used as h unhashed");

XXState::XXState(bool initiator, const uint8_t* prologue, size_t prologue_len,
                 const uint8_t static_secret[kKeyLength], const uint8_t static_public[kKeyLength])
    : initiator_(initiator) {
  // InitializeSymmetric: a name of exactly HASHLEN bytes is used as h directly; ck = h.
  std::memcpy(h_, kProtocolName, kHashLength);
  std::memcpy(ck_, h_, kHashLength);
  mix_hash(prologue, prologue_len);
  std::memcpy(s_secret_, static_secret, kKeyLength);
  std::memcpy(s_public_, static_public, kKeyLength);
}

XXState::~XXState() {
  crypto::secure_zero(ck_, sizeof ck_);
  crypto::secure_zero(s_secret_, sizeof s_secret_);
  crypto::secure_zero(e_secret_, sizeof e_secret_);
}

void XXState::set_ephemeral_for_test(const uint8_t secret[kKeyLength]) {
  std::memcpy(e_secret_, secret, kKeyLength);
  have_e_ = crypto::x25519_public_key(e_public_, e_secret_);
}

bool XXState::ensure_ephemeral() {
  if (!have_e_) have_e_ = crypto::x25519_keypair(e_secret_, e_public_);
  return have_e_;
}

void XXState::mix_hash(const uint8_t* data, size_t len) {
  hasher_.reset();
  hasher_.update(h_, kHashLength);
  hasher_.update(data, len);
  hasher_.finish(h_);
}

bool XXState::mix_key(const uint8_t* ikm, size_t len) {
  uint8_t temp_k[kHashLength];
  bool ok = crypto::noise_hkdf(ck_, ikm, len, ck_, temp_k, nullptr);
  if (ok) cs_.initialize_key(temp_k);
  crypto::secure_zero(temp_k, sizeof temp_k);
  return ok && cs_.has_key();
}

bool XXState::dh_mix(const uint8_t* secret, const uint8_t* pub) {
  uint8_t shared[crypto::kX25519KeyLength];
  bool ok = crypto::x25519(shared, secret, pub) && mix_key(shared, sizeof shared);
  crypto::secure_zero(shared, sizeof shared);
  return ok;
}

Error XXState::encrypt_and_hash(const uint8_t* in, size_t len, std::vector<uint8_t>& out) {
  size_t at = out.size();
  if (!cs_.has_key()) {  // before the first DH: plaintext, still hashed
    out.insert(out.end(), in, in + len);
  } else {
    out.resize(at + len + kTagLength);
    Error e = cs_.encrypt_with_ad(h_, kHashLength, in, len, out.data() + at);
    if (e != Error::kNone) return e;
  }
  mix_hash(out.data() + at, out.size() - at);
  return Error::kNone;
}

Error XXState::decrypt_and_hash(const uint8_t* in, size_t len, uint8_t* out) {
  if (!cs_.has_key()) {
    if (len > 0) std::memmove(out, in, len);
    mix_hash(in, len);
    return Error::kNone;
  }
  uint8_t h[kHashLength];
  std::memcpy(h, h_, kHashLength);
  mix_hash(in, len);  // h covers the ciphertext; hash before decrypting in case out aliases in
  return cs_.decrypt_with_ad(h, kHashLength, in, len, out);
}

Error XXState::write_message(const uint8_t* payload, size_t len, std::vector<uint8_t>& out) {
  if (step_ >= 3 || !our_turn()) return Error::kUnexpectedMessage;
  size_t overhead = step_ == 0 ? kKeyLength
                  : step_ == 1 ? kKeyLength + kEncryptedKeyLength + kTagLength
                               : kEncryptedKeyLength + kTagLength;
  if (len > kMaxMessageLength - overhead) return Error::kMessageTooLong;
  const size_t start = out.size();
  Error e = Error::kNone;
  if (step_ == 0 || step_ == 1) {  // e
    if (!ensure_ephemeral()) return Error::kBadKey;
    out.insert(out.end(), e_public_, e_public_ + kKeyLength);
    mix_hash(e_public_, kKeyLength);
  }
  if (step_ == 1) {
    if (!dh_mix(e_secret_, re_)) e = Error::kBadKey;                         // ee
    if (e == Error::kNone) e = encrypt_and_hash(s_public_, kKeyLength, out);   // s
    if (e == Error::kNone && !dh_mix(s_secret_, re_)) e = Error::kBadKey;    // es (responder)
  } else if (step_ == 2) {
    e = encrypt_and_hash(s_public_, kKeyLength, out);                          // s
    if (e == Error::kNone && !dh_mix(s_secret_, re_)) e = Error::kBadKey;    // se (initiator)
  }
  if (e == Error::kNone) e = encrypt_and_hash(payload, len, out);
  if (e != Error::kNone) {
    out.resize(start);
    return e;
  }
  step_++;
  return Error::kNone;
}

Error XXState::read_message(const uint8_t* msg, size_t len, std::vector<uint8_t>& payload) {
  if (step_ >= 3 || our_turn()) return Error::kUnexpectedMessage;
  if (len > kMaxMessageLength) return Error::kMessageTooLong;
  size_t need = step_ == 0 ? kKeyLength
              : step_ == 1 ? kKeyLength + kEncryptedKeyLength + kTagLength
                           : kEncryptedKeyLength + kTagLength;
  if (len < need) return Error::kMessageTooShort;
  const uint8_t* p = msg;
  const uint8_t* end = msg + len;
  if (step_ == 0 || step_ == 1) {  // e
    std::memcpy(re_, p, kKeyLength);
    mix_hash(re_, kKeyLength);
    p += kKeyLength;
  }
  if (step_ == 1) {
    if (!dh_mix(e_secret_, re_)) return Error::kBadKey;                        // ee
    Error e = decrypt_and_hash(p, kEncryptedKeyLength, rs_);                   // s
    if (e != Error::kNone) return e;
    p += kEncryptedKeyLength;
    if (!dh_mix(e_secret_, rs_)) return Error::kBadKey;                        // es (initiator)
  } else if (step_ == 2) {
    Error e = decrypt_and_hash(p, kEncryptedKeyLength, rs_);                   // s
    if (e != Error::kNone) return e;
    p += kEncryptedKeyLength;
    if (!dh_mix(e_secret_, rs_)) return Error::kBadKey;                        // se (responder)
  }
  size_t rest = static_cast<size_t>(end - p);
  payload.resize(cs_.has_key() ? rest - kTagLength : rest);  // rest >= kTagLength: checked by `need`
  Error e = decrypt_and_hash(p, rest, payload.data());
  if (e != Error::kNone) return e;
  step_++;
  return Error::kNone;
}

bool XXState::split(CipherState& c1, CipherState& c2) {
  if (!complete()) return false;
  uint8_t k1[kHashLength], k2[kHashLength];
  bool ok = crypto::noise_hkdf(ck_, nullptr, 0, k1, k2, nullptr);
  if (ok) {
    c1.initialize_key(k1);
    c2.initialize_key(k2);
  }
  crypto::secure_zero(k1, sizeof k1);
  crypto::secure_zero(k2, sizeof k2);
  return ok && c1.has_key() && c2.has_key();
}

}  // namespace l2n::noise
