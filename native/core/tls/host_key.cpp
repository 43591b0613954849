// Host-key signatures and PeerIds for the libp2p TLS extension (keys.proto, peer-ids spec).
// Every key type goes through OpenSSL's EVP interface: Ed25519 (raw 32-byte key), ECDSA (PKIX
// SubjectPublicKeyInfo, SHA-256, DER signature), secp256k1 (33-byte compressed point, SHA-256,
// DER signature) and RSA (PKIX SPKI, PKCS#1 v1.5 with SHA-256).
//
// NOTE: l2n/identity.h (another module, same contract) was not in the tree when this was written;
// when it lands, verify_host_signature and peer_id_from_public_key should forward to it and this
// file should shrink to those two forwarding functions.
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <memory>

#include "l2n/tls.h"

namespace l2n::tls {
namespace {

enum KeyType : uint64_t { kRsa = 0, kEd25519 = 1, kSecp256k1 = 2, kEcdsa = 3 };
// A keys.proto PublicKey is two fields; anything longer than an RSA-8192 SPKI plus headers is junk.
constexpr size_t kMaxKeyProtobufLength = 2048;
// Identity multihash is used for keys whose protobuf is at most 42 bytes (peer-ids spec).
constexpr size_t kMaxInlineKeyLength = 42;

bool read_varint(const uint8_t*& p, const uint8_t* end, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && p < end; shift += 7) {
    uint8_t b = *p++;
    v |= uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) return !(shift == 63 && b > 1);
  }
  return false;
}

// Strict decode of PublicKey { required KeyType Type = 1; required bytes Data = 2; }.
bool decode_public_key(const uint8_t* pb, size_t len, uint64_t& type, const uint8_t*& data,
                       size_t& data_len) {
  if (len > kMaxKeyProtobufLength) return false;
  const uint8_t* p = pb;
  const uint8_t* end = pb + len;
  bool have_type = false, have_data = false;
  while (p < end) {
    uint64_t key;
    if (!read_varint(p, end, key)) return false;
    if (key == 0x08 && !have_type) {
      if (!read_varint(p, end, type)) return false;
      have_type = true;
    } else if (key == 0x12 && !have_data) {
      uint64_t n;
      if (!read_varint(p, end, n) || n > static_cast<uint64_t>(end - p)) return false;
      data = p; data_len = static_cast<size_t>(n); p += n;
      have_data = true;
    } else {
      return false;  // unknown or repeated field
    }
  }
  return have_type && have_data;
}

struct PkeyFree { void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); } };
struct MdCtxFree { void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); } };
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

Pkey secp256k1_key(const uint8_t* point, size_t len) {
  if (len != 33 || (point[0] != 2 && point[0] != 3)) return nullptr;
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  if (!bld) return nullptr;
  OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "secp256k1", 0);
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, len);
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  OSSL_PARAM_BLD_free(bld);
  if (!params) return nullptr;
  EVP_PKEY* key = nullptr;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  if (ctx && EVP_PKEY_fromdata_init(ctx) == 1)
    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  return Pkey(key);
}

Pkey spki_key(const uint8_t* der, size_t len, int want_id) {
  const uint8_t* p = der;
  Pkey key(d2i_PUBKEY(nullptr, &p, static_cast<long>(len)));
  if (!key || p != der + len || EVP_PKEY_get_base_id(key.get()) != want_id) return nullptr;
  return key;
}

}  // namespace

Error verify_host_signature(const uint8_t* key_pb, size_t key_len, const uint8_t* msg,
                            size_t msg_len, const uint8_t* sig, size_t sig_len) {
  uint64_t type = 0;
  const uint8_t* data = nullptr;
  size_t data_len = 0;
  if (!decode_public_key(key_pb, key_len, type, data, data_len)) return Error::kBadExtension;
  Pkey key;
  const EVP_MD* md = EVP_sha256();
  switch (type) {
    case kEd25519:
      if (data_len != 32) return Error::kBadExtension;
      key.reset(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, data, data_len));
      md = nullptr;  // pure Ed25519 signs the message itself
      break;
    case kEcdsa: key = spki_key(data, data_len, EVP_PKEY_EC); break;
    case kSecp256k1: key = secp256k1_key(data, data_len); break;
    case kRsa: {
      key = spki_key(data, data_len, EVP_PKEY_RSA);
      if (!key) return Error::kBadExtension;
      int bits = EVP_PKEY_get_bits(key.get());
      if (bits < static_cast<int>(kMinRsaBits) || bits > static_cast<int>(kMaxRsaBits))
        return Error::kUnsupportedKeyType;
      break;
    }
    default: return Error::kUnsupportedKeyType;
  }
  if (!key) return Error::kBadExtension;
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx) return Error::kInternal;
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, key.get()) != 1)
    return Error::kBadHostSignature;
  if (type == kRsa && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
    return Error::kInternal;
  int ok = EVP_DigestVerify(ctx.get(), sig, sig_len, msg, msg_len);
  return ok == 1 ? Error::kNone : Error::kBadHostSignature;
}

std::vector<uint8_t> peer_id_from_public_key(const uint8_t* key_pb, size_t len) {
  std::vector<uint8_t> out;
  if (len <= kMaxInlineKeyLength) {
    out.reserve(2 + len);
    out.push_back(0x00);  // identity multihash
    out.push_back(static_cast<uint8_t>(len));
    out.insert(out.end(), key_pb, key_pb + len);
  } else {
    out.resize(2 + SHA256_DIGEST_LENGTH);
    out[0] = 0x12;  // sha2-256
    out[1] = SHA256_DIGEST_LENGTH;
    SHA256(key_pb, len, out.data() + 2);
  }
  return out;
}

}  // namespace l2n::tls
