// core/tls/gnutls_fast_ops.cpp: our nettle_ecdsa_verify / nettle_curve25519_mul(_g) must give the
// real nettle's exact results. In this executable a plain call of those names reaches ours (the
// executable's definitions interpose on every library), so the real ones are looked up with dlvsym
// in libhogweed, and every case compares the two. Vectors: RFC 7748 (X25519), the small-order
// points libsodium refuses, random scalars and points (including non-canonical and bit-255 set),
// P-256 signatures made by nettle with every out-of-range r and s, digests of 0 to 64 bytes, a
// P-384 key (forwarded), and a full libp2p TLS handshake that must go through ours (counters).
#include <dlfcn.h>
#include <gmp.h>
#include <nettle/curve25519.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecc.h>
#include <nettle/ecdsa.h>
#include <sodium.h>

#include <random>

#include "core/tls/gnutls_fast_ops.h"
#include "tls_helpers.h"

using namespace l2n_test;
namespace fo = l2n::tls::fast_ops;

namespace {

struct Real {
  int (*ecdsa_verify)(const struct ecc_point*, size_t, const uint8_t*, const struct dsa_signature*) = nullptr;
  void (*mul)(uint8_t*, const uint8_t*, const uint8_t*) = nullptr;
  void (*mul_g)(uint8_t*, const uint8_t*) = nullptr;
};

const Real& real() {
  static Real r = [] {
    Real x;
    void* h = dlopen("libhogweed.so.6", RTLD_NOW | RTLD_NOLOAD);
    CHECK(h != nullptr);
    x.ecdsa_verify = reinterpret_cast<decltype(x.ecdsa_verify)>(dlvsym(h, "nettle_ecdsa_verify", "HOGWEED_6"));
    x.mul = reinterpret_cast<decltype(x.mul)>(dlvsym(h, "nettle_curve25519_mul", "HOGWEED_6"));
    x.mul_g = reinterpret_cast<decltype(x.mul_g)>(dlvsym(h, "nettle_curve25519_mul_g", "HOGWEED_6"));
    CHECK(x.ecdsa_verify && x.mul && x.mul_g);
    return x;
  }();
  return r;
}

std::mt19937_64& rng() {
  static std::mt19937_64 r(20251121);
  return r;
}
void fill(uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = static_cast<uint8_t>(rng()());
}
void nettle_random(void*, size_t n, uint8_t* dst) { fill(dst, n); }

// Ours and real nettle on the same inputs; returns ours after checking they agree.
std::vector<uint8_t> x25519_both(const std::vector<uint8_t>& n, const std::vector<uint8_t>& p) {
  std::vector<uint8_t> ours(32, 0xaa), theirs(32, 0x55);
  nettle_curve25519_mul(ours.data(), n.data(), p.data());
  real().mul(theirs.data(), n.data(), p.data());
  if (ours != theirs) std::fprintf(stderr, "  n=%s p=%s ours=%s nettle=%s\n", to_hex(n).c_str(), to_hex(p).c_str(),
                                   to_hex(ours).c_str(), to_hex(theirs).c_str());
  CHECK(ours == theirs);
  return ours;
}
std::vector<uint8_t> x25519_base_both(const std::vector<uint8_t>& n) {
  std::vector<uint8_t> ours(32, 0xaa), theirs(32, 0x55);
  nettle_curve25519_mul_g(ours.data(), n.data());
  real().mul_g(theirs.data(), n.data());
  if (ours != theirs) std::fprintf(stderr, "  n=%s ours=%s nettle=%s\n", to_hex(n).c_str(), to_hex(ours).c_str(), to_hex(theirs).c_str());
  CHECK(ours == theirs);
  return ours;
}

struct Enable {  // scoped override of LIBP2P_NATIVE_GNUTLS_NETTLE
  explicit Enable(int mode) { fo::set_enabled_for_test(mode); }
  ~Enable() { fo::set_enabled_for_test(-1); }
};

}  // namespace

TEST(fast_ops_bound_in_this_executable_and_real_nettle_found) {
  CHECK(reinterpret_cast<void*>(&nettle_ecdsa_verify) != reinterpret_cast<void*>(real().ecdsa_verify));
  CHECK(reinterpret_cast<void*>(&nettle_curve25519_mul) != reinterpret_cast<void*>(real().mul));
  CHECK(reinterpret_cast<void*>(&nettle_curve25519_mul_g) != reinterpret_cast<void*>(real().mul_g));
  // The global lookup (what libgnutls gets) finds ours.
  CHECK(dlsym(RTLD_DEFAULT, "nettle_curve25519_mul") == reinterpret_cast<void*>(&nettle_curve25519_mul));
}

TEST(x25519_rfc7748_vectors) {
  Enable on(1);
  auto before = fo::stats();
  // RFC 7748 section 5.2 (the second u has bit 255 set, which must be ignored).
  CHECK_EQ(to_hex(x25519_both(hex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
                              hex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"))),
           std::string("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"));
  CHECK_EQ(to_hex(x25519_both(hex("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d"),
                              hex("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493"))),
           std::string("95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"));
  // RFC 7748 section 6.1: both public keys, then the shared secret from both sides.
  auto a = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  auto b = hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  auto apub = x25519_base_both(a), bpub = x25519_base_both(b);
  CHECK_EQ(to_hex(apub), std::string("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"));
  CHECK_EQ(to_hex(bpub), std::string("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"));
  const std::string shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
  CHECK_EQ(to_hex(x25519_both(a, bpub)), shared);
  CHECK_EQ(to_hex(x25519_both(b, apub)), shared);
  auto after = fo::stats();
  CHECK_EQ(after.x25519_sodium - before.x25519_sodium, uint64_t{6});  // all six answered by libsodium
  CHECK_EQ(after.x25519_nettle, before.x25519_nettle);
}

TEST(x25519_small_order_points_give_nettles_all_zero_output) {
  Enable on(1);
  // The points of order 1, 2, 4 and 8 and their non-canonical encodings (u = p, p + 1, and every
  // one with bit 255 set): libsodium refuses them, nettle writes 32 zero bytes.
  std::vector<std::string> points = {
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0100000000000000000000000000000000000000000000000000000000000000",
      "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
      "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
      "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  };
  for (size_t i = 0, n = points.size(); i < n; i++) {
    auto p = hex(points[i]);
    p[31] |= 0x80;
    points.push_back(to_hex(p));
  }
  auto before = fo::stats();
  for (const auto& ph : points) {
    std::vector<uint8_t> n(32);
    fill(n.data(), n.size());
    CHECK(x25519_both(n, hex(ph)) == std::vector<uint8_t>(32, 0));
  }
  auto after = fo::stats();
  CHECK_EQ(after.x25519_nettle - before.x25519_nettle, uint64_t{points.size()});
}

TEST(x25519_random_scalars_and_points_match_nettle) {
  Enable on(1);
  for (int i = 0; i < 300; i++) {
    std::vector<uint8_t> n(32), p(32);
    fill(n.data(), 32);
    fill(p.data(), 32);  // about half are on the twist; bit 255 random
    if (i % 50 == 0) std::fill(n.begin(), n.end(), i % 100 == 0 ? 0x00 : 0xff);  // clamping extremes
    if (i % 60 == 1) {  // non-canonical u: p + small
      std::fill(p.begin(), p.end(), 0xff);
      p[0] = static_cast<uint8_t>(0xed + (i % 18));
      p[31] = 0x7f;
    }
    x25519_both(n, p);
    x25519_base_both(n);
  }
  // Output aliasing the input point, as a caller may do.
  std::vector<uint8_t> n(32), p(32), q;
  fill(n.data(), 32);
  fill(p.data(), 32);
  q = p;
  nettle_curve25519_mul(q.data(), n.data(), q.data());
  std::vector<uint8_t> expect(32);
  real().mul(expect.data(), n.data(), p.data());
  CHECK(q == expect);
}

namespace {

// n of P-256 (SEC 2, section 2.4.2).
const char* kP256Order = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

struct EcKey {
  struct ecc_point pub;
  struct ecc_scalar key;
  explicit EcKey(const struct ecc_curve* c) {
    ecc_point_init(&pub, c);
    ecc_scalar_init(&key, c);
    ecdsa_generate_keypair(&pub, &key, nullptr, nettle_random);
  }
  ~EcKey() {
    ecc_point_clear(&pub);
    ecc_scalar_clear(&key);
  }
};

struct Sig {
  struct dsa_signature s;
  Sig() { dsa_signature_init(&s); }
  Sig(const Sig& o) {
    dsa_signature_init(&s);
    mpz_set(s.r, o.s.r);
    mpz_set(s.s, o.s.s);
  }
  Sig& operator=(const Sig& o) {
    mpz_set(s.r, o.s.r);
    mpz_set(s.s, o.s.s);
    return *this;
  }
  ~Sig() { dsa_signature_clear(&s); }
};

// Ours and nettle's verdict must agree; returns it.
int verify_both(const struct ecc_point* pub, const std::vector<uint8_t>& digest, const Sig& sig) {
  const uint8_t* d = digest.empty() ? reinterpret_cast<const uint8_t*>("") : digest.data();
  int ours = nettle_ecdsa_verify(pub, digest.size(), d, &sig.s);
  int theirs = real().ecdsa_verify(pub, digest.size(), d, &sig.s);
  if (ours != theirs) std::fprintf(stderr, "  digest %zu bytes: ours %d nettle %d\n", digest.size(), ours, theirs);
  CHECK_EQ(ours, theirs);
  return ours;
}

}  // namespace

TEST(p256_verify_matches_nettle_on_valid_and_invalid_signatures) {
  Enable on(1);
  EcKey k(nettle_get_secp_256r1());
  Sig n_holder;  // an mpz freed on every exit, failed CHECKs included
  mpz_ptr order = n_holder.s.r;
  mpz_set_str(order, kP256Order, 16);
  auto before = fo::stats();
  int cases = 0;
  for (size_t dlen : {32, 20, 48, 64, 33, 1}) {
    std::vector<uint8_t> digest(dlen);
    fill(digest.data(), dlen);
    Sig sig;
    ecdsa_sign(&k.key, nullptr, nettle_random, digest.size(), digest.data(), &sig.s);
    CHECK_EQ(verify_both(&k.pub, digest, sig), 1); cases++;
    auto wrong = digest;
    wrong[0] ^= 1;
    CHECK_EQ(verify_both(&k.pub, wrong, sig), 0); cases++;
    if (dlen > 32) {  // only the leftmost 32 bytes count: changing byte 33 on keeps it valid
      auto tail = digest;
      tail[32] ^= 0xff;
      CHECK_EQ(verify_both(&k.pub, tail, sig), 1); cases++;
    }
    Sig bad = sig;
    mpz_set_ui(bad.s.r, 0);
    CHECK_EQ(verify_both(&k.pub, digest, bad), 0); cases++;
    bad = sig;
    mpz_set_ui(bad.s.s, 0);
    CHECK_EQ(verify_both(&k.pub, digest, bad), 0); cases++;
    bad = sig;
    mpz_set(bad.s.r, order);  // r = n
    CHECK_EQ(verify_both(&k.pub, digest, bad), 0); cases++;
    bad = sig;
    mpz_set(bad.s.s, order);  // s = n
    CHECK_EQ(verify_both(&k.pub, digest, bad), 0); cases++;
    bad = sig;
    mpz_add(bad.s.r, bad.s.r, order);  // r + n: same residue, out of range
    CHECK_EQ(verify_both(&k.pub, digest, bad), 0); cases++;
    bad = sig;
    mpz_add(bad.s.s, bad.s.s, order);
    CHECK_EQ(verify_both(&k.pub, digest, bad), 0); cases++;
    bad = sig;
    mpz_neg(bad.s.r, bad.s.r);
    CHECK_EQ(verify_both(&k.pub, digest, bad), 0); cases++;
    bad = sig;
    mpz_neg(bad.s.s, bad.s.s);
    CHECK_EQ(verify_both(&k.pub, digest, bad), 0); cases++;
    bad = sig;
    mpz_mul_2exp(bad.s.s, bad.s.s, 300);  // wider than any P-256 value
    CHECK_EQ(verify_both(&k.pub, digest, bad), 0); cases++;
    bad = sig;
    mpz_sub(bad.s.s, order, bad.s.s);  // (r, n - s) is valid too (ECDSA malleability): both accept
    CHECK_EQ(verify_both(&k.pub, digest, bad), 1); cases++;
    bad = sig;
    mpz_add_ui(bad.s.s, bad.s.s, 1);
    CHECK_EQ(verify_both(&k.pub, digest, bad), 0); cases++;
  }
  // Another key's signature.
  EcKey other(nettle_get_secp_256r1());
  std::vector<uint8_t> digest(32);
  fill(digest.data(), 32);
  Sig sig;
  ecdsa_sign(&k.key, nullptr, nettle_random, 32, digest.data(), &sig.s);
  CHECK_EQ(verify_both(&other.pub, digest, sig), 0); cases++;
  // A digest of 0 bytes is forwarded to nettle (counted there, same verdict).
  Sig sig0;
  ecdsa_sign(&k.key, nullptr, nettle_random, 0, reinterpret_cast<const uint8_t*>(""), &sig0.s);
  CHECK_EQ(verify_both(&k.pub, {}, sig0), 1);
  auto after = fo::stats();
  CHECK_EQ(after.p256_verify_openssl - before.p256_verify_openssl, uint64_t(cases));
  CHECK_EQ(after.ecdsa_verify_nettle - before.ecdsa_verify_nettle, uint64_t{1});
}

TEST(p256_verify_random_signatures_match_nettle) {
  Enable on(1);
  for (int i = 0; i < 40; i++) {
    EcKey k(nettle_get_secp_256r1());
    std::vector<uint8_t> digest(32);
    fill(digest.data(), 32);
    Sig sig;
    ecdsa_sign(&k.key, nullptr, nettle_random, 32, digest.data(), &sig.s);
    CHECK_EQ(verify_both(&k.pub, digest, sig), 1);
    Sig junk;
    std::vector<uint8_t> rb(32), sb(32);
    fill(rb.data(), 32);
    fill(sb.data(), 32);
    mpz_import(junk.s.r, 32, 1, 1, 1, 0, rb.data());
    mpz_import(junk.s.s, 32, 1, 1, 1, 0, sb.data());
    CHECK_EQ(verify_both(&k.pub, digest, junk), 0);
  }
}

TEST(other_curves_are_forwarded_to_nettle) {
  Enable on(1);
  EcKey k(nettle_get_secp_384r1());
  std::vector<uint8_t> digest(48);
  fill(digest.data(), 48);
  Sig sig;
  ecdsa_sign(&k.key, nullptr, nettle_random, 48, digest.data(), &sig.s);
  auto before = fo::stats();
  CHECK_EQ(verify_both(&k.pub, digest, sig), 1);
  digest[5] ^= 4;
  CHECK_EQ(verify_both(&k.pub, digest, sig), 0);
  auto after = fo::stats();
  CHECK_EQ(after.ecdsa_verify_nettle - before.ecdsa_verify_nettle, uint64_t{2});
  CHECK_EQ(after.p256_verify_openssl, before.p256_verify_openssl);
}

TEST(switch_off_forwards_everything) {
  Enable off(0);
  CHECK(!fo::enabled());
  auto before = fo::stats();
  EcKey k(nettle_get_secp_256r1());
  std::vector<uint8_t> digest(32), n(32), p(32);
  fill(digest.data(), 32);
  fill(n.data(), 32);
  fill(p.data(), 32);
  Sig sig;
  ecdsa_sign(&k.key, nullptr, nettle_random, 32, digest.data(), &sig.s);
  CHECK_EQ(verify_both(&k.pub, digest, sig), 1);
  x25519_both(n, p);
  x25519_base_both(n);
  auto after = fo::stats();
  CHECK_EQ(after.p256_verify_openssl, before.p256_verify_openssl);
  CHECK_EQ(after.x25519_sodium, before.x25519_sodium);
  CHECK_EQ(after.ecdsa_verify_nettle - before.ecdsa_verify_nettle, uint64_t{1});
  CHECK_EQ(after.x25519_nettle - before.x25519_nettle, uint64_t{2});
}

namespace {
// One /tls/1.0.0 handshake in memory between two new hosts.
void handshake() {
  HostKey ck = HostKey::make(1), sk = HostKey::make(1);
  handshake_in_memory(ck, sk, make_cert(ck), make_cert(sk));
}
}  // namespace

TEST(gnutls_handshake_goes_through_ours) {
  {
    Enable on(1);
    auto before = fo::stats();
    handshake();
    auto after = fo::stats();
    // Each side verifies the other's CertificateVerify (P-256), makes an X25519 key and derives
    // the shared secret.
    CHECK(after.p256_verify_openssl - before.p256_verify_openssl >= 2);
    CHECK(after.x25519_sodium - before.x25519_sodium >= 4);
    CHECK_EQ(after.x25519_nettle, before.x25519_nettle);
  }
  {
    Enable off(0);
    auto before = fo::stats();
    handshake();
    auto after = fo::stats();
    CHECK_EQ(after.p256_verify_openssl, before.p256_verify_openssl);
    CHECK(after.ecdsa_verify_nettle - before.ecdsa_verify_nettle >= 2);
    CHECK(after.x25519_nettle - before.x25519_nettle >= 4);
  }
}

TEST_MAIN()
