// Noise CipherState over l2n::crypto::Aead (OpenSSL ChaCha20-Poly1305, one reused context).
#include "l2n/noise.h"

namespace l2n::noise {
namespace {

// Noise §12.3 (ChaChaPoly): 32 bits of zeros followed by the 64-bit little-endian counter.
inline void make_nonce(uint64_t n, uint8_t out[crypto::kAeadNonceLength]) {
  out[0] = out[1] = out[2] = out[3] = 0;
  for (int i = 0; i < 8; i++) out[4 + i] = static_cast<uint8_t>(n >> (8 * i));
}

// Noise §5.1: nonce 2^64 - 1 is reserved; a CipherState that reaches it must not be used.
constexpr uint64_t kLastNonce = UINT64_MAX;

}  // namespace

CipherState::CipherState(const uint8_t key[kKeyLength]) { initialize_key(key); }

void CipherState::initialize_key(const uint8_t key[kKeyLength]) {
  if (!aead_.set_key(key)) aead_ = crypto::Aead();
  n_ = 0;
}

Error CipherState::encrypt_with_ad(const uint8_t* ad, size_t ad_len, const uint8_t* in, size_t len,
                                   uint8_t* out) {
  if (!aead_.has_key()) return Error::kUnexpectedMessage;
  if (len > kMaxPlaintextLength) return Error::kMessageTooLong;
  if (n_ == kLastNonce) return Error::kNonceExhausted;
  uint8_t nonce[crypto::kAeadNonceLength];
  make_nonce(n_, nonce);
  if (!aead_.seal(nonce, ad, ad_len, in, len, out)) return Error::kDecryptFailed;  // OpenSSL failure
  n_++;
  return Error::kNone;
}

Error CipherState::decrypt_with_ad(const uint8_t* ad, size_t ad_len, const uint8_t* in, size_t len,
                                   uint8_t* out) {
  if (!aead_.has_key()) return Error::kUnexpectedMessage;
  if (len < kTagLength) return Error::kMessageTooShort;
  if (len > kMaxMessageLength) return Error::kMessageTooLong;
  if (n_ == kLastNonce) return Error::kNonceExhausted;
  uint8_t nonce[crypto::kAeadNonceLength];
  make_nonce(n_, nonce);
  if (!aead_.open(nonce, ad, ad_len, in, len, out)) return Error::kDecryptFailed;
  n_++;
  return Error::kNone;
}

Error CipherState::encrypt_frame(const uint8_t* in, size_t len, uint8_t* out) {
  if (len > kMaxPlaintextLength) return Error::kMessageTooLong;
  Error e = encrypt_with_ad(nullptr, 0, in, len, out + kLengthPrefixLength);
  if (e != Error::kNone) return e;
  size_t n = len + kTagLength;
  out[0] = static_cast<uint8_t>(n >> 8);
  out[1] = static_cast<uint8_t>(n);
  return Error::kNone;
}

}  // namespace l2n::noise
