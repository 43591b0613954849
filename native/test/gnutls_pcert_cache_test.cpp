// core/tls/gnutls_pcert_cache.cpp: our gnutls_pcert_import_x509_raw must give what GnuTLS's gives.
// In this executable a plain call of that name reaches ours (the executable's definition
// interposes on every library, libgnutls's own call included), so GnuTLS's is looked up with
// dlvsym in libgnutls, and the cases compare the two: the first import of a certificate (GnuTLS's,
// remembered), a second one (rebuilt from the cache: same DER, same key, same key usage, and the
// key verifies and rejects signatures as GnuTLS's does), a certificate one byte different, keys
// that are not ECDSA, PEM input and the switch (forwarded), and two libp2p TLS handshakes with the
// same certificates, the second answered from the cache.
#include <dlfcn.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <openssl/x509.h>

#include "core/tls/gnutls_fast_ops.h"
#include "core/tls/gnutls_pcert_cache.h"
#include "tls_helpers.h"

using namespace l2n_test;
namespace pc = l2n::tls::pcert_cache;
namespace fo = l2n::tls::fast_ops;

namespace {

using ImportFn = int (*)(gnutls_pcert_st*, const gnutls_datum_t*, gnutls_x509_crt_fmt_t, unsigned int);

ImportFn gnutls_import() {
  static ImportFn f = [] {
    void* h = dlopen("libgnutls.so.30", RTLD_NOW | RTLD_NOLOAD);
    CHECK(h != nullptr);
    auto fn = reinterpret_cast<ImportFn>(dlvsym(h, "gnutls_pcert_import_x509_raw", "GNUTLS_3_4"));
    CHECK(fn != nullptr && fn != &gnutls_pcert_import_x509_raw);
    return fn;
  }();
  return f;
}

struct Enable {  // scoped override of LIBP2P_NATIVE_GNUTLS_NETTLE
  explicit Enable(int mode) { fo::set_enabled_for_test(mode); }
  ~Enable() { fo::set_enabled_for_test(-1); }
};

struct Pcert {  // a gnutls_pcert_st freed on every exit, failed CHECKs included
  gnutls_pcert_st p{};
  bool set = false;
  ~Pcert() {
    if (set) gnutls_pcert_deinit(&p);
  }
};

int import_ours(Pcert& out, const std::vector<uint8_t>& der, gnutls_x509_crt_fmt_t fmt = GNUTLS_X509_FMT_DER) {
  gnutls_datum_t d{const_cast<uint8_t*>(der.data()), static_cast<unsigned>(der.size())};
  int rc = gnutls_pcert_import_x509_raw(&out.p, &d, fmt, 0);
  out.set = rc == 0;
  return rc;
}
int import_gnutls(Pcert& out, const std::vector<uint8_t>& der, gnutls_x509_crt_fmt_t fmt = GNUTLS_X509_FMT_DER) {
  gnutls_datum_t d{const_cast<uint8_t*>(der.data()), static_cast<unsigned>(der.size())};
  int rc = gnutls_import()(&out.p, &d, fmt, 0);
  out.set = rc == 0;
  return rc;
}

std::vector<uint8_t> bytes(const gnutls_datum_t& d) { return {d.data, d.data + d.size}; }

// Both pcerts describe the same certificate and key.
void check_same(const gnutls_pcert_st& a, const gnutls_pcert_st& b) {
  CHECK_EQ(a.type, b.type);
  CHECK(bytes(a.cert) == bytes(b.cert));
  unsigned abits = 0, bbits = 0;
  CHECK_EQ(gnutls_pubkey_get_pk_algorithm(a.pubkey, &abits), gnutls_pubkey_get_pk_algorithm(b.pubkey, &bbits));
  CHECK_EQ(abits, bbits);
  unsigned au = 0, bu = 0;
  CHECK(gnutls_pubkey_get_key_usage(a.pubkey, &au) >= 0 && gnutls_pubkey_get_key_usage(b.pubkey, &bu) >= 0);
  CHECK_EQ(au, bu);
  gnutls_datum_t ea{}, eb{};
  CHECK(gnutls_pubkey_export2(a.pubkey, GNUTLS_X509_FMT_DER, &ea) >= 0);
  CHECK(gnutls_pubkey_export2(b.pubkey, GNUTLS_X509_FMT_DER, &eb) >= 0);
  bool same = bytes(ea) == bytes(eb);
  gnutls_free(ea.data);
  gnutls_free(eb.data);
  CHECK(same);
}

// Imports `der` through ours and through GnuTLS's; both must succeed and describe the same thing.
void import_matches_gnutls(const std::vector<uint8_t>& der, gnutls_x509_crt_fmt_t fmt = GNUTLS_X509_FMT_DER) {
  Pcert ours, theirs;
  CHECK_EQ(import_ours(ours, der, fmt), 0);
  CHECK_EQ(import_gnutls(theirs, der, fmt), 0);
  check_same(ours.p, theirs.p);
}

// A self-signed certificate for a fresh OpenSSL key ("EC" P-256, "RSA" or "ED25519"), with the key.
struct X509Cert {
  std::shared_ptr<EVP_PKEY> key;
  std::vector<uint8_t> der;
  std::string pem;
};
X509Cert make_x509(const char* type, bool key_usage) {
  X509Cert c;
  EVP_PKEY* k = std::string(type) == "EC" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")
                : std::string(type) == "RSA" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})
                                             : EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  CHECK(k != nullptr);
  c.key.reset(k, EVP_PKEY_free);
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, k);
  if (key_usage) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, nullptr, NID_key_usage, "critical,digitalSignature");
    CHECK(ext != nullptr);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  CHECK(X509_sign(x, k, std::string(type) == "ED25519" ? nullptr : EVP_sha256()) > 0);
  int n = i2d_X509(x, nullptr);
  c.der.resize(static_cast<size_t>(n));
  uint8_t* p = c.der.data();
  i2d_X509(x, &p);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, x);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  c.pem.assign(data, static_cast<size_t>(len));
  BIO_free(bio);
  X509_free(x);
  return c;
}

int verify(gnutls_pubkey_t key, const std::vector<uint8_t>& msg, const std::vector<uint8_t>& sig) {
  gnutls_datum_t m{const_cast<uint8_t*>(msg.data()), static_cast<unsigned>(msg.size())};
  gnutls_datum_t s{const_cast<uint8_t*>(sig.data()), static_cast<unsigned>(sig.size())};
  return gnutls_pubkey_verify_data2(key, GNUTLS_SIGN_ECDSA_SHA256, 0, &m, &s);
}

}  // namespace

TEST(second_import_is_rebuilt_from_the_cache_and_matches_gnutls) {
  Enable on(1);
  for (bool usage : {false, true}) {
    X509Cert c = make_x509("EC", usage);
    auto s0 = pc::stats();
    Pcert first, second, theirs;
    CHECK_EQ(import_ours(first, c.der), 0);
    auto s1 = pc::stats();
    CHECK_EQ(s1.imports - s0.imports, uint64_t{1});
    CHECK_EQ(s1.hits, s0.hits);
    CHECK_EQ(import_ours(second, c.der), 0);
    auto s2 = pc::stats();
    CHECK_EQ(s2.hits - s1.hits, uint64_t{1});
    CHECK_EQ(s2.imports, s1.imports);
    CHECK_EQ(import_gnutls(theirs, c.der), 0);
    check_same(second.p, theirs.p);
    check_same(first.p, theirs.p);
    CHECK(second.p.cert.data != c.der.data());  // its own copy: GnuTLS frees it
    // The rebuilt key verifies what GnuTLS's key verifies, and rejects what it rejects.
    std::vector<uint8_t> msg = {'l', 'i', 'b', 'p', '2', 'p'};
    auto sig = evp_sign(c.key.get(), EVP_sha256(), false, msg);
    CHECK(verify(second.p.pubkey, msg, sig) >= 0);
    CHECK(verify(theirs.p.pubkey, msg, sig) >= 0);
    msg[0] ^= 1;
    CHECK(verify(second.p.pubkey, msg, sig) < 0);
    CHECK(verify(theirs.p.pubkey, msg, sig) < 0);
  }
}

TEST(a_certificate_one_byte_different_is_imported_again) {
  Enable on(1);
  X509Cert c = make_x509("EC", false);
  Pcert a, b, theirs;
  CHECK_EQ(import_ours(a, c.der), 0);
  std::vector<uint8_t> other = c.der;
  other.back() ^= 0x01;  // inside the signature: still a well-formed certificate
  auto before = pc::stats();
  CHECK_EQ(import_ours(b, other), 0);
  auto after = pc::stats();
  CHECK_EQ(after.hits, before.hits);
  CHECK_EQ(after.imports - before.imports, uint64_t{1});
  CHECK_EQ(import_gnutls(theirs, other), 0);
  check_same(b.p, theirs.p);
}

TEST(other_keys_pem_and_bad_input_are_gnutls_own_results) {
  Enable on(1);
  for (const char* type : {"RSA", "ED25519"}) {
    X509Cert c = make_x509(type, false);
    for (int i = 0; i < 2; i++) {
      auto before = pc::stats();
      import_matches_gnutls(c.der);
      auto after = pc::stats();
      CHECK_EQ(after.forwarded - before.forwarded, uint64_t{1});
      CHECK_EQ(after.hits, before.hits);
    }
  }
  X509Cert ec = make_x509("EC", false);
  std::vector<uint8_t> pem(ec.pem.begin(), ec.pem.end());
  for (int i = 0; i < 2; i++) {
    auto before = pc::stats();
    import_matches_gnutls(pem, GNUTLS_X509_FMT_PEM);
    CHECK_EQ(pc::stats().forwarded - before.forwarded, uint64_t{1});
  }
  // Not a certificate, truncated, oversized: GnuTLS's error, never a cached answer.
  std::vector<uint8_t> junk(100, 0x30), cut(ec.der.begin(), ec.der.begin() + 40), big(pc::kMaxDer + 1, 0x30);
  for (const auto* input : {&junk, &cut, &big}) {
    Pcert ours, theirs;
    int rc = import_ours(ours, *input);
    CHECK(rc < 0);
    CHECK_EQ(rc, import_gnutls(theirs, *input));
  }
}

TEST(switch_off_forwards_every_import) {
  X509Cert c = make_x509("EC", false);
  {
    Enable on(1);
    Pcert warm;
    CHECK_EQ(import_ours(warm, c.der), 0);  // known to the cache now
  }
  Enable off(0);
  auto before = pc::stats();
  import_matches_gnutls(c.der);
  auto after = pc::stats();
  CHECK_EQ(after.hits, before.hits);
  CHECK_EQ(after.forwarded - before.forwarded, uint64_t{1});
}


TEST(a_reconnect_imports_both_certificates_from_the_cache) {
  Enable on(1);
  HostKey ck = HostKey::make(1), sk = HostKey::make(1);
  auto ccert = make_cert(ck), scert = make_cert(sk);
  auto s0 = pc::stats();
  handshake_in_memory(ck, sk, ccert, scert);
  auto s1 = pc::stats();
  CHECK_EQ(s1.imports - s0.imports, uint64_t{2});  // each side imported the other's, once
  handshake_in_memory(ck, sk, ccert, scert);
  auto s2 = pc::stats();
  CHECK_EQ(s2.hits - s1.hits, uint64_t{2});
  CHECK_EQ(s2.imports, s1.imports);
  // A host with a new certificate is a new entry, and the handshake still completes.
  auto scert2 = make_cert(sk);
  handshake_in_memory(ck, sk, ccert, scert2);
  auto s3 = pc::stats();
  CHECK_EQ(s3.imports - s2.imports, uint64_t{1});
  CHECK_EQ(s3.hits - s2.hits, uint64_t{1});
}

TEST_MAIN()
