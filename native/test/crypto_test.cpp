// Known-answer tests for l2n/crypto.h: RFC 8439 (ChaCha20-Poly1305), RFC 7748 (X25519),
// RFC 8032 (Ed25519), FIPS 180-2 examples (SHA-256), RFC 4231 (HMAC-SHA256), RFC 5869 (HKDF, which
// the Noise HKDF equals when info is empty), plus tamper and allocation checks.
#include "check.h"
#include "l2n/crypto.h"

#include <cstdlib>

#include <openssl/crypto.h>

using namespace l2n::crypto;
using l2n_test::bytes;
using l2n_test::hex;
using l2n_test::to_hex;

// Counts OpenSSL allocations so that a test can prove the AEAD hot path allocates nothing.
// Installed before main(), before OpenSSL's first allocation (a later call would be refused).
static size_t g_ossl_allocs = 0;
static void* count_malloc(size_t n, const char*, int) { g_ossl_allocs++; return std::malloc(n); }
static void* count_realloc(void* p, size_t n, const char*, int) { g_ossl_allocs++; return std::realloc(p, n); }
static void count_free(void* p, const char*, int) { std::free(p); }
static const bool g_counting = CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free) == 1;

namespace {
const char* kRfc8439Plaintext =
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, "
    "sunscreen would be it.";
const char* kRfc8439Ciphertext =
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b"
    "1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
    "3ff4def08e4b7a9de576d26586cec64b6116";
const char* kRfc8439Tag = "1ae10b594f09e26a7e902ecbd0600691";

std::vector<uint8_t> rfc8439_key() {
  std::vector<uint8_t> k(32);
  for (size_t i = 0; i < 32; i++) k[i] = static_cast<uint8_t>(0x80 + i);
  return k;
}
}  // namespace

// RFC 8439 §2.8.2.
TEST(aead_rfc8439_seal_and_open) {
  Aead a;
  CHECK(!a.has_key());
  CHECK(a.set_key(rfc8439_key().data()));
  auto nonce = hex("070000004041424344454647");
  auto ad = hex("50515253c0c1c2c3c4c5c6c7");
  auto pt = bytes(kRfc8439Plaintext);
  std::vector<uint8_t> out(pt.size() + kAeadTagLength);
  CHECK(a.seal(nonce.data(), ad.data(), ad.size(), pt.data(), pt.size(), out.data()));
  CHECK_EQ(to_hex(out), std::string(kRfc8439Ciphertext) + kRfc8439Tag);

  std::vector<uint8_t> back(pt.size());
  CHECK(a.open(nonce.data(), ad.data(), ad.size(), out.data(), out.size(), back.data()));
  CHECK(back == pt);
}

TEST(aead_in_place_and_context_reuse) {
  Aead a;
  CHECK(a.set_key(rfc8439_key().data()));
  auto nonce = hex("070000004041424344454647");
  auto ad = hex("50515253c0c1c2c3c4c5c6c7");
  auto pt = bytes(kRfc8439Plaintext);
  // Another message first, so the vector below runs on a context that has been used.
  uint8_t junk[40] = {1, 2, 3};
  uint8_t other_nonce[12] = {9};
  CHECK(a.seal(other_nonce, nullptr, 0, junk, 24, junk));
  CHECK(a.open(other_nonce, nullptr, 0, junk, 40, junk));
  CHECK_EQ(junk[0], 1);
  CHECK_EQ(junk[2], 3);

  std::vector<uint8_t> buf = pt;
  buf.resize(pt.size() + kAeadTagLength);
  CHECK(a.seal(nonce.data(), ad.data(), ad.size(), buf.data(), pt.size(), buf.data()));
  CHECK_EQ(to_hex(buf), std::string(kRfc8439Ciphertext) + kRfc8439Tag);
  CHECK(a.open(nonce.data(), ad.data(), ad.size(), buf.data(), buf.size(), buf.data()));
  CHECK(std::vector<uint8_t>(buf.begin(), buf.begin() + pt.size()) == pt);
}

TEST(aead_rejects_tampering) {
  Aead a;
  CHECK(a.set_key(rfc8439_key().data()));
  auto nonce = hex("070000004041424344454647");
  auto ad = hex("50515253c0c1c2c3c4c5c6c7");
  auto sealed = hex(std::string(kRfc8439Ciphertext) + kRfc8439Tag);
  std::vector<uint8_t> out(sealed.size());
  for (size_t pos : {size_t{0}, sealed.size() / 2, sealed.size() - 1}) {  // body and tag bytes
    auto bad = sealed;
    bad[pos] ^= 0x01;
    CHECK(!a.open(nonce.data(), ad.data(), ad.size(), bad.data(), bad.size(), out.data()));
  }
  auto bad_ad = ad;
  bad_ad[0] ^= 0x80;
  CHECK(!a.open(nonce.data(), bad_ad.data(), bad_ad.size(), sealed.data(), sealed.size(), out.data()));
  auto bad_nonce = nonce;
  bad_nonce[11] ^= 1;
  CHECK(!a.open(bad_nonce.data(), ad.data(), ad.size(), sealed.data(), sealed.size(), out.data()));
  CHECK(!a.open(nonce.data(), ad.data(), ad.size(), sealed.data(), kAeadTagLength - 1, out.data()));
  // The context still works after failures.
  CHECK(a.open(nonce.data(), ad.data(), ad.size(), sealed.data(), sealed.size(), out.data()));
  Aead keyless;
  CHECK(!keyless.seal(nonce.data(), nullptr, 0, out.data(), 1, out.data()));
  CHECK(!keyless.open(nonce.data(), nullptr, 0, sealed.data(), sealed.size(), out.data()));
}

TEST(aead_empty_plaintext_is_tag_only) {
  Aead a;
  CHECK(a.set_key(rfc8439_key().data()));
  uint8_t nonce[12] = {};
  uint8_t tag[kAeadTagLength];
  CHECK(a.seal(nonce, nullptr, 0, nullptr, 0, tag));
  CHECK(a.open(nonce, nullptr, 0, tag, sizeof tag, tag));
  tag[3] ^= 4;
  CHECK(!a.open(nonce, nullptr, 0, tag, sizeof tag, tag));
}

TEST(aead_hot_path_does_not_allocate) {
  CHECK(g_counting);  // the counting allocator was installed before OpenSSL's first allocation
  Aead a;
  CHECK(a.set_key(rfc8439_key().data()));
  std::vector<uint8_t> buf(16384 + kAeadTagLength, 0x5a);
  uint8_t nonce[12] = {};
  CHECK(a.seal(nonce, nullptr, 0, buf.data(), 16384, buf.data()));  // warm-up
  CHECK(a.open(nonce, nullptr, 0, buf.data(), buf.size(), buf.data()));
  size_t before = g_ossl_allocs;
  for (uint32_t i = 1; i < 1000; i++) {
    std::memcpy(nonce + 4, &i, sizeof i);
    CHECK(a.seal(nonce, nullptr, 0, buf.data(), 16384, buf.data()));
    CHECK(a.open(nonce, nullptr, 0, buf.data(), buf.size(), buf.data()));
  }
  CHECK_EQ(g_ossl_allocs, before);
  CHECK(g_ossl_allocs > 0);  // the counter does see OpenSSL's allocations (set_key made some)
}

// FIPS 180-2 appendix B examples.
TEST(sha256_known_answers) {
  uint8_t out[kSha256Length];
  CHECK(sha256(nullptr, 0, out));
  CHECK_EQ(to_hex(out, 32), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  auto abc = bytes("abc");
  CHECK(sha256(abc.data(), abc.size(), out));
  CHECK_EQ(to_hex(out, 32), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 h;  // incremental, reused
  h.update(abc.data(), 1);
  h.update(abc.data() + 1, 2);
  h.finish(out);
  CHECK_EQ(to_hex(out, 32), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  h.reset();
  auto two = bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq");
  h.update(two.data(), two.size());
  h.finish(out);
  CHECK(h.ok());
  CHECK_EQ(to_hex(out, 32), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

// RFC 4231 test cases 1, 2 and 6 (key longer than a block).
TEST(hmac_sha256_rfc4231) {
  uint8_t out[kSha256Length];
  std::vector<uint8_t> k1(20, 0x0b);
  auto d1 = bytes("Hi There");
  CHECK(hmac_sha256(k1.data(), k1.size(), d1.data(), d1.size(), out));
  CHECK_EQ(to_hex(out, 32), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  auto k2 = bytes("Jefe");
  auto d2 = bytes("what do ya want for nothing?");
  CHECK(hmac_sha256(k2.data(), k2.size(), d2.data(), d2.size(), out));
  CHECK_EQ(to_hex(out, 32), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  std::vector<uint8_t> k6(131, 0xaa);
  auto d6 = bytes("Test Using Larger Than Block-Size Key - Hash Key First");
  CHECK(hmac_sha256(k6.data(), k6.size(), d6.data(), d6.size(), out));
  CHECK_EQ(to_hex(out, 32), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

// RFC 5869 test case 3 (SHA-256, empty salt = 32 zero bytes, empty info): the Noise HKDF with
// chaining key = salt yields OKM[0..32) and OKM[32..64), and a third block OKM[64..96).
TEST(noise_hkdf_matches_rfc5869) {
  uint8_t ck[32] = {};
  std::vector<uint8_t> ikm(22, 0x0b);
  uint8_t o1[32], o2[32], o3[32];
  CHECK(noise_hkdf(ck, ikm.data(), ikm.size(), o1, o2, o3));
  CHECK_EQ(to_hex(o1, 32), "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d");
  CHECK_EQ(to_hex(o2, 32).substr(0, 20), "9d201395faa4b61a96c8");  // the RFC's OKM is 42 bytes long
  CHECK_EQ(to_hex(o2, 32), "9d201395faa4b61a96c8b2fb61057244b36c6ddd287f634795e7d80d5fe26bfc");
  CHECK_EQ(to_hex(o3, 32), "36def6dc129c29271a0eb7ab14bd2ca88259f8a3a92ac2ec0e3e4fa046a4b90b");
  // Output may alias the chaining key (ck, k = HKDF(ck, ikm)).
  CHECK(noise_hkdf(ck, ikm.data(), ikm.size(), ck, o2, nullptr));
  CHECK_EQ(to_hex(ck, 32), "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d");
}

// RFC 7748 §5.2 (first vector) and §6.1 (Alice/Bob).
TEST(x25519_rfc7748) {
  uint8_t out[32];
  auto k = hex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
  auto u = hex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
  CHECK(x25519(out, k.data(), u.data()));
  CHECK_EQ(to_hex(out, 32), "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");

  auto a_priv = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  auto b_priv = hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  uint8_t a_pub[32], b_pub[32], s1[32], s2[32];
  CHECK(x25519_public_key(a_pub, a_priv.data()));
  CHECK(x25519_public_key(b_pub, b_priv.data()));
  CHECK_EQ(to_hex(a_pub, 32), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  CHECK_EQ(to_hex(b_pub, 32), "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  CHECK(x25519(s1, a_priv.data(), b_pub));
  CHECK(x25519(s2, b_priv.data(), a_pub));
  CHECK_EQ(to_hex(s1, 32), "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  CHECK(equal_ct(s1, s2, 32));
}

TEST(x25519_rejects_low_order_points) {
  uint8_t out[32];
  auto k = hex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
  uint8_t zero[32] = {};
  uint8_t one[32] = {1};
  CHECK(!x25519(out, k.data(), zero));
  CHECK(!x25519(out, k.data(), one));
}

TEST(x25519_keypair_is_consistent) {
  uint8_t s1[32], p1[32], s2[32], p2[32], d1[32], d2[32];
  CHECK(x25519_keypair(s1, p1));
  CHECK(x25519_keypair(s2, p2));
  CHECK(!equal_ct(p1, p2, 32));
  CHECK(x25519(d1, s1, p2));
  CHECK(x25519(d2, s2, p1));
  CHECK(equal_ct(d1, d2, 32));
}

// RFC 8032 §7.1 TEST 1 (empty message) and TEST 2 (one byte).
TEST(ed25519_rfc8032) {
  auto pk1 = hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  auto sig1 = hex(
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46b"
      "d25bf5f0595bbe24655141438e7a100b");
  CHECK(ed25519_verify(pk1.data(), nullptr, 0, sig1.data()));
  auto pk2 = hex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
  auto sig2 = hex(
      "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c"
      "387b2eaeb4302aeeb00d291612bb0c00");
  uint8_t msg2 = 0x72;
  CHECK(ed25519_verify(pk2.data(), &msg2, 1, sig2.data()));
  // Wrong message, wrong key, flipped signature bit.
  uint8_t other = 0x73;
  CHECK(!ed25519_verify(pk2.data(), &other, 1, sig2.data()));
  CHECK(!ed25519_verify(pk1.data(), &msg2, 1, sig2.data()));
  sig1[10] ^= 1;
  CHECK(!ed25519_verify(pk1.data(), nullptr, 0, sig1.data()));
}

TEST_MAIN()
