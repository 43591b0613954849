// Our libp2p certificate (ephemeral ECDSA P-256, self-signed, with the libp2p extension) and the
// verification of a peer's certificate (libp2p/specs tls/tls.md, "Peer Authentication").
// GnuTLS parses the certificate and checks its self-signature; the SignedKey extension and the
// raw TBSCertificate/SPKI bytes are read by our bounded DER reader (der.h, fuzzed).
// ECDSA_sign_setup / ECDSA_do_sign_ex (NonceSigner) have no EVP equivalent in OpenSSL 3: the
// EVP API cannot take a nonce prepared ahead of the message.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/obj_mac.h>
#include <openssl/sha.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>

#include "core/tls/der.h"
#include "core/tls/gnutls_glue.h"

namespace l2n::tls {
namespace {

// Extensions we may see marked critical and understand well enough to accept: the libp2p one,
// and keyUsage / basicConstraints / extKeyUsage, which X.509 libraries (Go's, rcgen) add and
// mark critical by default and which restrict only how a CA-less self-signed key is used.
bool understood_critical(const char* oid) {
  return std::strcmp(oid, kExtensionOid.data()) == 0 || std::strcmp(oid, "2.5.29.15") == 0 ||
         std::strcmp(oid, "2.5.29.19") == 0 || std::strcmp(oid, "2.5.29.37") == 0;
}

// Hashes shorter than 256 bits must not be used (spec); EdDSA has no separate hash.
bool strong_signature(gnutls_sign_algorithm_t algo) {
  if (algo == GNUTLS_SIGN_EDDSA_ED25519 || algo == GNUTLS_SIGN_EDDSA_ED448) return true;
  gnutls_digest_algorithm_t h = gnutls_sign_get_hash_algorithm(algo);
  return h == GNUTLS_DIG_SHA256 || h == GNUTLS_DIG_SHA384 || h == GNUTLS_DIG_SHA512 ||
         h == GNUTLS_DIG_SHA3_256 || h == GNUTLS_DIG_SHA3_384 || h == GNUTLS_DIG_SHA3_512;
}

void put_length(std::vector<uint8_t>& out, size_t n) {
  if (n < 0x80) { out.push_back(static_cast<uint8_t>(n)); return; }
  uint8_t tmp[sizeof(size_t)];
  size_t k = 0;
  for (size_t v = n; v; v >>= 8) tmp[k++] = static_cast<uint8_t>(v);
  out.push_back(static_cast<uint8_t>(0x80 | k));
  while (k) out.push_back(tmp[--k]);
}

struct CrtGuard {
  gnutls_x509_crt_t crt = nullptr;
  ~CrtGuard() { if (crt) gnutls_x509_crt_deinit(crt); }
};
struct PubGuard {
  gnutls_pubkey_t key = nullptr;
  ~PubGuard() { if (key) gnutls_pubkey_deinit(key); }
};

}  // namespace

const char* error_name(Error e) {
  switch (e) {
    case Error::kNone: return "none";
    case Error::kBadCertificate: return "bad certificate";
    case Error::kChainLength: return "certificate chain length is not 1";
    case Error::kNotYetValid: return "certificate not yet valid";
    case Error::kExpired: return "certificate expired";
    case Error::kBadSelfSignature: return "bad certificate self-signature";
    case Error::kWeakSignatureAlgorithm: return "weak certificate signature algorithm";
    case Error::kUniqueIdPresent: return "certificate has a unique id";
    case Error::kUnknownCriticalExtension: return "unknown critical extension";
    case Error::kMissingExtension: return "missing libp2p extension";
    case Error::kBadExtension: return "bad libp2p extension";
    case Error::kUnsupportedKeyType: return "unsupported host key type";
    case Error::kBadHostSignature: return "bad host key signature";
    case Error::kPeerIdMismatch: return "peer id mismatch";
    case Error::kInternal: return "internal error";
  }
  return "unknown";
}

Error parse_signed_key(const uint8_t* data, size_t len, SignedKey& out) {
  if (len > kMaxExtensionLength) return Error::kBadExtension;
  der::Reader top(data, len);
  der::Tlv seq, key, sig;
  if (!top.expect(der::kSequence, seq) || !top.empty()) return Error::kBadExtension;
  der::Reader r(seq.value, seq.len);
  if (!r.expect(der::kOctetString, key) || !r.expect(der::kOctetString, sig) || !r.empty())
    return Error::kBadExtension;
  if (key.len == 0 || sig.len == 0) return Error::kBadExtension;
  out.public_key = key.value; out.public_key_len = key.len;
  out.signature = sig.value; out.signature_len = sig.len;
  return Error::kNone;
}

std::vector<uint8_t> encode_signed_key(const uint8_t* key, size_t key_len, const uint8_t* sig,
                                       size_t sig_len) {
  std::vector<uint8_t> body;
  body.push_back(der::kOctetString); put_length(body, key_len); body.insert(body.end(), key, key + key_len);
  body.push_back(der::kOctetString); put_length(body, sig_len); body.insert(body.end(), sig, sig + sig_len);
  std::vector<uint8_t> out;
  out.push_back(der::kSequence); put_length(out, body.size());
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Error verify_certificate(const uint8_t* data, size_t len, int64_t now, const uint8_t* expected,
                         size_t expected_len, PeerIdentity& out) {
  if (len == 0 || len > kMaxCertificateLength) return Error::kBadCertificate;
  der::CertificateParts parts;
  if (!der::split_certificate(data, len, parts)) return Error::kBadCertificate;
  if (parts.has_unique_id) return Error::kUniqueIdPresent;
  CrtGuard c;
  if (gnutls_x509_crt_init(&c.crt) < 0) return Error::kInternal;
  gnutls_datum_t d{const_cast<uint8_t*>(data), static_cast<unsigned>(len)};
  if (gnutls_x509_crt_import(c.crt, &d, GNUTLS_X509_FMT_DER) < 0) return Error::kBadCertificate;

  time_t not_before = gnutls_x509_crt_get_activation_time(c.crt);
  time_t not_after = gnutls_x509_crt_get_expiration_time(c.crt);
  if (not_before == static_cast<time_t>(-1) || not_after == static_cast<time_t>(-1))
    return Error::kBadCertificate;
  if (now < static_cast<int64_t>(not_before)) return Error::kNotYetValid;
  if (now > static_cast<int64_t>(not_after)) return Error::kExpired;

  // Self-signature over the exact TBSCertificate bytes. import_x509 refuses explicit EC curve
  // parameters, so only NamedCurve keys get this far (spec: "Whose Curve Is It Anyway").
  int algo = gnutls_x509_crt_get_signature_algorithm(c.crt);
  if (algo <= 0) return Error::kBadSelfSignature;
  if (!strong_signature(static_cast<gnutls_sign_algorithm_t>(algo)))
    return Error::kWeakSignatureAlgorithm;
  // The signature algorithm inside TBSCertificate must match the outer one (RFC 5280 4.1.1.2);
  // GnuTLS reports the outer one, so compare the raw AlgorithmIdentifier bytes.
  {
    der::Reader t(parts.tbs.value, parts.tbs.len);
    der::Tlv f;
    if (t.peek() == der::context(0, true)) t.next(f);
    if (!t.expect(der::kInteger, f) || !t.expect(der::kSequence, f) ||
        f.total() != parts.signature_algorithm.total() ||
        std::memcmp(f.header, parts.signature_algorithm.header, f.total()) != 0)
      return Error::kBadSelfSignature;
  }
  if (parts.signature.len < 1 || parts.signature.value[0] != 0) return Error::kBadSelfSignature;
  PubGuard pub;
  if (gnutls_pubkey_init(&pub.key) < 0) return Error::kInternal;
  if (gnutls_pubkey_import_x509(pub.key, c.crt, 0) < 0) return Error::kBadCertificate;
  gnutls_datum_t tbs{const_cast<uint8_t*>(parts.tbs.header), static_cast<unsigned>(parts.tbs.total())};
  gnutls_datum_t sig{const_cast<uint8_t*>(parts.signature.value + 1),
                     static_cast<unsigned>(parts.signature.len - 1)};
  if (gnutls_pubkey_verify_data2(pub.key, static_cast<gnutls_sign_algorithm_t>(algo), 0, &tbs, &sig) < 0)
    return Error::kBadSelfSignature;

  // Extensions: exactly one libp2p extension; no critical extension we do not understand.
  std::vector<uint8_t> ext;
  bool found = false;
  for (unsigned idx = 0;; idx++) {
    char oid[128];
    size_t oid_size = sizeof oid;
    unsigned int critical = 0;
    int rv = gnutls_x509_crt_get_extension_info(c.crt, idx, oid, &oid_size, &critical);
    if (rv == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) break;
    if (rv < 0) return Error::kBadCertificate;
    if (critical && !understood_critical(oid)) return Error::kUnknownCriticalExtension;
    if (std::strcmp(oid, kExtensionOid.data()) != 0) continue;
    if (found) return Error::kBadExtension;  // two of them: ambiguous
    gnutls_datum_t value{};
    if (gnutls_x509_crt_get_extension_data2(c.crt, idx, &value) < 0) return Error::kBadExtension;
    ext.assign(value.data, value.data + value.size);
    gnutls_free(value.data);
    found = true;
  }
  if (!found) return Error::kMissingExtension;
  SignedKey sk;
  if (Error e = parse_signed_key(ext.data(), ext.size(), sk); e != Error::kNone) return e;

  std::vector<uint8_t> msg(kSignaturePrefix.begin(), kSignaturePrefix.end());
  msg.insert(msg.end(), parts.spki.header, parts.spki.header + parts.spki.total());
  if (Error e = verify_host_signature(sk.public_key, sk.public_key_len, msg.data(), msg.size(),
                                      sk.signature, sk.signature_len);
      e != Error::kNone)
    return e;
  std::vector<uint8_t> id = peer_id_from_public_key(sk.public_key, sk.public_key_len);
  if (expected_len && (id.size() != expected_len || std::memcmp(id.data(), expected, expected_len) != 0)) {
    out.peer_id = std::move(id);  // authentic (its signature checked out): names the peer in the error
    return Error::kPeerIdMismatch;
  }
  out.public_key.assign(sk.public_key, sk.public_key + sk.public_key_len);
  out.peer_id = std::move(id);
  return Error::kNone;
}

// ---------------------------------------------------------------------------------------------
// Our CertificateVerify signature, through OpenSSL with nonces prepared ahead.
//
// An ECDSA signature is (r, s) with r = x(k*G) mod n for a fresh secret nonce k and
// s = k^-1 (h + r*d) mod n. The scalar multiplication k*G is nearly all of its cost and does not
// depend on the message, so the I/O thread prepares (k^-1, r) pairs between handshakes and the
// handshake's signature is only the modular arithmetic that is left. Measured here (loaded
// machine, P-256): GnuTLS/nettle sign 69 us, OpenSSL sign 36 us, OpenSSL prepare 26 us + sign
// with a prepared nonce 0.4 us. Each pair is used once, then cleared (a nonce used twice, or
// known, reveals the key); pairs stay in this process's memory as the private key does. The
// signature is the same ECDSA as before (randomised nonce, SHA-256, DER): peers see no change.
// When no pair is ready the signature is made whole, still by OpenSSL.

struct NonceSigner {
  EC_KEY* key = nullptr;
  std::mutex mu;
  std::vector<std::pair<BIGNUM*, BIGNUM*>> ready;  // (k^-1, r), at most kSignNoncePool
  std::atomic<size_t> count{0};                    // ready.size(), read without the lock

  ~NonceSigner() {
    for (auto& [kinv, r] : ready) { BN_clear_free(kinv); BN_clear_free(r); }
    EC_KEY_free(key);
  }

  // The GnuTLS key's scalar and point, as an OpenSSL P-256 key.
  bool init(gnutls_x509_privkey_t gkey) {
    gnutls_ecc_curve_t curve;
    gnutls_datum_t x{}, y{}, k{};
    if (gnutls_x509_privkey_export_ecc_raw(gkey, &curve, &x, &y, &k) < 0) return false;
    BIGNUM* bx = BN_bin2bn(x.data, static_cast<int>(x.size), nullptr);
    BIGNUM* by = BN_bin2bn(y.data, static_cast<int>(y.size), nullptr);
    BIGNUM* bk = BN_bin2bn(k.data, static_cast<int>(k.size), nullptr);
    gnutls_memset(k.data, 0, k.size);
    gnutls_free(x.data);
    gnutls_free(y.data);
    gnutls_free(k.data);
    key = curve == GNUTLS_ECC_CURVE_SECP256R1 ? EC_KEY_new_by_curve_name(NID_X9_62_prime256v1) : nullptr;
    bool ok = key != nullptr && bx && by && bk && EC_KEY_set_private_key(key, bk) == 1 &&
              EC_KEY_set_public_key_affine_coordinates(key, bx, by) == 1;
    BN_free(bx);
    BN_free(by);
    BN_clear_free(bk);
    return ok;
  }

  bool prepare() {
    if (count.load(std::memory_order_relaxed) >= kSignNoncePool) return false;
    BIGNUM* kinv = nullptr;
    BIGNUM* r = nullptr;
    if (ECDSA_sign_setup(key, nullptr, &kinv, &r) != 1) return false;
    std::lock_guard<std::mutex> lock(mu);
    if (ready.size() >= kSignNoncePool) {  // another thread filled it meanwhile
      BN_clear_free(kinv);
      BN_clear_free(r);
      return false;
    }
    ready.emplace_back(kinv, r);
    count.store(ready.size(), std::memory_order_relaxed);
    return true;
  }

  // DER ECDSA-Sig-Value over a SHA-256 digest, into a gnutls_malloc'd datum (GnuTLS frees it).
  int sign_digest(const uint8_t* digest, size_t len, gnutls_datum_t* out) {
    std::pair<BIGNUM*, BIGNUM*> nonce{nullptr, nullptr};
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!ready.empty()) {
        nonce = ready.back();
        ready.pop_back();
        count.store(ready.size(), std::memory_order_relaxed);
      }
    }
    ECDSA_SIG* sig = nullptr;
    if (nonce.first != nullptr) {
      sig = ECDSA_do_sign_ex(digest, static_cast<int>(len), nonce.first, nonce.second, key);
      BN_clear_free(nonce.first);
      BN_clear_free(nonce.second);
    }
    // No nonce ready, or the rare s == 0 that needs another one: a whole signature.
    if (sig == nullptr) sig = ECDSA_do_sign(digest, static_cast<int>(len), key);
    if (sig == nullptr) return GNUTLS_E_PK_SIGN_FAILED;
    int n = i2d_ECDSA_SIG(sig, nullptr);
    out->data = n > 0 ? static_cast<unsigned char*>(gnutls_malloc(static_cast<size_t>(n))) : nullptr;
    if (out->data == nullptr) {
      ECDSA_SIG_free(sig);
      return GNUTLS_E_MEMORY_ERROR;
    }
    unsigned char* p = out->data;
    out->size = static_cast<unsigned>(i2d_ECDSA_SIG(sig, &p));
    ECDSA_SIG_free(sig);
    return 0;
  }
};

namespace {

bool p256_sha256(gnutls_sign_algorithm_t algo) {
  return algo == GNUTLS_SIGN_ECDSA_SECP256R1_SHA256 || algo == GNUTLS_SIGN_ECDSA_SHA256;
}

int signer_sign_hash(gnutls_privkey_t, gnutls_sign_algorithm_t algo, void* ud, unsigned,
                     const gnutls_datum_t* hash, gnutls_datum_t* sig) {
  if (!p256_sha256(algo) || hash->size != SHA256_DIGEST_LENGTH) return GNUTLS_E_INVALID_REQUEST;
  return static_cast<NonceSigner*>(ud)->sign_digest(hash->data, hash->size, sig);
}

int signer_sign_data(gnutls_privkey_t, gnutls_sign_algorithm_t algo, void* ud, unsigned,
                     const gnutls_datum_t* data, gnutls_datum_t* sig) {
  if (!p256_sha256(algo)) return GNUTLS_E_INVALID_REQUEST;
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(data->data, data->size, digest);
  return static_cast<NonceSigner*>(ud)->sign_digest(digest, sizeof digest, sig);
}

int signer_info(gnutls_privkey_t, unsigned flags, void*) {
  if (flags & GNUTLS_PRIVKEY_INFO_HAVE_SIGN_ALGO)
    return p256_sha256(static_cast<gnutls_sign_algorithm_t>(GNUTLS_FLAGS_TO_SIGN_ALGO(flags))) ? 1 : 0;
  if (flags & GNUTLS_PRIVKEY_INFO_PK_ALGO) return GNUTLS_PK_ECDSA;
  if (flags & GNUTLS_PRIVKEY_INFO_PK_ALGO_BITS) return 256;
  if (flags & GNUTLS_PRIVKEY_INFO_SIGN_ALGO) return GNUTLS_SIGN_ECDSA_SECP256R1_SHA256;
  return -1;
}

// Credentials with our certificate and `signer` as its key (GnuTLS owns the pcert and the
// external key it gets; `signer` must outlive the credentials).
int set_signer_credentials(gnutls_certificate_credentials_t cred, gnutls_x509_crt_t crt, NonceSigner* signer) {
  gnutls_privkey_t pk;
  int rv = gnutls_privkey_init(&pk);
  if (rv < 0) return rv;
  rv = gnutls_privkey_import_ext4(pk, signer, signer_sign_data, signer_sign_hash, nullptr, nullptr,
                                  signer_info, 0);
  if (rv < 0) {
    gnutls_privkey_deinit(pk);
    return rv;
  }
  gnutls_pcert_st pcert;
  rv = gnutls_pcert_import_x509(&pcert, crt, 0);
  if (rv < 0) {
    gnutls_privkey_deinit(pk);
    return rv;
  }
  rv = gnutls_certificate_set_key(cred, nullptr, 0, &pcert, 1, pk);
  if (rv < 0) {  // on failure the caller still owns both
    gnutls_pcert_deinit(&pcert);
    gnutls_privkey_deinit(pk);
  }
  return rv;
}

}  // namespace

bool Certificate::prepare_signature() const {
  return impl_->signer && impl_->signer->prepare();
}

// ---------------------------------------------------------------------------------------------
// Our certificate.

struct CertificateRequest::Impl {
  gnutls_x509_privkey_t key = nullptr;
  int64_t not_before = 0, not_after = 0;
  std::vector<uint8_t> spki;
  std::vector<uint8_t> message;
  ~Impl() { if (key) gnutls_x509_privkey_deinit(key); }
};

Certificate::Impl::~Impl() {
  if (cred) gnutls_certificate_free_credentials(cred);
  if (crt) gnutls_x509_crt_deinit(crt);
  if (key) gnutls_x509_privkey_deinit(key);
}
Certificate::Certificate(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Certificate::~Certificate() = default;
const std::vector<uint8_t>& Certificate::der() const { return impl_->der; }

CertificateRequest::CertificateRequest() = default;
CertificateRequest::~CertificateRequest() = default;
CertificateRequest::CertificateRequest(CertificateRequest&&) noexcept = default;
CertificateRequest& CertificateRequest::operator=(CertificateRequest&&) noexcept = default;

const std::vector<uint8_t>& CertificateRequest::message_to_sign() const {
  static const std::vector<uint8_t> empty;
  return impl_ ? impl_->message : empty;
}

Error CertificateRequest::generate(int64_t not_before, int64_t not_after) {
  auto impl = std::make_unique<Impl>();
  if (gnutls_x509_privkey_init(&impl->key) < 0) return Error::kInternal;
  if (gnutls_x509_privkey_generate(impl->key, GNUTLS_PK_ECDSA,
                                   GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0)
    return Error::kInternal;
  PubGuard pub;
  gnutls_datum_t spki{};
  if (gnutls_pubkey_init(&pub.key) < 0) return Error::kInternal;
  {
    gnutls_privkey_t pk;
    if (gnutls_privkey_init(&pk) < 0) return Error::kInternal;
    int rv = gnutls_privkey_import_x509(pk, impl->key, 0);
    if (rv >= 0) rv = gnutls_pubkey_import_privkey(pub.key, pk, 0, 0);
    gnutls_privkey_deinit(pk);
    if (rv < 0) return Error::kInternal;
  }
  if (gnutls_pubkey_export2(pub.key, GNUTLS_X509_FMT_DER, &spki) < 0) return Error::kInternal;
  impl->spki.assign(spki.data, spki.data + spki.size);
  gnutls_free(spki.data);
  impl->message.assign(kSignaturePrefix.begin(), kSignaturePrefix.end());
  impl->message.insert(impl->message.end(), impl->spki.begin(), impl->spki.end());
  impl->not_before = not_before;
  impl->not_after = not_after;
  impl_ = std::move(impl);
  return Error::kNone;
}

Error CertificateRequest::finish(const uint8_t* host_key, size_t key_len, const uint8_t* sig,
                                 size_t sig_len, std::shared_ptr<const Certificate>& out) {
  std::vector<uint8_t> ext = encode_signed_key(host_key, key_len, sig, sig_len);
  // Not critical: the spec allows either, and peers that predate the OID must still connect.
  return finish_raw(ext.data(), ext.size(), false, out);
}

Error CertificateRequest::finish_raw(const uint8_t* ext, size_t ext_len, bool critical,
                                     std::shared_ptr<const Certificate>& out) {
  if (!impl_) return Error::kInternal;
  auto c = std::make_unique<Certificate::Impl>();
  if (gnutls_x509_crt_init(&c->crt) < 0) return Error::kInternal;
  uint8_t serial[8];
  if (gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof serial) < 0) return Error::kInternal;
  serial[0] &= 0x7f;  // positive INTEGER
  serial[0] |= 0x01;  // and no leading zero byte
  if (gnutls_x509_crt_set_version(c->crt, 3) < 0 ||
      gnutls_x509_crt_set_serial(c->crt, serial, sizeof serial) < 0 ||
      gnutls_x509_crt_set_activation_time(c->crt, static_cast<time_t>(impl_->not_before)) < 0 ||
      gnutls_x509_crt_set_expiration_time(c->crt, static_cast<time_t>(impl_->not_after)) < 0 ||
      gnutls_x509_crt_set_key(c->crt, impl_->key) < 0)
    return Error::kInternal;
  if (ext && gnutls_x509_crt_set_extension_by_oid(c->crt, kExtensionOid.data(), ext, ext_len,
                                                  critical ? 1 : 0) < 0)
    return Error::kInternal;
  if (gnutls_x509_crt_sign2(c->crt, c->crt, impl_->key, GNUTLS_DIG_SHA256, 0) < 0)
    return Error::kInternal;
  gnutls_datum_t d{};
  if (gnutls_x509_crt_export2(c->crt, GNUTLS_X509_FMT_DER, &d) < 0) return Error::kInternal;
  c->der.assign(d.data, d.data + d.size);
  gnutls_free(d.data);
  // The host key signed the SPKI we exported; it must be byte for byte the one in the certificate.
  der::CertificateParts parts;
  if (!der::split_certificate(c->der.data(), c->der.size(), parts) ||
      parts.spki.total() != impl_->spki.size() ||
      std::memcmp(parts.spki.header, impl_->spki.data(), impl_->spki.size()) != 0)
    return Error::kInternal;
  c->signer = std::make_shared<NonceSigner>();
  if (!c->signer->init(impl_->key)) return Error::kInternal;
  if (gnutls_certificate_allocate_credentials(&c->cred) < 0 ||
      set_signer_credentials(c->cred, c->crt, c->signer.get()) < 0)
    return Error::kInternal;
  while (c->signer->prepare()) {}  // the first handshakes find nonces ready
  c->key = impl_->key;  // the certificate now owns the key
  impl_->key = nullptr;
  impl_.reset();
  out = std::make_shared<Certificate>(std::move(c));
  return Error::kNone;
}

// ---------------------------------------------------------------------------------------------
// Sessions.

namespace {

// The parsed priority string of one side, built on first use and kept for the process's life
// (never deinitialised: sessions only take references). gnutls_priority_set_direct parsed the
// string again for every session, ~25 us of each handshake. GnuTLS counts a cache's users
// atomically, so sessions on every I/O thread share it.
struct PriorityCache {
  gnutls_priority_t cache = nullptr;
  int rv = 0;
  explicit PriorityCache(const char* priorities) { rv = gnutls_priority_init(&cache, priorities, nullptr); }
};

int set_priorities(gnutls_session_t session, bool is_server) {
  static const PriorityCache client(kClientPriorities);  // thread-safe one-time initialisation
  static const PriorityCache server(kServerPriorities);
  const PriorityCache& p = is_server ? server : client;
  if (p.rv < 0) return p.rv;
  return gnutls_priority_set(session, p.cache);
}

}  // namespace

int configure_session(gnutls_session_t session, const Certificate& cert, bool is_server,
                      gnutls_certificate_verify_function* verify, const std::vector<std::string>& muxers) {
  int rv = set_priorities(session, is_server);
  if (rv < 0) return rv;
  rv = gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, cert.impl().cred);
  if (rv < 0) return rv;
  // The server takes the first of the client's protocols that it also has (GnuTLS's default is
  // the client's order), so a muxer both sides know wins over plain "libp2p".
  std::vector<gnutls_datum_t> alpn;
  for (const std::string& m : muxers)
    alpn.push_back({reinterpret_cast<unsigned char*>(const_cast<char*>(m.data())), static_cast<unsigned>(m.size())});
  alpn.push_back({reinterpret_cast<unsigned char*>(const_cast<char*>(kAlpn.data())), static_cast<unsigned>(kAlpn.size())});
  rv = gnutls_alpn_set_protocols(session, alpn.data(), static_cast<unsigned>(alpn.size()), GNUTLS_ALPN_MANDATORY);
  if (rv < 0) return rv;
  if (is_server) gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUIRE);
  gnutls_session_set_verify_function(session, verify);
  return 0;
}

Error verify_session_peer(gnutls_session_t session, int64_t now,
                          const std::vector<uint8_t>& expected, PeerIdentity& out) {
  unsigned n = 0;
  const gnutls_datum_t* certs = gnutls_certificate_get_peers(session, &n);
  if (!certs || n != 1) return Error::kChainLength;
  return verify_certificate(certs[0].data, certs[0].size, now, expected.data(), expected.size(), out);
}

}  // namespace l2n::tls
