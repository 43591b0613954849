// GnuTLS side of libp2p TLS, shared by the QUIC engine and (later) /tls/1.0.0 over TCP. Only
// native/core includes this: the public API (l2n/tls.h) stays free of GnuTLS types.
#pragma once
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "l2n/tls.h"

namespace l2n::tls {

// Signs our CertificateVerify with OpenSSL and precomputed nonces (certificate.cpp).
struct NonceSigner;

struct Certificate::Impl {
  gnutls_x509_crt_t crt = nullptr;
  gnutls_x509_privkey_t key = nullptr;
  // GnuTLS's external key in `cred` calls into it: freed after cred (~Impl frees cred first).
  std::shared_ptr<NonceSigner> signer;
  gnutls_certificate_credentials_t cred = nullptr;  // our cert + key, shared by all sessions
  std::vector<uint8_t> der;
  ~Impl();
};

// TLS 1.3 only (spec: MUST NOT negotiate lower versions); the AEADs QUIC can use (RFC 9001 5.3:
// not CCM_8); middlebox compatibility mode off (RFC 9001 8.4).
// Groups differ by side. GnuTLS's client sends a key share for its first group of each key type
// (X25519, then the first NIST curve), so any NIST group in the client's list costs a P-256 key
// generation per dial (~50 us with nettle) that no libp2p server uses: rust-libp2p (rustls),
// go-libp2p (crypto/tls), js-libp2p's QUIC (@chainsafe/libp2p-quic: rustls) and js-libp2p's
// @libp2p/tls (Node's OpenSSL) all support X25519 and choose it when the client shared it (a
// server only answers HelloRetryRequest for a group the client listed without a share, and the
// client lists only X25519). So the client offers X25519 alone. The server keeps P-256 and P-384
// after X25519 (it makes a key only for the group it selects, so they cost nothing while a client
// shares X25519), so a client without X25519 still connects after one HelloRetryRequest.
inline constexpr const char* kClientPriorities =
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:"
    "-GROUP-ALL:+GROUP-X25519:%DISABLE_TLS13_COMPAT_MODE";
inline constexpr const char* kServerPriorities =
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:"
    "-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:%DISABLE_TLS13_COMPAT_MODE";

// Sets priorities, our certificate, ALPN (mandatory): `muxers` first, then "libp2p" — early
// stream-muxer negotiation as go-libp2p and js-libp2p do it over TCP; QUIC passes none. Requires
// the peer's certificate (spec: servers MUST require client authentication) and installs
// `verify`, which GnuTLS calls once the peer's Certificate message has arrived; it should call
// verify_session_peer. No SNI is sent (spec: clients MUST NOT). Returns a GnuTLS error code.
int configure_session(gnutls_session_t session, const Certificate& cert, bool is_server,
                      gnutls_certificate_verify_function* verify,
                      const std::vector<std::string>& muxers = {});

// Checks the peer's certificate list in `session`: exactly one certificate, then
// verify_certificate(). Call from the verify function given to configure_session.
Error verify_session_peer(gnutls_session_t session, int64_t unix_now_s,
                          const std::vector<uint8_t>& expected_peer_id, PeerIdentity& out);

}  // namespace l2n::tls
