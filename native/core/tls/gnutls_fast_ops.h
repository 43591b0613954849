// Faster public-key operations under GnuTLS's feet: this addon defines nettle_ecdsa_verify,
// nettle_curve25519_mul and nettle_curve25519_mul_g itself (gnutls_fast_ops.cpp), and the dynamic
// linker binds libgnutls's calls of those nettle functions to ours. Only the counters and the
// per-process switch are declared here; the mechanism and its limits are described at the top of
// gnutls_fast_ops.cpp.
//
// Switch: LIBP2P_NATIVE_GNUTLS_NETTLE=1 in the environment (read once, at the first call) makes
// all three forward to the real nettle functions, for A/B runs and as a safety valve; the
// peer-certificate cache (gnutls_pcert_cache.h) follows the same switch: GnuTLS runs as shipped.
#pragma once
#include <cstdint>

namespace l2n::tls::fast_ops {

// Environment variable that turns the replacements off for the process.
inline constexpr const char* kUseNettleEnv = "LIBP2P_NATIVE_GNUTLS_NETTLE";

// How many calls went where since the process started (relaxed counters, for tests and logs).
struct Stats {
  uint64_t p256_verify_openssl = 0;     // nettle_ecdsa_verify answered by OpenSSL (P-256)
  uint64_t ecdsa_verify_nettle = 0;     // nettle_ecdsa_verify forwarded (other curve, switch off, setup failure)
  uint64_t x25519_sodium = 0;           // nettle_curve25519_mul(_g) answered by libsodium
  uint64_t x25519_nettle = 0;           // nettle_curve25519_mul(_g) forwarded (switch off, low-order point)
};
Stats stats();

// True unless LIBP2P_NATIVE_GNUTLS_NETTLE=1 (or a test override says otherwise).
bool enabled();

// Tests only: 1 = use the replacements, 0 = forward everything, -1 = back to the environment.
void set_enabled_for_test(int mode);

// The real definition of `name` (symbol version `version`) in the already loaded library `soname`,
// never `ours`; nullptr if there is none. How every replacement reaches the function it replaces.
void* library_symbol(const char* soname, const char* version, const char* name, const void* ours);

}  // namespace l2n::tls::fast_ops
