// SHA-256, HMAC-SHA256 and the Noise HKDF over OpenSSL (OpenSSL's SHA-256 measured faster than
// libsodium's on this machine: bench/native/README.md). HMAC is composed from SHA-256 as RFC 2104
// defines it, so that one reusable digest context serves the whole HKDF.
#include "l2n/crypto.h"

#include <cstring>

#include <openssl/err.h>
#include <openssl/evp.h>

namespace l2n::crypto {
namespace {

const EVP_MD* sha256_md() {
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

EVP_MD_CTX* as_ctx(void* p) { return static_cast<EVP_MD_CTX*>(p); }

}  // namespace

void Sha256::CtxFree::operator()(void* p) const { EVP_MD_CTX_free(as_ctx(p)); }

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) { reset(); }
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::reset() {
  failed_ = ctx_ == nullptr || sha256_md() == nullptr ||
            EVP_DigestInit_ex2(as_ctx(ctx_.get()), sha256_md(), nullptr) != 1;
  if (failed_) ERR_clear_error();
}

void Sha256::update(const uint8_t* data, size_t len) {
  if (failed_ || len == 0) return;
  if (EVP_DigestUpdate(as_ctx(ctx_.get()), data, len) != 1) {
    failed_ = true;
    ERR_clear_error();
  }
}

void Sha256::finish(uint8_t out[kSha256Length]) {
  unsigned int n = 0;
  if (failed_ || EVP_DigestFinal_ex(as_ctx(ctx_.get()), out, &n) != 1 || n != kSha256Length) {
    failed_ = true;
    ERR_clear_error();
    std::memset(out, 0, kSha256Length);
  }
}

bool sha256(const uint8_t* data, size_t len, uint8_t out[kSha256Length]) {
  Sha256 h;
  h.update(data, len);
  h.finish(out);
  return h.ok();
}

namespace {

// HMAC with a caller-provided digest context (RFC 2104: H((K ^ opad) || H((K ^ ipad) || m))).
bool hmac_with(Sha256& h, const uint8_t* key, size_t key_len, const uint8_t* d1, size_t l1,
               const uint8_t* d2, size_t l2, uint8_t out[kSha256Length]) {
  uint8_t k0[kSha256BlockLength] = {};
  if (key_len > kSha256BlockLength) {
    h.reset();
    h.update(key, key_len);
    h.finish(k0);
  } else if (key_len > 0) {
    std::memcpy(k0, key, key_len);
  }
  uint8_t pad[kSha256BlockLength];
  uint8_t inner[kSha256Length];
  for (size_t i = 0; i < kSha256BlockLength; i++) pad[i] = k0[i] ^ 0x36;
  h.reset();
  h.update(pad, sizeof pad);
  h.update(d1, l1);
  h.update(d2, l2);
  h.finish(inner);
  for (size_t i = 0; i < kSha256BlockLength; i++) pad[i] = k0[i] ^ 0x5c;
  h.reset();
  h.update(pad, sizeof pad);
  h.update(inner, sizeof inner);
  h.finish(out);
  secure_zero(k0, sizeof k0);
  secure_zero(pad, sizeof pad);
  secure_zero(inner, sizeof inner);
  return h.ok();
}

}  // namespace

bool hmac_sha256(const uint8_t* key, size_t key_len, const uint8_t* data, size_t len,
                 uint8_t out[kSha256Length]) {
  Sha256 h;
  return hmac_with(h, key, key_len, data, len, nullptr, 0, out);
}

bool noise_hkdf(const uint8_t chaining_key[kSha256Length], const uint8_t* ikm, size_t ikm_len,
                uint8_t out1[kSha256Length], uint8_t out2[kSha256Length], uint8_t* out3) {
  Sha256 h;
  uint8_t temp[kSha256Length], o1[kSha256Length], o2[kSha256Length], o3[kSha256Length];
  const uint8_t one = 1, two = 2, three = 3;
  bool ok = hmac_with(h, chaining_key, kSha256Length, ikm, ikm_len, nullptr, 0, temp) &&
            hmac_with(h, temp, sizeof temp, &one, 1, nullptr, 0, o1) &&
            hmac_with(h, temp, sizeof temp, o1, sizeof o1, &two, 1, o2) &&
            (out3 == nullptr || hmac_with(h, temp, sizeof temp, o2, sizeof o2, &three, 1, o3));
  // Outputs are written last: callers pass their own chaining key as out1 (ck, k = HKDF(ck, ...)).
  if (ok) {
    std::memcpy(out1, o1, kSha256Length);
    std::memcpy(out2, o2, kSha256Length);
    if (out3 != nullptr) std::memcpy(out3, o3, kSha256Length);
  }
  secure_zero(temp, sizeof temp);
  secure_zero(o1, sizeof o1);
  secure_zero(o2, sizeof o2);
  secure_zero(o3, sizeof o3);
  return ok;
}

}  // namespace l2n::crypto
