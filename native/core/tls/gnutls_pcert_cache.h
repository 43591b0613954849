// A peer's certificate imported once per process, not once per handshake: this addon defines
// gnutls_pcert_import_x509_raw itself (gnutls_pcert_cache.cpp), and the dynamic linker binds
// libgnutls's own call of it (the TLS 1.3 Certificate message) to ours, by the mechanism described
// at the top of gnutls_fast_ops.cpp. The switch is that file's too: LIBP2P_NATIVE_GNUTLS_NETTLE=1
// makes ours forward every call to GnuTLS's.
#pragma once
#include <cstddef>
#include <cstdint>

namespace l2n::tls::pcert_cache {

// Distinct peer certificates whose public key is kept, process-wide (every endpoint and I/O
// thread); the least recently used goes first. 256, as for the verified-certificate cache of each
// QUIC endpoint (core/quic/cert_cache.h): the peers a node reconnects to are of that order.
inline constexpr size_t kMaxEntries = 256;
// Longer certificates are imported by GnuTLS every time. 4 KiB holds an RSA-8192 host key's
// certificate (l2n/tls.h); the cache then holds at most 256 x (4 KiB + ~200 B) of memory.
inline constexpr size_t kMaxDer = 4096;

struct Stats {
  uint64_t hits = 0;       // answered from the cache: no X.509 parse
  uint64_t imports = 0;    // imported by GnuTLS and remembered (an ECDSA key)
  uint64_t forwarded = 0;  // imported by GnuTLS, not cacheable (other key type, PEM, flags, too long, switch off)
};
Stats stats();

}  // namespace l2n::tls::pcert_cache
