/* Crypto micro-benchmark behind the library choices of native/core/crypto: OpenSSL vs libsodium
 * for ChaCha20-Poly1305, SHA-256, Ed25519 and X25519, one core, this machine. Each case runs for
 * CRYPTO_BENCH_SECONDS (default 0.5) and prints one line: throughput in GB/s (10^9 bytes/s) or the
 * cost of one operation in microseconds. Build and run: bench/native/build-crypto-bench.sh
 * (see bench/native/README.md). Both libraries are used the way the engines would use them: the
 * AEAD context is created once and reused, X25519/Ed25519 keys arrive as raw bytes per operation. */
#define _POSIX_C_SOURCE 199309L
#include <openssl/evp.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double g_seconds = 0.5;
static volatile uint8_t g_sink;

#define RUN(label, unit_bytes, ...)                                                         \
  do {                                                                                      \
    uint64_t n_ = 0;                                                                        \
    double t0_ = now_s(), t_;                                                               \
    do {                                                                                    \
      for (int k_ = 0; k_ < 16; k_++) { __VA_ARGS__; }                                           \
      n_ += 16;                                                                             \
    } while ((t_ = now_s() - t0_) < g_seconds);                                             \
    if ((unit_bytes) > 0)                                                                   \
      printf("%-44s %8.2f GB/s\n", label, (double)n_ * (unit_bytes) / t_ / 1e9);          \
    else                                                                                    \
      printf("%-44s %8.2f us/op\n", label, t_ / (double)n_ * 1e6);                         \
    fflush(stdout);                                                                         \
  } while (0)

static void die(const char* what) {
  fprintf(stderr, "crypto_bench: %s failed\n", what);
  exit(1);
}

int main(void) {
  const char* env = getenv("CRYPTO_BENCH_SECONDS");
  if (env) g_seconds = atof(env);
  if (sodium_init() < 0) die("sodium_init");
  printf("OpenSSL %s, libsodium %s, %.2f s per case\n", OpenSSL_version(OPENSSL_VERSION),
         sodium_version_string(), g_seconds);

  /* ---- ChaCha20-Poly1305, in place, 64 KiB records (a full Noise message is 65519 bytes) ---- */
  enum { kRecord = 65519 };
  uint8_t* buf = malloc(kRecord + 16);
  uint8_t key[32], nonce[12] = {0}, tag[16];
  randombytes_buf(key, sizeof key);
  randombytes_buf(buf, kRecord);
  EVP_CIPHER* chacha = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
  EVP_CIPHER_CTX* cctx = EVP_CIPHER_CTX_new();
  if (!chacha || !cctx || EVP_EncryptInit_ex2(cctx, chacha, key, NULL, NULL) != 1) die("EVP chacha");
  uint64_t ctr = 0;
  RUN("chacha20-poly1305 seal 64 KiB  openssl", kRecord, {
    int len;
    memcpy(nonce + 4, &ctr, 8), ctr++;
    if (EVP_EncryptInit_ex2(cctx, NULL, NULL, nonce, NULL) != 1 ||
        EVP_EncryptUpdate(cctx, buf, &len, buf, kRecord) != 1 ||
        EVP_EncryptFinal_ex(cctx, buf + len, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(cctx, EVP_CTRL_AEAD_GET_TAG, 16, buf + kRecord) != 1)
      die("seal");
  });
  RUN("chacha20-poly1305 seal 64 KiB  libsodium", kRecord, {
    memcpy(nonce + 4, &ctr, 8), ctr++;
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(buf, tag, NULL, buf, kRecord, NULL, 0, NULL,
                                                       nonce, key);
  });
  enum { kSmall = 1024 };
  RUN("chacha20-poly1305 seal 1 KiB   openssl", kSmall, {
    int len;
    memcpy(nonce + 4, &ctr, 8), ctr++;
    if (EVP_EncryptInit_ex2(cctx, NULL, NULL, nonce, NULL) != 1 ||
        EVP_EncryptUpdate(cctx, buf, &len, buf, kSmall) != 1 ||
        EVP_EncryptFinal_ex(cctx, buf + len, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(cctx, EVP_CTRL_AEAD_GET_TAG, 16, buf + kSmall) != 1)
      die("seal");
  });
  RUN("chacha20-poly1305 seal 1 KiB   libsodium", kSmall, {
    memcpy(nonce + 4, &ctr, 8), ctr++;
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(buf, tag, NULL, buf, kSmall, NULL, 0, NULL,
                                                       nonce, key);
  });

  /* ---- SHA-256: bulk, and the 64-byte inputs of the Noise handshake's MixHash/HMAC ---- */
  EVP_MD* sha = EVP_MD_fetch(NULL, "SHA256", NULL);
  EVP_MD_CTX* mctx = EVP_MD_CTX_new();
  uint8_t digest[32];
  if (!sha || !mctx) die("EVP sha256");
  RUN("sha256 64 KiB                  openssl", kRecord, {
    unsigned int dl;
    if (EVP_DigestInit_ex2(mctx, sha, NULL) != 1 || EVP_DigestUpdate(mctx, buf, kRecord) != 1 ||
        EVP_DigestFinal_ex(mctx, digest, &dl) != 1)
      die("sha256");
  });
  RUN("sha256 64 KiB                  libsodium", kRecord, crypto_hash_sha256(digest, buf, kRecord));
  RUN("sha256 64 B                    openssl", 0, {
    unsigned int dl;
    if (EVP_DigestInit_ex2(mctx, sha, NULL) != 1 || EVP_DigestUpdate(mctx, buf, 64) != 1 ||
        EVP_DigestFinal_ex(mctx, digest, &dl) != 1)
      die("sha256");
  });
  RUN("sha256 64 B                    libsodium", 0, crypto_hash_sha256(digest, buf, 64));

  /* ---- Ed25519: sign and verify a 56-byte message (the Noise static-key signature) ---- */
  uint8_t pk[32], sk[64], sig[64], msg[56];
  randombytes_buf(msg, sizeof msg);
  crypto_sign_keypair(pk, sk);
  RUN("ed25519 sign                   libsodium", 0, crypto_sign_detached(sig, NULL, msg, sizeof msg, sk));
  RUN("ed25519 verify                 libsodium", 0, {
    if (crypto_sign_verify_detached(sig, msg, sizeof msg, pk) != 0) die("verify");
  });
  EVP_PKEY* edkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sk, 32);
  if (!edkey) die("ed25519 key");
  RUN("ed25519 sign                   openssl", 0, {
    size_t sl = 64;
    EVP_MD_CTX* c = EVP_MD_CTX_new();
    if (EVP_DigestSignInit_ex(c, NULL, NULL, NULL, NULL, edkey, NULL) != 1 ||
        EVP_DigestSign(c, sig, &sl, msg, sizeof msg) != 1)
      die("sign");
    EVP_MD_CTX_free(c);
  });
  RUN("ed25519 verify (key from raw)  openssl", 0, {
    EVP_PKEY* pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk, 32);
    EVP_MD_CTX* c = EVP_MD_CTX_new();
    if (!pub || EVP_DigestVerifyInit_ex(c, NULL, NULL, NULL, NULL, pub, NULL) != 1 ||
        EVP_DigestVerify(c, sig, 64, msg, sizeof msg) != 1)
      die("verify");
    EVP_MD_CTX_free(c);
    EVP_PKEY_free(pub);
  });

  /* ---- X25519: one DH with a peer key that arrives as 32 raw bytes ---- */
  uint8_t a_sk[32], b_pk[32], shared[32];
  randombytes_buf(a_sk, 32);
  randombytes_buf(b_pk, 32);
  crypto_scalarmult_base(b_pk, b_pk);
  RUN("x25519 dh                      libsodium", 0, {
    if (crypto_scalarmult(shared, a_sk, b_pk) != 0) die("dh");
  });
  EVP_PKEY* xa = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, a_sk, 32);
  if (!xa) die("x25519 key");
  RUN("x25519 dh (peer from raw)      openssl", 0, {
    size_t sl = 32;
    EVP_PKEY* xb = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, b_pk, 32);
    EVP_PKEY_CTX* c = EVP_PKEY_CTX_new(xa, NULL);
    if (!xb || !c || EVP_PKEY_derive_init(c) != 1 || EVP_PKEY_derive_set_peer(c, xb) != 1 ||
        EVP_PKEY_derive(c, shared, &sl) != 1)
      die("derive");
    EVP_PKEY_CTX_free(c);
    EVP_PKEY_free(xb);
  });
  g_sink = shared[0] ^ digest[0] ^ sig[0] ^ buf[0] ^ tag[0];

  EVP_PKEY_free(xa);
  EVP_PKEY_free(edkey);
  EVP_MD_CTX_free(mctx);
  EVP_MD_free(sha);
  EVP_CIPHER_CTX_free(cctx);
  EVP_CIPHER_free(chacha);
  free(buf);
  return 0;
}
