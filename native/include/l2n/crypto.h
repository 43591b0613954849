// Cryptographic primitives for the engines: ChaCha20-Poly1305, SHA-256, HMAC-SHA256 and the Noise
// HKDF from OpenSSL; X25519 and Ed25519 from libsodium. Each library is used where it measured
// faster on this machine (bench/native/crypto_bench.c, figures in bench/native/README.md).
//
// Nothing here throws, reads a clock or does I/O. Functions that can fail return bool (false:
// the operation failed and the output must not be used). Secret material held by these objects
// is wiped when they are destroyed.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

namespace l2n::crypto {

inline constexpr size_t kAeadKeyLength = 32;    // RFC 8439 §2.8: 256-bit key
inline constexpr size_t kAeadNonceLength = 12;  // RFC 8439 §2.8: 96-bit nonce
inline constexpr size_t kAeadTagLength = 16;    // RFC 8439 §2.8: 128-bit Poly1305 tag
// OpenSSL's EVP update functions take an int length; one AEAD call never exceeds this.
inline constexpr size_t kAeadMaxInputLength = 0x7fffffff;
inline constexpr size_t kSha256Length = 32;          // FIPS 180-4
inline constexpr size_t kSha256BlockLength = 64;     // FIPS 180-4 (HMAC pads keys to this)
inline constexpr size_t kX25519KeyLength = 32;       // RFC 7748 §5
inline constexpr size_t kEd25519PublicKeyLength = 32;  // RFC 8032 §5.1.5
inline constexpr size_t kEd25519SignatureLength = 64;  // RFC 8032 §5.1.6

// ChaCha20-Poly1305 (RFC 8439) with a fixed key. One OpenSSL EVP_CIPHER_CTX is created by
// set_key() and reused for every seal/open: no allocation per message. `out` may equal `in`
// (in place); otherwise the buffers must not overlap. Move-only.
class Aead {
 public:
  Aead();
  ~Aead();
  Aead(Aead&&) noexcept;
  Aead& operator=(Aead&&) noexcept;
  Aead(const Aead&) = delete;
  Aead& operator=(const Aead&) = delete;

  // false when OpenSSL cannot create the context (out of memory): has_key() stays false.
  bool set_key(const uint8_t key[kAeadKeyLength]);
  bool has_key() const { return ctx_ != nullptr; }
  // Writes len + kAeadTagLength bytes to out. false: no key, len too large or OpenSSL failure.
  bool seal(const uint8_t nonce[kAeadNonceLength], const uint8_t* ad, size_t ad_len,
            const uint8_t* in, size_t len, uint8_t* out);
  // `in` holds ciphertext || tag (len >= kAeadTagLength); writes len - kAeadTagLength bytes.
  // false: authentication failed (or no key / bad length); `out` then holds garbage.
  bool open(const uint8_t nonce[kAeadNonceLength], const uint8_t* ad, size_t ad_len,
            const uint8_t* in, size_t len, uint8_t* out);

 private:
  struct CtxFree { void operator()(void* p) const; };
  std::unique_ptr<void, CtxFree> ctx_;  // EVP_CIPHER_CTX*, opaque here so callers need no OpenSSL headers
};

// Incremental SHA-256 over one reusable EVP_MD_CTX (allocated once, at construction).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void reset();
  void update(const uint8_t* data, size_t len);
  void finish(uint8_t out[kSha256Length]);  // then reset() before reuse
  bool ok() const { return ctx_ != nullptr && !failed_; }  // false: allocation or OpenSSL failure

 private:
  struct CtxFree { void operator()(void* p) const; };
  std::unique_ptr<void, CtxFree> ctx_;  // EVP_MD_CTX*
  bool failed_ = false;
};

bool sha256(const uint8_t* data, size_t len, uint8_t out[kSha256Length]);
// HMAC-SHA256 (RFC 2104) built on SHA-256; any key length.
bool hmac_sha256(const uint8_t* key, size_t key_len, const uint8_t* data, size_t len,
                 uint8_t out[kSha256Length]);
// Noise HKDF (Noise spec §4.3, HASHLEN = 32): temp = HMAC(ck, ikm); out1 = HMAC(temp, 0x01);
// out2 = HMAC(temp, out1 || 0x02); out3 (when non-null) = HMAC(temp, out2 || 0x03).
bool noise_hkdf(const uint8_t chaining_key[kSha256Length], const uint8_t* ikm, size_t ikm_len,
                uint8_t out1[kSha256Length], uint8_t out2[kSha256Length],
                uint8_t* out3 /* nullable, kSha256Length bytes */);

// X25519 (RFC 7748). false when the result is all zeros (a low-order public key): the Noise
// spec allows rejecting it and we do.
bool x25519(uint8_t shared[kX25519KeyLength], const uint8_t secret[kX25519KeyLength],
            const uint8_t their_public[kX25519KeyLength]);
bool x25519_public_key(uint8_t public_key[kX25519KeyLength], const uint8_t secret[kX25519KeyLength]);
// A fresh random key pair (libsodium's CSPRNG).
bool x25519_keypair(uint8_t secret[kX25519KeyLength], uint8_t public_key[kX25519KeyLength]);

// Ed25519 (RFC 8032) signature check: true only for a valid signature.
bool ed25519_verify(const uint8_t public_key[kEd25519PublicKeyLength], const uint8_t* msg,
                    size_t msg_len, const uint8_t sig[kEd25519SignatureLength]);

void random_bytes(uint8_t* out, size_t len);
void secure_zero(void* p, size_t len);
// Constant-time comparison of equal-length buffers.
bool equal_ct(const uint8_t* a, const uint8_t* b, size_t len);

}  // namespace l2n::crypto
