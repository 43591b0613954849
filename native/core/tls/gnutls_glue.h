// GnuTLS side of libp2p TLS, shared by the QUIC engine and (later) /tls/1.0.0 over TCP. Only
// native/core includes this: the public API (l2n/tls.h) stays free of GnuTLS types.
#pragma once
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <string>
#include <vector>

#include "l2n/tls.h"

namespace l2n::tls {

struct Certificate::Impl {
  gnutls_x509_crt_t crt = nullptr;
  gnutls_x509_privkey_t key = nullptr;
  gnutls_certificate_credentials_t cred = nullptr;  // our cert + key, shared by all sessions
  std::vector<uint8_t> der;
  ~Impl();
};

// TLS 1.3 only (spec: MUST NOT negotiate lower versions); the AEADs QUIC can use (RFC 9001 5.3:
// not CCM_8); middlebox compatibility mode off (RFC 9001 8.4). X25519 first: the key share the
// client sends, every libp2p implementation supports it.
inline constexpr const char* kPriorities =
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
