// Faster public-key operations for GnuTLS, by symbol interposition.
//
// Why. A QUIC handshake's critical path is mostly nettle's curve arithmetic, run by GnuTLS:
// X25519 key generation and Diffie-Hellman on each side, and the P-256 verification of the peer's
// CertificateVerify on each side (docs/design/native-core.md, QUIC section: setup trace). GnuTLS
// 3.7 has no hook for these operations (its crypto-backend registration covers ciphers, MACs and
// digests, not public keys), and nettle is slower here than what we already link: one core,
// nettle_ecdsa_verify (P-256) 133 us against OpenSSL's ECDSA_do_verify 58 us (62 us with the
// key built as below), nettle_curve25519_mul 57 us against libsodium's crypto_scalarmult 30 us,
// nettle_curve25519_mul_g 27 us against 16 us for libsodium's Ed25519 fixed-base multiplication
// plus the birational map to Montgomery u (below).
//
// Mechanism. libgnutls.so.30 calls nettle through the dynamic linker: its undefined symbols
// include nettle_ecdsa_verify@HOGWEED_6, nettle_curve25519_mul@HOGWEED_6 and
// nettle_curve25519_mul_g@HOGWEED_6. Node dlopen()s this addon (RTLD_LAZY, local), and libgnutls
// is loaded as its dependency in the same group, so libgnutls's symbol lookup scope is the global
// scope (node and its libraries, none of which define these names) followed by the group's local
// scope, which starts with the addon itself, before libhogweed. This file defines the three
// functions with default visibility and C linkage, so they are in the addon's dynamic symbol table
// (hidden-visibility default and LTO do not remove them; `nm -D libp2p_native.node | grep nettle_`
// shows them) and the lookup finds ours first. glibc accepts an unversioned definition for a
// versioned reference (the definition has version index 1, "global"), so no version script is
// needed. Our code reaches the real nettle through dlvsym() on libhogweed's handle.
// In the native test executables (static l2n_core) the same definitions, once linked, are in the
// executable, which interposes on every library's calls: tests that mean real nettle call it
// through dlvsym() as well (native/test/gnutls_fast_ops_test.cpp).
//
// Limits. If libgnutls was already loaded by another object before this addon (another addon, an
// LD_PRELOAD), its lookup scope may not contain the addon and it keeps calling nettle: correct,
// only slower (stats() shows it: the counters stay at zero). Everything else in nettle (P-384,
// signing, key generation other than X25519) is untouched.
//
// Semantics (each must give nettle's exact result, and native/test/gnutls_fast_ops_test.cpp
// compares ours with the real functions):
// - nettle_ecdsa_verify: only for pub->ecc == nettle_get_secp_256r1(); every other curve is
//   forwarded. nettle rejects r or s outside [1, n-1], truncates the digest to the leftmost
//   ceil(256/8) = 32 bytes and reads it big-endian; OpenSSL's ECDSA_do_verify does the same (range
//   check, leftmost bits of the order's bit length, which for 256 bits is 32 bytes). We reject
//   r, s <= 0 or wider than 256 bits before OpenSSL (it cannot hold negative values here) and pass
//   at most 32 digest bytes. The public point comes from nettle_ecc_point_get (nettle checked it
//   on the curve when GnuTLS set it); OpenSSL's EC_POINT_oct2point checks it again. If any OpenSSL
//   setup step fails, nettle decides. OpenSSL's error queue is restored (ERR_set_mark /
//   ERR_pop_to_mark): this may run on the JS thread, whose queue Node's crypto shares.
//   No EC_KEY cache: building the key costs ~4 us of the 62 (point decode, on-curve check), and
//   nothing in ECDSA_do_verify is precomputed per key.
// - nettle_curve25519_mul (RFC 7748 X25519: clamps the scalar, ignores bit 255 of the point,
//   reduces non-canonical coordinates, writes the x coordinate, all-zero for points of small
//   order) and libsodium's crypto_scalarmult agree except that libsodium refuses small-order
//   points (returns -1, output unwritten) and returns -1 for an all-zero result. On -1 we call the
//   real nettle, which writes its own (all-zero) output; GnuTLS then rejects the all-zero secret
//   itself (lib/nettle/pk.c checks it after curve25519_mul), as it did before.
// - nettle_curve25519_mul_g: u(clamp(n) * B) where B is the base point. Computed as the Edwards
//   point clamp(n) * B' (libsodium's constant-time fixed-base multiplication,
//   crypto_scalarmult_ed25519_base_noclamp, our clamping) mapped to Montgomery u = (1 + y) / (1 - y)
//   mod 2^255 - 19 (RFC 7748 section 4.1). The map uses GMP on the public result only (the scalar
//   never reaches it), so its variable time leaks nothing secret. If libsodium refuses (identity
//   result; impossible for a clamped scalar, which is not a multiple of the group order), nettle
//   computes it.
// Follows nothing in STYLE.md's anchors directly; it is the LD_PRELOAD-style interposition that
// glibc documents, confined to three functions with a switch (LIBP2P_NATIVE_GNUTLS_NETTLE=1).
#define OPENSSL_SUPPRESS_DEPRECATED
#include "core/tls/gnutls_fast_ops.h"

#include "l2n/crypto.h"

#include <dlfcn.h>
#include <gmp.h>
#include <nettle/curve25519.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecc.h>
#include <nettle/ecdsa.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

namespace l2n::tls::fast_ops {
namespace {

// libhogweed's soname and symbol version for nettle 3.6 to 3.10 (Debian 12: nettle 3.8.1), the
// version libgnutls.so.30's references carry (`nm -D --undefined-only libgnutls.so.30`).
constexpr const char* kHogweedSoname = "libhogweed.so.6";
constexpr const char* kHogweedVersion = "HOGWEED_6";
// P-256: order and field elements are 256 bits, 32 bytes (SEC 2, section 2.4.2).
constexpr size_t kP256Bytes = 32;
constexpr size_t kP256Bits = 256;
// X25519 scalars, points and results are 32 bytes (RFC 7748 section 5).
constexpr size_t kX25519Bytes = 32;

using EcdsaVerifyFn = int (*)(const struct ecc_point*, size_t, const uint8_t*, const struct dsa_signature*);
using MulFn = void (*)(uint8_t*, const uint8_t*, const uint8_t*);
using MulGFn = void (*)(uint8_t*, const uint8_t*);

// The real nettle functions (never ours: checked), libsodium initialised, the P-256 group and
// 2^255 - 19 built once. Thread-safe (function-local static).
struct State {
  EcdsaVerifyFn ecdsa_verify = nullptr;
  MulFn mul = nullptr;
  MulGFn mul_g = nullptr;
  bool sodium = false;
  EC_GROUP* p256 = nullptr;  // shared read-only: EC_KEY_set_group copies it
  mpz_t p25519;              // 2^255 - 19, read-only after construction
  bool env_enabled = true;
};

void* real_symbol(const char* name, const void* ours) {
  return library_symbol(kHogweedSoname, kHogweedVersion, name, ours);
}

}  // namespace

void* library_symbol(const char* soname, const char* version, const char* name, const void* ours) {
  void* sym = nullptr;
  if (void* h = dlopen(soname, RTLD_LAZY | RTLD_NOLOAD)) {
    sym = dlvsym(h, name, version);
    dlclose(h);  // only drops the reference RTLD_NOLOAD took: the library stays (we link it)
  }
  if (sym == nullptr) sym = dlvsym(RTLD_NEXT, name, version);
  if (sym == nullptr) sym = dlsym(RTLD_NEXT, name);
  return sym == ours ? nullptr : sym;
}

}  // namespace l2n::tls::fast_ops

extern "C" {
__attribute__((visibility("default"))) int nettle_ecdsa_verify(const struct ecc_point* pub, size_t length,
                                                                const uint8_t* digest,
                                                                const struct dsa_signature* signature);
__attribute__((visibility("default"))) void nettle_curve25519_mul(uint8_t* q, const uint8_t* n, const uint8_t* p);
__attribute__((visibility("default"))) void nettle_curve25519_mul_g(uint8_t* q, const uint8_t* n);
}

namespace l2n::tls::fast_ops {
namespace {

const State& state() {
  static const State* s = [] {
    auto* st = new State();  // lives for the process: the interposed functions may run at any time
    st->ecdsa_verify = reinterpret_cast<EcdsaVerifyFn>(
        real_symbol("nettle_ecdsa_verify", reinterpret_cast<const void*>(&nettle_ecdsa_verify)));
    st->mul = reinterpret_cast<MulFn>(
        real_symbol("nettle_curve25519_mul", reinterpret_cast<const void*>(&nettle_curve25519_mul)));
    st->mul_g = reinterpret_cast<MulGFn>(
        real_symbol("nettle_curve25519_mul_g", reinterpret_cast<const void*>(&nettle_curve25519_mul_g)));
    st->sodium = sodium_init() >= 0;
    st->p256 = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    mpz_init_set_ui(st->p25519, 1);
    mpz_mul_2exp(st->p25519, st->p25519, 255);
    mpz_sub_ui(st->p25519, st->p25519, 19);
    const char* v = std::getenv(kUseNettleEnv);
    st->env_enabled = !(v != nullptr && std::strcmp(v, "1") == 0);
    return st;
  }();
  return *s;
}

std::atomic<int> g_override{-1};
std::atomic<uint64_t> g_p256_openssl{0}, g_ecdsa_nettle{0}, g_x25519_sodium{0}, g_x25519_nettle{0};

// |v| as 32 big-endian bytes; v must be in [0, 2^256).
void export32(const mpz_t v, uint8_t out[kP256Bytes]) {
  std::memset(out, 0, kP256Bytes);
  size_t len = (mpz_sizeinbase(v, 2) + 7) / 8;
  size_t count = 0;
  mpz_export(out + (kP256Bytes - len), &count, 1, 1, 1, 0, v);
}

// 1 valid, 0 invalid, -1 OpenSSL could not be set up (then nettle decides).
int p256_verify_openssl(const State& st, const struct ecc_point* pub, size_t length, const uint8_t* digest,
                        const struct dsa_signature* sig) {
  if (mpz_sgn(sig->r) <= 0 || mpz_sgn(sig->s) <= 0) return 0;
  if (mpz_sizeinbase(sig->r, 2) > kP256Bits || mpz_sizeinbase(sig->s, 2) > kP256Bits) return 0;
  uint8_t r[kP256Bytes], s[kP256Bytes], point[1 + 2 * kP256Bytes];
  export32(sig->r, r);
  export32(sig->s, s);
  mpz_t x, y;
  mpz_init(x);
  mpz_init(y);
  nettle_ecc_point_get(pub, x, y);
  bool coords_ok = mpz_sizeinbase(x, 2) <= kP256Bits && mpz_sizeinbase(y, 2) <= kP256Bits;
  if (coords_ok) {
    point[0] = 0x04;  // uncompressed (SEC 1, 2.3.3)
    export32(x, point + 1);
    export32(y, point + 1 + kP256Bytes);
  }
  mpz_clear(x);
  mpz_clear(y);
  if (!coords_ok || st.p256 == nullptr) return -1;

  ERR_set_mark();
  int result = -1;
  // The shared group is only copied (EC_KEY_set_group); everything after uses the key's own copy,
  // so concurrent I/O threads share nothing they write.
  EC_KEY* key = EC_KEY_new();
  const EC_GROUP* group = key != nullptr && EC_KEY_set_group(key, st.p256) == 1 ? EC_KEY_get0_group(key) : nullptr;
  EC_POINT* q = group != nullptr ? EC_POINT_new(group) : nullptr;
  ECDSA_SIG* es = ECDSA_SIG_new();
  BIGNUM* br = BN_bin2bn(r, kP256Bytes, nullptr);
  BIGNUM* bs = BN_bin2bn(s, kP256Bytes, nullptr);
  if (q && es && br && bs && EC_POINT_oct2point(group, q, point, sizeof point, nullptr) == 1 &&
      EC_KEY_set_public_key(key, q) == 1 && ECDSA_SIG_set0(es, br, bs) == 1) {
    br = bs = nullptr;  // owned by es now
    // Only the leftmost 32 bytes count (both libraries truncate to the order's bit length).
    int dlen = static_cast<int>(std::min(length, kP256Bytes));
    int v = ECDSA_do_verify(digest, dlen, es, key);
    result = v == 1 ? 1 : v == 0 ? 0 : -1;
  }
  BN_free(br);
  BN_free(bs);
  ECDSA_SIG_free(es);
  EC_POINT_free(q);
  EC_KEY_free(key);
  ERR_pop_to_mark();
  return result;
}

// u = (1 + y) / (1 - y) mod p from a compressed Edwards25519 point (y little-endian, bit 255 the
// sign of x, ignored). False if 1 - y = 0 (the identity).
bool edwards_to_montgomery_u(const State& st, const uint8_t ed[kX25519Bytes], uint8_t u[kX25519Bytes]) {
  uint8_t yb[kX25519Bytes];
  std::memcpy(yb, ed, kX25519Bytes);
  yb[kX25519Bytes - 1] &= 0x7f;
  mpz_t y, num, den;
  mpz_init(y);
  mpz_init(num);
  mpz_init(den);
  mpz_import(y, kX25519Bytes, -1, 1, 0, 0, yb);
  mpz_add_ui(num, y, 1);
  mpz_ui_sub(den, 1, y);
  mpz_mod(den, den, st.p25519);
  bool ok = mpz_invert(den, den, st.p25519) != 0;
  if (ok) {
    mpz_mul(num, num, den);
    mpz_mod(num, num, st.p25519);
    std::memset(u, 0, kX25519Bytes);
    size_t count = 0;
    mpz_export(u, &count, -1, 1, 0, 0, num);
  }
  mpz_clear(y);
  mpz_clear(num);
  mpz_clear(den);
  return ok;
}

}  // namespace

bool enabled() {
  int o = g_override.load(std::memory_order_relaxed);
  return o >= 0 ? o == 1 : state().env_enabled;
}

void set_enabled_for_test(int mode) { g_override.store(mode, std::memory_order_relaxed); }

Stats stats() {
  return {g_p256_openssl.load(std::memory_order_relaxed), g_ecdsa_nettle.load(std::memory_order_relaxed),
          g_x25519_sodium.load(std::memory_order_relaxed), g_x25519_nettle.load(std::memory_order_relaxed)};
}

}  // namespace l2n::tls::fast_ops

using namespace l2n::tls::fast_ops;

extern "C" int nettle_ecdsa_verify(const struct ecc_point* pub, size_t length, const uint8_t* digest,
                                   const struct dsa_signature* signature) {
  const State& st = state();
  if (enabled() && pub->ecc == nettle_get_secp_256r1() && length > 0) {
    int r = p256_verify_openssl(st, pub, length, digest, signature);
    if (r >= 0) {
      g_p256_openssl.fetch_add(1, std::memory_order_relaxed);
      return r;
    }
  }
  g_ecdsa_nettle.fetch_add(1, std::memory_order_relaxed);
  return st.ecdsa_verify != nullptr ? st.ecdsa_verify(pub, length, digest, signature) : 0;  // no nettle: fail closed
}

extern "C" void nettle_curve25519_mul(uint8_t* q, const uint8_t* n, const uint8_t* p) {
  const State& st = state();
  uint8_t point[kX25519Bytes];  // q may alias p: keep the input for the fallback
  std::memcpy(point, p, kX25519Bytes);
  // l2n::crypto::x25519 is libsodium's crypto_scalarmult: false for the points it refuses.
  if (enabled() && l2n::crypto::x25519(q, n, point)) {
    g_x25519_sodium.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  g_x25519_nettle.fetch_add(1, std::memory_order_relaxed);
  if (st.mul != nullptr) {
    st.mul(q, n, point);
  } else {
    std::memset(q, 0, kX25519Bytes);  // no nettle: the result nettle gives for the points libsodium refuses
  }
}

extern "C" void nettle_curve25519_mul_g(uint8_t* q, const uint8_t* n) {
  const State& st = state();
  if (enabled() && st.sodium) {
    uint8_t scalar[kX25519Bytes], ed[kX25519Bytes];
    std::memcpy(scalar, n, kX25519Bytes);
    scalar[0] &= 248;  // clamping, RFC 7748 section 5 (decodeScalar25519)
    scalar[31] &= 127;
    scalar[31] |= 64;
    bool ok = crypto_scalarmult_ed25519_base_noclamp(ed, scalar) == 0;
    sodium_memzero(scalar, sizeof scalar);
    if (ok && edwards_to_montgomery_u(st, ed, q)) {
      g_x25519_sodium.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  g_x25519_nettle.fetch_add(1, std::memory_order_relaxed);
  if (st.mul_g != nullptr) {
    st.mul_g(q, n);
  } else {
    std::memset(q, 0, kX25519Bytes);  // unreachable with a working libsodium or nettle
  }
}
