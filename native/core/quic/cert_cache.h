// Internal: the peer certificates an endpoint has fully verified, so that a peer that connects
// again with the same certificate costs one lookup instead of a second full verification.
//
// Why it is sound: the libp2p TLS spec lets a host reuse one certificate for all its connections
// (we, go-libp2p and rust-libp2p do), and every check of tls::verify_certificate except the
// validity period is a function of the certificate's bytes alone: DER layout, self-signature, the
// libp2p extension, the host signature inside it, the PeerId. A hit re-checks what depends on the
// connection: the validity period against the endpoint's current time, and the expected PeerId.
// Proof that the peer holds the certificate's key is not ours to cache: GnuTLS verifies the
// CertificateVerify signature of every handshake whatever our verify callback says.
//
// What it saves (bench/native/quic_handshake_cost.cpp, quic_sig_cost.cpp on the 2-core dev box):
// an ECDSA P-256 verification through GnuTLS (~135 us) and the host-key verification (Ed25519
// through libsodium, ~60 us) per side and handshake, of ~0.73 ms per side in all.
#pragma once
#include <gnutls/x509.h>

#include <vector>

#include "core/tls/der_lru.h"
#include "l2n/tls.h"

namespace l2n::quic {

// Distinct peer certificates remembered per endpoint; the least recently used goes first, and a
// peer no longer remembered is verified in full again (as without the cache). 256: the peers a
// node reconnects to are of that order (a Kademlia routing table holds a few hundred in practice:
// k = 20 per bucket over the buckets that fill), and the whole cache stays within 1 MiB (below).
inline constexpr size_t kMaxVerifiedCertificates = 256;
// Larger certificates are verified every time rather than kept: 4 KiB holds a certificate with an
// RSA-8192 host key (~2.5 KiB, l2n/tls.h), so the cache holds at most 256 x 4 KiB = 1 MiB of DER
// per endpoint; ours (Ed25519 host key) are under 600 bytes.
inline constexpr size_t kMaxCachedCertificateLength = 4096;

class VerifiedCertificates {
 public:
  // Looks `der` up. false: not known (or known but outside its validity period now): run
  // tls::verify_certificate. true: `result` is kNone with `out` filled, or kPeerIdMismatch with
  // out.peer_id set (the contract of tls::verify_certificate for those two outcomes).
  bool lookup(const uint8_t* der, size_t len, int64_t unix_now_s, const std::vector<uint8_t>& expected,
              tls::Error& result, tls::PeerIdentity& out) {
    const Entry* e = entries_.find(der, len);
    if (e == nullptr) return false;
    if (unix_now_s < e->not_before || unix_now_s > e->not_after) return false;
    if (!expected.empty() && expected != e->identity.peer_id) {
      out.peer_id = e->identity.peer_id;
      result = tls::Error::kPeerIdMismatch;
    } else {
      out = e->identity;
      result = tls::Error::kNone;
    }
    return true;
  }

  // Remembers a certificate that tls::verify_certificate accepted with `identity`.
  void insert(const uint8_t* der, size_t len, const tls::PeerIdentity& identity) {
    if (len == 0 || len > kMaxCachedCertificateLength || entries_.find(der, len) != nullptr) return;
    int64_t not_before = 0, not_after = 0;
    if (!validity(der, len, not_before, not_after)) return;
    entries_.insert(der, len, Entry{identity, not_before, not_after});
  }

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    tls::PeerIdentity identity;
    int64_t not_before, not_after;
  };
  // The validity period, read once per new certificate (verify_certificate checked it already).
  static bool validity(const uint8_t* der, size_t len, int64_t& not_before, int64_t& not_after) {
    gnutls_x509_crt_t crt = nullptr;
    if (gnutls_x509_crt_init(&crt) < 0) return false;
    gnutls_datum_t d{const_cast<uint8_t*>(der), static_cast<unsigned>(len)};
    bool ok = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) >= 0;
    if (ok) {
      time_t b = gnutls_x509_crt_get_activation_time(crt), a = gnutls_x509_crt_get_expiration_time(crt);
      ok = b != static_cast<time_t>(-1) && a != static_cast<time_t>(-1);
      not_before = static_cast<int64_t>(b);
      not_after = static_cast<int64_t>(a);
    }
    gnutls_x509_crt_deinit(crt);
    return ok;
  }
  tls::DerLru<Entry> entries_{kMaxVerifiedCertificates, kMaxCachedCertificateLength};
};

}  // namespace l2n::quic
