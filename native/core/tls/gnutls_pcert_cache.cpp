// Peer certificates imported without an X.509 parse when seen before.
//
// Why. For every handshake, GnuTLS turns each certificate the peer sends into a gnutls_pcert_st
// (its DER and its public key) through gnutls_pcert_import_x509_raw: gnutls_x509_crt_init builds
// libtasn1's whole Certificate tree (a malloc and a strcmp lookup per node), the DER is decoded
// into it, re-encoded, and the key is read out. In the QUIC connect bench that is ~9% of each I/O
// thread's time, ~50 us per handshake per side (perf record --call-graph dwarf over
// `bash bench/perf/setup-cpu.sh quic`), half of it on the dialer's critical path. A libp2p host
// reuses one certificate for all its connections (the spec allows it; we, go-libp2p and
// rust-libp2p do), so the same bytes come back on every reconnect.
//
// What. The import's result is a function of the certificate's bytes alone. For an ECDSA key (the
// spec's P-256, and any other named curve), the first import goes to GnuTLS and we keep the curve,
// the point and the key-usage bits, keyed by the full DER (compared in full, DerLru). A later
// import of the same bytes builds the same gnutls_pcert_st from them: a copy of the DER (what
// GnuTLS keeps for gnutls_certificate_get_peers), a public key from gnutls_pubkey_import_ecc_raw
// with the same key usage. Everything the handshake does with the key still happens on every
// handshake: the point is checked on the curve when GnuTLS verifies with it, the CertificateVerify
// signature is verified, and our verify callback still checks the certificate (its own cache,
// core/quic/cert_cache.h, re-checks the validity period and the expected PeerId). Other key types
// (RSA, EdDSA), PEM input and non-zero flags always go to GnuTLS.
//
// Binding. libgnutls.so.30 calls its own exported gnutls_pcert_import_x509_raw through its PLT
// (`objdump -d libgnutls.so.30 | grep 'call.*gnutls_pcert_import_x509_raw@plt'`: one call site,
// the peer's Certificate message), so the lookup that finds our nettle functions first finds this
// one too (gnutls_fast_ops.cpp); test/native/gnutls-fast-ops.test.ts checks the binding in Node.
#include "core/tls/gnutls_pcert_cache.h"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <array>
#include <atomic>
#include <cstring>
#include <mutex>

#include "core/tls/der_lru.h"
#include "core/tls/gnutls_fast_ops.h"

extern "C" {
__attribute__((visibility("default"))) int gnutls_pcert_import_x509_raw(gnutls_pcert_st* pcert,
                                                                         const gnutls_datum_t* cert,
                                                                         gnutls_x509_crt_fmt_t format,
                                                                         unsigned int flags);
}

namespace l2n::tls::pcert_cache {
namespace {

// libgnutls's soname and the symbol version of gnutls_pcert_import_x509_raw (GnuTLS 3.4 on;
// Debian 12: 3.7.9), as in `nm -D libgnutls.so.30`.
constexpr const char* kGnutlsSoname = "libgnutls.so.30";
constexpr const char* kGnutlsVersion = "GNUTLS_3_4";
// A coordinate as gnutls_pubkey_export_ecc_raw2 gives it (flags 0: it may add a leading zero):
// 66 bytes for P-521, the largest curve GnuTLS has, plus that zero.
constexpr size_t kMaxCoordinate = 67;

using ImportFn = int (*)(gnutls_pcert_st*, const gnutls_datum_t*, gnutls_x509_crt_fmt_t, unsigned int);

struct EcKey {
  gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
  std::array<uint8_t, kMaxCoordinate> x{}, y{};
  unsigned x_len = 0, y_len = 0;
  unsigned key_usage = 0;
};

struct Cache {
  std::mutex mu;  // the I/O threads share it; held only for a lookup or an insert (no GnuTLS call)
  DerLru<EcKey> keys{kMaxEntries, kMaxDer};
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: an I/O thread may still import during exit
  return *c;
}

ImportFn real_import() {
  static const ImportFn f = reinterpret_cast<ImportFn>(fast_ops::library_symbol(
      kGnutlsSoname, kGnutlsVersion, "gnutls_pcert_import_x509_raw",
      reinterpret_cast<const void*>(&gnutls_pcert_import_x509_raw)));
  return f;
}

std::atomic<uint64_t> g_hits{0}, g_imports{0}, g_forwarded{0};

// The key of a certificate GnuTLS just imported, if we can rebuild it: ECDSA on a named curve.
bool read_key(const gnutls_pcert_st& p, EcKey& k) {
  if (gnutls_pubkey_get_pk_algorithm(p.pubkey, nullptr) != GNUTLS_PK_ECDSA) return false;
  gnutls_datum_t x{}, y{};
  if (gnutls_pubkey_export_ecc_raw2(p.pubkey, &k.curve, &x, &y, 0) < 0) return false;
  bool ok = x.size <= kMaxCoordinate && y.size <= kMaxCoordinate &&
            gnutls_pubkey_get_key_usage(p.pubkey, &k.key_usage) >= 0;
  if (ok) {
    std::memcpy(k.x.data(), x.data, x.size);
    std::memcpy(k.y.data(), y.data, y.size);
    k.x_len = x.size;
    k.y_len = y.size;
  }
  gnutls_free(x.data);
  gnutls_free(y.data);
  return ok;
}

// What GnuTLS's import gives for `der` whose key is `k`; false (pcert left zeroed) on any failure.
bool rebuild(gnutls_pcert_st* pcert, const gnutls_datum_t& der, const EcKey& k) {
  gnutls_pubkey_t key = nullptr;
  if (gnutls_pubkey_init(&key) < 0) return false;
  gnutls_datum_t x{const_cast<uint8_t*>(k.x.data()), k.x_len}, y{const_cast<uint8_t*>(k.y.data()), k.y_len};
  auto* copy = static_cast<unsigned char*>(gnutls_malloc(der.size));  // GnuTLS frees it (gnutls_pcert_deinit)
  if (copy == nullptr || gnutls_pubkey_import_ecc_raw(key, k.curve, &x, &y) < 0 ||
      gnutls_pubkey_set_key_usage(key, k.key_usage) < 0) {
    gnutls_free(copy);
    gnutls_pubkey_deinit(key);
    return false;
  }
  std::memcpy(copy, der.data, der.size);
  pcert->pubkey = key;
  pcert->cert = gnutls_datum_t{copy, der.size};
  pcert->type = GNUTLS_CRT_X509;
  return true;
}

}  // namespace

Stats stats() {
  return {g_hits.load(std::memory_order_relaxed), g_imports.load(std::memory_order_relaxed),
          g_forwarded.load(std::memory_order_relaxed)};
}

}  // namespace l2n::tls::pcert_cache

using namespace l2n::tls::pcert_cache;

extern "C" int gnutls_pcert_import_x509_raw(gnutls_pcert_st* pcert, const gnutls_datum_t* cert,
                                            gnutls_x509_crt_fmt_t format, unsigned int flags) {
  const bool cacheable = l2n::tls::fast_ops::enabled() && pcert != nullptr && cert != nullptr &&
                         cert->data != nullptr && format == GNUTLS_X509_FMT_DER && flags == 0 &&
                         cert->size > 0 && cert->size <= kMaxDer;
  if (cacheable) {
    EcKey key;
    bool hit = false;
    {
      std::lock_guard<std::mutex> lock(cache().mu);
      if (const EcKey* k = cache().keys.find(cert->data, cert->size)) {
        key = *k;
        hit = true;
      }
    }
    std::memset(pcert, 0, sizeof *pcert);
    if (hit && rebuild(pcert, *cert, key)) {
      g_hits.fetch_add(1, std::memory_order_relaxed);
      return 0;
    }
  }
  ImportFn real = real_import();
  if (real == nullptr) return GNUTLS_E_INTERNAL_ERROR;  // no GnuTLS definition: fail closed
  int rc = real(pcert, cert, format, flags);
  EcKey key;
  if (cacheable && rc == 0 && read_key(*pcert, key)) {
    std::lock_guard<std::mutex> lock(cache().mu);
    cache().keys.insert(cert->data, cert->size, key);
    g_imports.fetch_add(1, std::memory_order_relaxed);
  } else {
    g_forwarded.fetch_add(1, std::memory_order_relaxed);
  }
  return rc;
}
