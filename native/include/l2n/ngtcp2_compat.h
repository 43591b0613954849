// The one place where ngtcp2 0.12 (Debian 12) and ngtcp2 1.x (Debian 13, Ubuntu 24.10+, Fedora)
// differ for us. The engine (native/core/quic) calls only the l2n_ng_* names below for anything
// listed here, and the raw ngtcp2 API for everything that is identical in both.
//
// What changed between 0.12 and 1.0 that we use (from ngtcp2's headers and release notes):
//   * ngtcp2_connection_close_error{,_default,_set_*} became ngtcp2_ccerr{,_default,_set_*};
//     "set_transport_error_liberr" became "set_liberr", "set_transport_error_tls_alert" became
//     "set_tls_alert", NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_* became NGTCP2_CCERR_TYPE_*, and
//     ngtcp2_conn_get_connection_close_error (copy out) became ngtcp2_conn_get_ccerr (pointer).
//   * ngtcp2_conn_shutdown_stream{,_read,_write} gained a `uint32_t flags` argument (0 for us).
//   * ngtcp2_conn_is_in_{closing,draining}_period became ngtcp2_conn_in_{closing,draining}_period.
//   * ngtcp2_transport_params gained original_dcid_present (a server must set it with original_dcid).
//   * ngtcp2_conn_get_conn_stat became ngtcp2_conn_get_conn_info (we read the RTTs, cwnd,
//     ssthresh and bytes in flight, which both have).
//   * the dcid_status callback's `type` went from int to ngtcp2_connection_id_status_type.
//   * ngtcp2_pkt_hd.token and ngtcp2_settings.token went from ngtcp2_vec to pointer + length, and
//     ngtcp2_settings gained token_type (a server sets NGTCP2_TOKEN_TYPE_RETRY after a Retry).
// Unchanged and used directly: conn_{client,server}_new, read_pkt, writev_stream, accept,
// crypto_{generate,verify}_retry_token and crypto_write_retry (1.x adds *2 variants; the originals
// remain),
// write_connection_close (only the ccerr type changed), get_expiry, handle_expiry, get_pto,
// get_send_quantum, update_pkt_tx_time, extend_max_{stream_,}offset, open_bidi_stream,
// set_keep_alive_timeout, pkt_decode_version_cid, accept, the callback struct members we set, and
// the GnuTLS crypto helper (configure_{client,server}_session, the *_cb callbacks, conn_ref).
// Since 1.22 get_new_connection_id / stream_close / dcid_status have *2 variants; the old members
// still work and are what 0.12 has, so we keep them.
#pragma once
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/version.h>

#if NGTCP2_VERSION_NUM >= 0x010000
#define L2N_NGTCP2_V1 1
#else
#define L2N_NGTCP2_V1 0
#if NGTCP2_VERSION_NUM < 0x000c00
#error "ngtcp2 0.12 or newer is required"
#endif
#endif

namespace l2n::quic::compat {

// What congestion_info() reads (both versions' conn stat/info have these fields).
struct CongestionInfo { uint64_t cwnd, ssthresh, bytes_in_flight, smoothed_rtt, min_rtt, latest_rtt; };

#if L2N_NGTCP2_V1
using ccerr = ngtcp2_ccerr;
inline constexpr auto kCcerrTransport = NGTCP2_CCERR_TYPE_TRANSPORT;
inline void ccerr_default(ccerr* e) { ngtcp2_ccerr_default(e); }
inline void ccerr_set_liberr(ccerr* e, int liberr) { ngtcp2_ccerr_set_liberr(e, liberr, nullptr, 0); }
inline void ccerr_set_application_error(ccerr* e, uint64_t code) {
  ngtcp2_ccerr_set_application_error(e, code, nullptr, 0);
}
inline void ccerr_set_transport_error(ccerr* e, uint64_t code) {
  ngtcp2_ccerr_set_transport_error(e, code, nullptr, 0);
}
inline void ccerr_set_tls_alert(ccerr* e, uint8_t alert) { ngtcp2_ccerr_set_tls_alert(e, alert, nullptr, 0); }
inline int shutdown_stream_read(ngtcp2_conn* c, int64_t id, uint64_t code) {
  return ngtcp2_conn_shutdown_stream_read(c, 0, id, code);
}
inline int shutdown_stream_write(ngtcp2_conn* c, int64_t id, uint64_t code) {
  return ngtcp2_conn_shutdown_stream_write(c, 0, id, code);
}
inline int shutdown_stream(ngtcp2_conn* c, int64_t id, uint64_t code) {
  return ngtcp2_conn_shutdown_stream(c, 0, id, code);
}
inline bool in_closing_period(ngtcp2_conn* c) { return ngtcp2_conn_in_closing_period(c) != 0; }
inline bool in_draining_period(ngtcp2_conn* c) { return ngtcp2_conn_in_draining_period(c) != 0; }
inline void set_original_dcid(ngtcp2_transport_params* p, const ngtcp2_cid& cid) {
  p->original_dcid = cid;
  p->original_dcid_present = 1;
}
inline uint64_t smoothed_rtt(ngtcp2_conn* c) {
  ngtcp2_conn_info info;
  ngtcp2_conn_get_conn_info(c, &info);
  return info.smoothed_rtt;
}
inline CongestionInfo congestion_info(ngtcp2_conn* c) {
  ngtcp2_conn_info i;
  ngtcp2_conn_get_conn_info(c, &i);
  return {i.cwnd, i.ssthresh, i.bytes_in_flight, i.smoothed_rtt, i.min_rtt, i.latest_rtt};
}
#else
using ccerr = ngtcp2_connection_close_error;
inline constexpr auto kCcerrTransport = NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_TRANSPORT;
inline void ccerr_default(ccerr* e) { ngtcp2_connection_close_error_default(e); }
inline void ccerr_set_liberr(ccerr* e, int liberr) {
  ngtcp2_connection_close_error_set_transport_error_liberr(e, liberr, nullptr, 0);
}
inline void ccerr_set_application_error(ccerr* e, uint64_t code) {
  ngtcp2_connection_close_error_set_application_error(e, code, nullptr, 0);
}
inline void ccerr_set_transport_error(ccerr* e, uint64_t code) {
  ngtcp2_connection_close_error_set_transport_error(e, code, nullptr, 0);
}
inline void ccerr_set_tls_alert(ccerr* e, uint8_t alert) {
  ngtcp2_connection_close_error_set_transport_error_tls_alert(e, alert, nullptr, 0);
}
inline int shutdown_stream_read(ngtcp2_conn* c, int64_t id, uint64_t code) {
  return ngtcp2_conn_shutdown_stream_read(c, id, code);
}
inline int shutdown_stream_write(ngtcp2_conn* c, int64_t id, uint64_t code) {
  return ngtcp2_conn_shutdown_stream_write(c, id, code);
}
inline int shutdown_stream(ngtcp2_conn* c, int64_t id, uint64_t code) {
  return ngtcp2_conn_shutdown_stream(c, id, code);
}
inline bool in_closing_period(ngtcp2_conn* c) { return ngtcp2_conn_is_in_closing_period(c) != 0; }
inline bool in_draining_period(ngtcp2_conn* c) { return ngtcp2_conn_is_in_draining_period(c) != 0; }
inline void set_original_dcid(ngtcp2_transport_params* p, const ngtcp2_cid& cid) { p->original_dcid = cid; }
inline uint64_t smoothed_rtt(ngtcp2_conn* c) {
  ngtcp2_conn_stat stat;
  ngtcp2_conn_get_conn_stat(c, &stat);
  return stat.smoothed_rtt;
}
inline CongestionInfo congestion_info(ngtcp2_conn* c) {
  ngtcp2_conn_stat s;
  ngtcp2_conn_get_conn_stat(c, &s);
  return {s.cwnd, s.ssthresh, s.bytes_in_flight, s.smoothed_rtt, s.min_rtt, s.latest_rtt};
}
#endif

// Type of the dcid_status callback's `type` argument (0.12: int; 1.x: an enum).
#if L2N_NGTCP2_V1
using cid_status_type = ngtcp2_connection_id_status_type;
#else
using cid_status_type = int;
#endif

// The token of a received Initial (0.12: an ngtcp2_vec; 1.x: pointer and length).
inline void pkt_token(const ngtcp2_pkt_hd& hd, const uint8_t*& p, size_t& n) {
#if L2N_NGTCP2_V1
  p = hd.token;
  n = hd.tokenlen;
#else
  p = hd.token.base;
  n = hd.token.len;
#endif
}

// A server that validated a Retry token in the client's Initial tells ngtcp2 so (the client's
// address is then validated: no anti-amplification limit). 1.x also wants the token's type.
inline void set_validated_retry_token(ngtcp2_settings* s, const uint8_t* p, size_t n) {
#if L2N_NGTCP2_V1
  s->token = p;
  s->tokenlen = n;
  s->token_type = NGTCP2_TOKEN_TYPE_RETRY;
#else
  s->token = ngtcp2_vec{const_cast<uint8_t*>(p), n};
#endif
}

inline void get_connection_close_error(ngtcp2_conn* c, ccerr* e) {
#if L2N_NGTCP2_V1
  *e = *ngtcp2_conn_get_ccerr(c);
#else
  ngtcp2_conn_get_connection_close_error(c, e);
#endif
}

}  // namespace l2n::quic::compat
