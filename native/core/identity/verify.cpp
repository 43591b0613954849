// Signature verification per key type (peer-ids spec, "How Keys are Encoded and Messages Signed").
// Ed25519 through libsodium (measured faster: bench/native/README.md); secp256k1, ECDSA and RSA
// through OpenSSL 3's EVP interface. Keys are built from bytes the remote sent, so every decoder
// call is checked for trailing bytes and every OpenSSL failure path clears the thread's error queue
// (the I/O thread shares it with the rest of the addon).
#include <cstring>
#include <memory>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "l2n/crypto.h"
#include "l2n/identity.h"

namespace l2n::identity {
namespace {

struct PkeyFree { void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); } };
struct PkeyCtxFree { void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); } };
struct MdCtxFree { void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); } };
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

// Clears OpenSSL's per-thread error queue on every exit from a verification.
struct ErrGuard { ~ErrGuard() { ERR_clear_error(); } };

// DER SubjectPublicKeyInfo, with no bytes after it.
Pkey parse_spki(const uint8_t* data, size_t len) {
  if (len == 0 || len > kMaxKeyDataLength) return nullptr;
  const unsigned char* p = data;
  Pkey key(d2i_PUBKEY(nullptr, &p, static_cast<long>(len)));
  if (key && p != data + len) key.reset();
  return key;
}

Pkey parse_secp256k1(const uint8_t* data, size_t len) {
  // Compressed SEC1 only (the encoding go-libp2p and rust-libp2p emit): one encoding per key
  // keeps one PeerId per key.
  if (len != kSecp256k1KeyLength || (data[0] != 0x02 && data[0] != 0x03)) return nullptr;
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return nullptr;
  char group[] = "secp256k1";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<uint8_t*>(data), len),
      OSSL_PARAM_construct_end(),
  };
  // Decoding the point checks that it lies on the curve (a compressed x without a square root fails).
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) != 1) return nullptr;
  return Pkey(raw);
}

// ECDSA keys: the NIST curves go-libp2p and js-libp2p generate (P-256, P-384, P-521), named only.
bool ecdsa_curve_allowed(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC") != 1) return false;
  char name[64];
  size_t n = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &n) != 1)
    return false;  // explicit curve parameters
  return std::strcmp(name, "prime256v1") == 0 || std::strcmp(name, "secp384r1") == 0 ||
         std::strcmp(name, "secp521r1") == 0;
}

bool rsa_allowed(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "RSA") != 1) return false;  // not RSA-PSS-restricted keys either
  int bits = EVP_PKEY_get_bits(key);
  return bits >= kMinRsaBits && bits <= kMaxRsaBits;
}

// SHA-256 then the key's scheme: ECDSA with a DER signature, or RSASSA-PKCS1-v1_5 (EVP default).
Error verify_sha256(EVP_PKEY* key, const uint8_t* msg, size_t msg_len, const uint8_t* sig,
                    size_t sig_len) {
  if (sig_len == 0 || sig_len > kMaxSignatureLength) return Error::kBadSignature;
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> md(EVP_MD_CTX_new());
  if (!md || EVP_DigestVerifyInit_ex(md.get(), nullptr, "SHA256", nullptr, nullptr, key, nullptr) != 1)
    return Error::kBadKey;
  // 1: valid; 0: invalid; negative: malformed signature. OpenSSL's ECDSA rejects DER that does not
  // re-encode to the same bytes, so a signature has one accepted encoding.
  return EVP_DigestVerify(md.get(), sig, sig_len, msg, msg_len) == 1 ? Error::kNone
                                                                     : Error::kBadSignature;
}

}  // namespace

Error verify_key(const PublicKey& key, const uint8_t* msg, size_t msg_len, const uint8_t* sig,
                 size_t sig_len) {
  if (key.data == nullptr && key.len != 0) return Error::kBadKey;
  if (msg == nullptr && msg_len != 0) return Error::kBadSignature;
  if (sig == nullptr && sig_len != 0) return Error::kBadSignature;
  switch (key.type) {
    case KeyType::kEd25519:
      if (key.len != kEd25519KeyLength) return Error::kBadKey;
      if (sig_len != kEd25519SignatureLength) return Error::kBadSignature;
      return crypto::ed25519_verify(key.data, msg, msg_len, sig) ? Error::kNone : Error::kBadSignature;
    case KeyType::kSecp256k1: {
      ErrGuard guard;
      Pkey pkey = parse_secp256k1(key.data, key.len);
      if (!pkey) return Error::kBadKey;
      return verify_sha256(pkey.get(), msg, msg_len, sig, sig_len);
    }
    case KeyType::kECDSA: {
      ErrGuard guard;
      Pkey pkey = parse_spki(key.data, key.len);
      if (!pkey || !ecdsa_curve_allowed(pkey.get())) return Error::kBadKey;
      return verify_sha256(pkey.get(), msg, msg_len, sig, sig_len);
    }
    case KeyType::kRSA: {
      ErrGuard guard;
      Pkey pkey = parse_spki(key.data, key.len);
      if (!pkey || !rsa_allowed(pkey.get())) return Error::kBadKey;
      return verify_sha256(pkey.get(), msg, msg_len, sig, sig_len);
    }
  }
  return Error::kBadKey;
}

}  // namespace l2n::identity
