// Signature costs behind the QUIC handshake's CPU (bench/native/quic_handshake_cost.cpp): each side
// signs one CertificateVerify and verifies two signatures of the peer's certificate key (the
// certificate's self-signature and the peer's CertificateVerify), all through GnuTLS (nettle).
// This measures those operations for the certificate key types the libp2p TLS spec allows us to
// choose, so the choice can be made on figures:
//   bash bench/native/build-quic-pump.sh && build-bench/quic_sig_cost [iterations=500]
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>

static double cpu() { timespec t; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

static void measure(const char* name, gnutls_pk_algorithm_t pk, unsigned bits, gnutls_sign_algorithm_t sig, int n) {
  gnutls_privkey_t priv;
  gnutls_pubkey_t pub;
  gnutls_privkey_init(&priv);
  gnutls_pubkey_init(&pub);
  double a = cpu();
  for (int i = 0; i < n / 10; i++) {  // key generation: what a per-connection certificate would cost
    gnutls_privkey_t k;
    gnutls_privkey_init(&k);
    if (gnutls_privkey_generate2(k, pk, bits, 0, nullptr, 0) < 0) { std::fprintf(stderr, "%s: generate failed\n", name); std::exit(1); }
    gnutls_privkey_deinit(k);
  }
  double keygen = (cpu() - a) / (n / 10);
  gnutls_privkey_generate2(priv, pk, bits, 0, nullptr, 0);
  gnutls_pubkey_import_privkey(pub, priv, 0, 0);
  unsigned char msg[130] = {1};  // a TLS 1.3 CertificateVerify input is 64 + 34 + 32 bytes
  gnutls_datum_t data{msg, sizeof msg}, signature{};
  a = cpu();
  for (int i = 0; i < n; i++) {
    gnutls_free(signature.data);
    if (gnutls_privkey_sign_data2(priv, sig, 0, &data, &signature) < 0) { std::fprintf(stderr, "%s: sign failed\n", name); std::exit(1); }
  }
  double sign = (cpu() - a) / n;
  a = cpu();
  for (int i = 0; i < n; i++) {
    if (gnutls_pubkey_verify_data2(pub, sig, 0, &data, &signature) < 0) { std::fprintf(stderr, "%s: verify failed\n", name); std::exit(1); }
  }
  double verify = (cpu() - a) / n;
  std::printf("{\"key\":\"%s\",\"keygen_us\":%.1f,\"sign_us\":%.1f,\"verify_us\":%.1f,\"per_side_us\":%.1f}\n", name,
              keygen * 1e6, sign * 1e6, verify * 1e6, (sign + 2 * verify) * 1e6);
  gnutls_free(signature.data);
  gnutls_pubkey_deinit(pub);
  gnutls_privkey_deinit(priv);
}

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 500;
  gnutls_global_init();
  measure("ecdsa-p256", GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), GNUTLS_SIGN_ECDSA_SECP256R1_SHA256, n);
  measure("ed25519", GNUTLS_PK_EDDSA_ED25519, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_ED25519), GNUTLS_SIGN_EDDSA_ED25519, n);
  gnutls_global_deinit();
}
