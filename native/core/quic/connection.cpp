// One QUIC connection over ngtcp2 with the libp2p TLS handshake (GnuTLS through ngtcp2's crypto
// helper). Follows ngtcp2's own examples for the call protocol (read_pkt / writev_stream with
// WRITE_MORE coalescing / handle_expiry / update_pkt_tx_time) and quinn-proto's shape for the
// API: no socket, no clock, events to a sink, output into caller buffers.
#include <arpa/inet.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include <algorithm>
#include <cstring>

#include "core/quic/connection.h"
#include "core/setup_trace.h"
#include "core/tls/gnutls_glue.h"

namespace l2n::quic {
namespace {

// Chunks handed to one writev_stream call. A packet holds at most ~1.4 KB of stream data, so 16
// small buffers are plenty; big buffers need only one entry.
constexpr size_t kMaxVecs = 16;

Connection::Impl* from_conn_ref(ngtcp2_crypto_conn_ref* ref) {
  return static_cast<Connection::Impl*>(ref->user_data);
}
ngtcp2_conn* get_conn(ngtcp2_crypto_conn_ref* ref) { return from_conn_ref(ref)->conn; }
Connection::Impl* self_of(void* user_data) { return static_cast<Connection::Impl*>(user_data); }

void rand_cb(uint8_t* dest, size_t len, const ngtcp2_rand_ctx*) {
  gnutls_rnd(GNUTLS_RND_NONCE, dest, len);
}

int get_new_connection_id_cb(ngtcp2_conn*, ngtcp2_cid* cid, uint8_t* token, size_t cidlen,
                             void* ud) {
  auto* self = self_of(ud);
  if (gnutls_rnd(GNUTLS_RND_RANDOM, cid->data, cidlen) < 0) return NGTCP2_ERR_CALLBACK_FAILURE;
  cid->datalen = cidlen;
  if (!self->ep->reset_token(*cid, token)) return NGTCP2_ERR_CALLBACK_FAILURE;
  Cid c = Cid::of(*cid);
  self->cids.push_back(c);
  self->ep->add_cid(c, self);
  return 0;
}

int remove_connection_id_cb(ngtcp2_conn*, const ngtcp2_cid* cid, void* ud) {
  auto* self = self_of(ud);
  Cid c = Cid::of(*cid);
  self->ep->remove_cid(c);
  auto it = std::find(self->cids.begin(), self->cids.end(), c);
  if (it != self->cids.end()) self->cids.erase(it);
  return 0;
}

int dcid_status_cb(ngtcp2_conn*, compat::cid_status_type type, uint64_t, const ngtcp2_cid*,
                   const uint8_t* token, void* ud) {
  if (!token) return 0;
  auto* self = self_of(ud);
  ResetToken t = ResetToken::of(token);
  auto it = std::find(self->reset_tokens.begin(), self->reset_tokens.end(), t);
  if (type == NGTCP2_CONNECTION_ID_STATUS_TYPE_ACTIVATE) {
    if (it == self->reset_tokens.end()) {
      self->reset_tokens.push_back(t);
      self->ep->add_reset_token(t, self);
    }
  } else if (it != self->reset_tokens.end()) {
    self->ep->remove_reset_token(t);
    self->reset_tokens.erase(it);
  }
  return 0;
}

int verify_cb(gnutls_session_t session) {
  auto* ref = static_cast<ngtcp2_crypto_conn_ref*>(gnutls_session_get_ptr(session));
  auto* self = from_conn_ref(ref);
  trace::point("verify_begin", self->server);
  tls::Error e = self->ep->verify_peer(session, self->expected_peer_id, self->peer);
  trace::point("verify_end", self->server);
  if (e != tls::Error::kNone) {
    self->tls_error = e;
    return -1;  // GnuTLS aborts the handshake with a certificate alert
  }
  return 0;
}

// Setup trace (core/setup_trace.h): one point before and after each TLS handshake message, so the
// trace shows where the handshake's CPU goes (arg: message type * 4 + post * 2 + incoming).
int tls_trace_hook(gnutls_session_t, unsigned htype, unsigned when, unsigned incoming, const gnutls_datum_t*) {
  trace::point("tls_msg", uint64_t{htype} * 4 + (when == GNUTLS_HOOK_POST ? 2 : 0) + (incoming ? 1 : 0));
  return 0;
}

int handshake_completed_cb(ngtcp2_conn*, void* ud) {
  auto* self = self_of(ud);
  gnutls_datum_t alpn{};
  if (gnutls_alpn_get_selected_protocol(self->session, &alpn) != 0 || alpn.size != tls::kAlpn.size() ||
      std::memcmp(alpn.data, tls::kAlpn.data(), alpn.size) != 0) {
    self->error = Error::kHandshakeFailed;
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  if (self->peer.peer_id.empty()) {  // GnuTLS finished without calling verify_cb: never accept
    self->tls_error = tls::Error::kChainLength;
    self->error = Error::kCertificateRejected;
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  trace::point("hs_done", self->server);
  self->state = Connection::State::kEstablished;
  self->ep->on_handshake_done(self);
  Event ev{EventType::kHandshakeCompleted};
  ev.peer = &self->peer;
  self->emit(ev);
  return 0;
}

int recv_stream_data_cb(ngtcp2_conn*, uint32_t flags, int64_t stream_id, uint64_t offset,
                        const uint8_t* data, size_t datalen, void* ud, void*) {
  auto* self = self_of(ud);
  Event ev{EventType::kStreamData};
  ev.stream = stream_id;
  ev.data = data;
  ev.len = datalen;
  ev.value = offset;
  ev.fin = (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0;
  self->emit(ev);
  return 0;
}

int stream_open_cb(ngtcp2_conn*, int64_t stream_id, void* ud) {
  auto* self = self_of(ud);
  self->streams.try_emplace(stream_id);
  Event ev{EventType::kStreamOpened};
  ev.stream = stream_id;
  self->emit(ev);
  return 0;
}

int stream_close_cb(ngtcp2_conn* conn, uint32_t, int64_t stream_id, uint64_t, void* ud, void*) {
  auto* self = self_of(ud);
  self->streams.erase(stream_id);
  // Give the peer its stream credit back (ngtcp2 leaves MAX_STREAMS to the application).
  if (!ngtcp2_conn_is_local_stream(conn, stream_id) && (stream_id & 0x2) == 0)
    ngtcp2_conn_extend_max_streams_bidi(conn, 1);
  Event ev{EventType::kStreamClosed};
  ev.stream = stream_id;
  self->emit(ev);
  return 0;
}

int stream_reset_cb(ngtcp2_conn*, int64_t stream_id, uint64_t, uint64_t code, void* ud, void*) {
  Event ev{EventType::kStreamReset};
  ev.stream = stream_id;
  ev.value = code;
  self_of(ud)->emit(ev);
  return 0;
}

int acked_stream_data_offset_cb(ngtcp2_conn*, int64_t stream_id, uint64_t offset, uint64_t datalen,
                                void* ud, void*) {
  Event ev{EventType::kStreamAcked};
  ev.stream = stream_id;
  ev.value = offset + datalen;
  self_of(ud)->emit(ev);
  return 0;
}

int extend_max_stream_data_cb(ngtcp2_conn*, int64_t stream_id, uint64_t, void* ud, void*) {
  auto* self = self_of(ud);
  auto it = self->streams.find(stream_id);
  if (it == self->streams.end() || !it->second.blocked) return 0;
  it->second.blocked = false;
  self->enqueue(stream_id, it->second);
  Event ev{EventType::kStreamWritable};
  ev.stream = stream_id;
  self->emit(ev);
  return 0;
}

int extend_max_local_streams_bidi_cb(ngtcp2_conn*, uint64_t max_streams, void* ud) {
  Event ev{EventType::kStreamsAvailable};
  ev.value = max_streams;
  self_of(ud)->emit(ev);
  return 0;
}

int recv_stateless_reset_cb(ngtcp2_conn*, const ngtcp2_pkt_stateless_reset*, void* ud) {
  self_of(ud)->stateless_reset = true;
  return 0;
}

ngtcp2_callbacks make_callbacks(bool server) {
  ngtcp2_callbacks cb{};
  if (server) {
    cb.recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
  } else {
    cb.client_initial = ngtcp2_crypto_client_initial_cb;
    cb.recv_retry = ngtcp2_crypto_recv_retry_cb;
  }
  cb.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
  cb.encrypt = ngtcp2_crypto_encrypt_cb;
  cb.decrypt = ngtcp2_crypto_decrypt_cb;
  cb.hp_mask = ngtcp2_crypto_hp_mask_cb;
  cb.update_key = ngtcp2_crypto_update_key_cb;
  cb.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
  cb.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
  cb.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
  cb.version_negotiation = ngtcp2_crypto_version_negotiation_cb;
  cb.rand = rand_cb;
  cb.get_new_connection_id = get_new_connection_id_cb;
  cb.remove_connection_id = remove_connection_id_cb;
  cb.handshake_completed = handshake_completed_cb;
  cb.recv_stream_data = recv_stream_data_cb;
  cb.stream_open = stream_open_cb;
  cb.stream_close = stream_close_cb;
  cb.stream_reset = stream_reset_cb;
  cb.acked_stream_data_offset = acked_stream_data_offset_cb;
  cb.extend_max_stream_data = extend_max_stream_data_cb;
  cb.extend_max_local_streams_bidi = extend_max_local_streams_bidi_cb;
  cb.recv_stateless_reset = recv_stateless_reset_cb;
  cb.dcid_status = dcid_status_cb;
  return cb;
}

bool random_cid(ngtcp2_cid& cid) {
  cid.datalen = kCidLength;
  return gnutls_rnd(GNUTLS_RND_RANDOM, cid.data, kCidLength) == 0;
}

}  // namespace

// --- addresses --------------------------------------------------------------------------------

Address Address::v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
  Address r;
  r.family = 4;
  r.port = port;
  r.ip[0] = a; r.ip[1] = b; r.ip[2] = c; r.ip[3] = d;
  return r;
}

void SockAddr::set(const Address& a) {
  ss = {};
  if (a.family == 6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(a.port);
    std::memcpy(&s6->sin6_addr, a.ip, 16);
    len = sizeof(sockaddr_in6);
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(a.port);
    std::memcpy(&s4->sin_addr, a.ip, 4);
    len = sizeof(sockaddr_in);
  }
}

Address SockAddr::to_address(const sockaddr* sa) {
  Address a;
  if (!sa) return a;
  if (sa->sa_family == AF_INET6) {
    auto* s6 = reinterpret_cast<const sockaddr_in6*>(sa);
    a.family = 6;
    a.port = ntohs(s6->sin6_port);
    std::memcpy(a.ip, &s6->sin6_addr, 16);
  } else if (sa->sa_family == AF_INET) {
    auto* s4 = reinterpret_cast<const sockaddr_in*>(sa);
    a.family = 4;
    a.port = ntohs(s4->sin_port);
    std::memcpy(a.ip, &s4->sin_addr, 4);
  }
  return a;
}

const char* error_name(Error e) {
  switch (e) {
    case Error::kNone: return "none";
    case Error::kCertificateRejected: return "certificate rejected";
    case Error::kHandshakeFailed: return "handshake failed";
    case Error::kHandshakeTimeout: return "handshake timeout";
    case Error::kIdleTimeout: return "idle timeout";
    case Error::kPeerClosed: return "closed by peer";
    case Error::kLocallyClosed: return "closed locally";
    case Error::kProtocol: return "protocol violation";
    case Error::kStatelessReset: return "stateless reset";
    case Error::kInternal: return "internal error";
    case Error::kStreamLimit: return "stream limit reached";
    case Error::kUnknownStream: return "unknown stream";
    case Error::kStreamFinished: return "stream finished";
    case Error::kClosed: return "connection closed";
    case Error::kEndpointFull: return "endpoint full";
  }
  return "unknown";
}

// --- Impl: setup ------------------------------------------------------------------------------

Connection::Impl::~Impl() {
  if (conn) ngtcp2_conn_del(conn);
  if (session) gnutls_deinit(session);
}

Error Connection::Impl::common_init(ngtcp2_settings& s, ngtcp2_transport_params& p, uint64_t now) {
  ngtcp2_settings_default(&s);
  s.initial_ts = now;
  s.max_tx_udp_payload_size = kMaxUdpPayload;
  s.handshake_timeout = cfg.handshake_timeout_ns;
  s.initial_rtt = cfg.initial_rtt_ns;
  s.max_window = cfg.max_connection_window;
  s.max_stream_window = cfg.max_stream_window;
  switch (cfg.congestion_control) {
    case Config::CongestionControl::kCubic: s.cc_algo = NGTCP2_CC_ALGO_CUBIC; break;
    case Config::CongestionControl::kReno: s.cc_algo = NGTCP2_CC_ALGO_RENO; break;
    case Config::CongestionControl::kBbr: s.cc_algo = NGTCP2_CC_ALGO_BBR; break;
#if L2N_NGTCP2_V1
    case Config::CongestionControl::kBbr2: s.cc_algo = NGTCP2_CC_ALGO_BBR; break;  // 1.x's BBR is v2
#else
    case Config::CongestionControl::kBbr2: s.cc_algo = NGTCP2_CC_ALGO_BBR2; break;
#endif
  }
  ngtcp2_transport_params_default(&p);
  p.initial_max_stream_data_bidi_local = cfg.initial_stream_window;
  p.initial_max_stream_data_bidi_remote = cfg.initial_stream_window;
  p.initial_max_stream_data_uni = 0;
  p.initial_max_data = cfg.initial_connection_window;
  p.initial_max_streams_bidi = cfg.max_concurrent_streams;
  p.initial_max_streams_uni = 0;
  p.max_idle_timeout = cfg.max_idle_timeout_ns;
  local_sa.set(local);
  remote_sa.set(remote);
  conn_ref.get_conn = get_conn;
  conn_ref.user_data = this;
  return Error::kNone;
}

Error Connection::Impl::setup_tls(bool is_server) {
  unsigned flags = (is_server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NO_END_OF_EARLY_DATA;
  // No session tickets: every libp2p connection is a fresh handshake (no resumption), and the
  // server's NewSessionTicket would only add bytes to its first flight.
  flags |= GNUTLS_NO_TICKETS;
  if (gnutls_init(&session, flags) < 0) return Error::kInternal;
  int rv = is_server ? ngtcp2_crypto_gnutls_configure_server_session(session)
                     : ngtcp2_crypto_gnutls_configure_client_session(session);
  if (rv != 0) return Error::kInternal;
  if (tls::configure_session(session, *cert, is_server, verify_cb) < 0) return Error::kInternal;
  gnutls_session_set_ptr(session, &conn_ref);
  if (trace::enabled()) gnutls_handshake_set_hook_function(session, GNUTLS_HANDSHAKE_ANY, GNUTLS_HOOK_BOTH, tls_trace_hook);
  ngtcp2_conn_set_tls_native_handle(conn, session);
  if (cfg.keep_alive_interval_ns) ngtcp2_conn_set_keep_alive_timeout(conn, cfg.keep_alive_interval_ns);
  return Error::kNone;
}

Error Connection::Impl::init_client(const Address& l, const Address& r, uint64_t now) {
  server = false;
  local = l;
  remote = r;
  ngtcp2_settings s;
  ngtcp2_transport_params p;
  common_init(s, p, now);
  ngtcp2_cid dcid, scid;
  if (!random_cid(dcid) || !random_cid(scid)) return Error::kInternal;
  ngtcp2_path path{{reinterpret_cast<sockaddr*>(&local_sa.ss), local_sa.len},
                   {reinterpret_cast<sockaddr*>(&remote_sa.ss), remote_sa.len}, nullptr};
  ngtcp2_callbacks cb = make_callbacks(false);
  if (ngtcp2_conn_client_new(&conn, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &cb, &s, &p, nullptr, this) != 0)
    return Error::kInternal;
  trace::point("conn_new");
  Cid c = Cid::of(scid);
  cids.push_back(c);
  ep->add_cid(c, this);
  Error e = setup_tls(false);
  trace::point("tls_setup");
  return e;
}

Error Connection::Impl::init_server(const Address& l, const Address& r, const ngtcp2_pkt_hd& hd,
                                    const ngtcp2_cid* odcid, const uint8_t* token, size_t token_len,
                                    uint64_t now) {
  server = true;
  local = l;
  remote = r;
  ngtcp2_settings s;
  ngtcp2_transport_params p;
  common_init(s, p, now);
  if (odcid) {
    // After a Retry (RFC 9000 7.3): the original id comes from the token, and the id the client
    // now addresses is the one our Retry chose.
    compat::set_original_dcid(&p, *odcid);
    p.retry_scid = hd.dcid;
    p.retry_scid_present = 1;
    compat::set_validated_retry_token(&s, token, token_len);
  } else {
    compat::set_original_dcid(&p, hd.dcid);
  }
  ngtcp2_cid scid;
  if (!random_cid(scid)) return Error::kInternal;
  // Only a server may announce a reset token for its first id (RFC 9000 18.2).
  if (!ep->reset_token(scid, p.stateless_reset_token)) return Error::kInternal;
  p.stateless_reset_token_present = 1;
  ngtcp2_path path{{reinterpret_cast<sockaddr*>(&local_sa.ss), local_sa.len},
                   {reinterpret_cast<sockaddr*>(&remote_sa.ss), remote_sa.len}, nullptr};
  ngtcp2_callbacks cb = make_callbacks(true);
  if (ngtcp2_conn_server_new(&conn, &hd.scid, &scid, &path, hd.version, &cb, &s, &p, nullptr, this) != 0)
    return Error::kInternal;
  Cid c = Cid::of(scid);
  cids.push_back(c);
  ep->add_cid(c, this);
  // The client keeps addressing its Initials to the DCID it chose (or our Retry's id) until it
  // hears from us.
  Cid first = Cid::of(hd.dcid);
  cids.push_back(first);
  ep->add_cid(first, this);
  return setup_tls(true);
}

// --- Impl: events and closing -----------------------------------------------------------------

void Connection::Impl::emit(Event ev) {
  ev.conn = id;
  if (sink) sink->on_event(ev);
}

void Connection::Impl::emit_closed() {
  if (closed_emitted) return;
  closed_emitted = true;
  streams.clear();
  send_queue.clear();
  Event ev{EventType::kConnectionClosed};
  ev.error = error;
  ev.tls_error = tls_error;
  ev.value = remote_code;
  emit(ev);
}

void Connection::Impl::enter_closed(Error e) {
  if (error == Error::kNone) error = e;
  state = State::kClosed;
  emit_closed();
}

void Connection::Impl::fail(Error e, int liberr, uint64_t now) {
  if (state == State::kClosing || state == State::kDraining || state == State::kClosed) return;
  if (error == Error::kNone) error = e;
  state = State::kClosing;
  compat::ccerr ccerr;
  compat::ccerr_default(&ccerr);
  if (liberr == NGTCP2_ERR_CRYPTO) {
    // A TLS failure goes out as CRYPTO_ERROR (0x100 + alert, RFC 9001 4.8): GnuTLS's alert if it
    // set one, else bad_certificate when our verification refused the peer.
    uint8_t alert = ngtcp2_conn_get_tls_alert(conn);
    if (alert == 0)
      alert = tls_error != tls::Error::kNone ? GNUTLS_A_BAD_CERTIFICATE : GNUTLS_A_HANDSHAKE_FAILURE;
    compat::ccerr_set_tls_alert(&ccerr, alert);
  } else {
    compat::ccerr_set_liberr(&ccerr, liberr);
  }
  close_packet.resize(kMaxUdpPayload);
  ngtcp2_path_storage ps;
  ngtcp2_path_storage_zero(&ps);
  ngtcp2_pkt_info pi{};
  ngtcp2_ssize n = ngtcp2_conn_write_connection_close(conn, &ps.path, &pi, close_packet.data(),
                                                      close_packet.size(), &ccerr, now);
  close_packet.resize(n > 0 ? static_cast<size_t>(n) : 0);
  close_to = SockAddr::to_address(ps.path.remote.addr);
  if (close_to.family == 0) close_to = remote;
  close_packet_due = !close_packet.empty();
  drain_deadline = now + 3 * ngtcp2_conn_get_pto(conn);  // RFC 9000 10.2
  emit_closed();
}

// --- Impl: inputs -----------------------------------------------------------------------------

void Connection::Impl::handle_datagram(const uint8_t* data, size_t len, const Address& from, uint64_t now) {
  if (state == State::kClosed || state == State::kDraining) return;
  if (state == State::kClosing) {
    // RFC 9000 10.2.1: answer with the saved CONNECTION_CLOSE, less and less often.
    packets_while_closing++;
    if ((packets_while_closing & (packets_while_closing - 1)) == 0) close_packet_due = !close_packet.empty();
    return;
  }
  SockAddr from_sa;
  from_sa.set(from);
  ngtcp2_path path{{reinterpret_cast<sockaddr*>(&local_sa.ss), local_sa.len},
                   {reinterpret_cast<sockaddr*>(&from_sa.ss), from_sa.len}, nullptr};
  ngtcp2_pkt_info pi{};
  trace::point("pkt_in", len);
  int rv = ngtcp2_conn_read_pkt(conn, &path, &pi, data, len, now);
  trace::point("pkt_done", static_cast<uint64_t>(rv < 0 ? -rv : 0));
  if (rv == 0) return;
  switch (rv) {
    case NGTCP2_ERR_DRAINING: {
      if (stateless_reset) {
        error = Error::kStatelessReset;
      } else {
        compat::ccerr ccerr;
        compat::get_connection_close_error(conn, &ccerr);
        remote_code = ccerr.error_code;
        bool crypto = ccerr.type == compat::kCcerrTransport &&
                      (ccerr.error_code & ~uint64_t{0xff}) == NGTCP2_CRYPTO_ERROR;
        if (error == Error::kNone)
          error = (crypto || state == State::kHandshaking) ? Error::kHandshakeFailed : Error::kPeerClosed;
      }
      state = State::kDraining;
      drain_deadline = now + 3 * ngtcp2_conn_get_pto(conn);
      emit_closed();
      return;
    }
    case NGTCP2_ERR_DROP_CONN:
      enter_closed(Error::kProtocol);
      return;
    case NGTCP2_ERR_CRYPTO:
      fail(tls_error != tls::Error::kNone ? Error::kCertificateRejected : Error::kHandshakeFailed, rv, now);
      return;
    case NGTCP2_ERR_CALLBACK_FAILURE:
      fail(error != Error::kNone ? error : Error::kInternal, rv, now);
      return;
    case NGTCP2_ERR_DISCARD_PKT:
      return;  // undecryptable or duplicate: harmless
    default:
      if (ngtcp2_err_is_fatal(rv)) fail(Error::kInternal, rv, now);
      else fail(Error::kProtocol, rv, now);
      return;
  }
}

void Connection::Impl::handle_timeout(uint64_t now) {
  if (state == State::kClosed) return;
  if (state == State::kClosing || state == State::kDraining) {
    if (now >= drain_deadline) state = State::kClosed;
    return;
  }
  if (now < ngtcp2_conn_get_expiry(conn)) return;
  int rv = ngtcp2_conn_handle_expiry(conn, now);
  if (rv == 0) return;
  if (rv == NGTCP2_ERR_IDLE_CLOSE) enter_closed(Error::kIdleTimeout);
  else if (rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT) enter_closed(Error::kHandshakeTimeout);
  else fail(Error::kInternal, rv, now);
}

uint64_t Connection::Impl::next_deadline() const {
  if (state == State::kClosed) return UINT64_MAX;
  if (state == State::kClosing || state == State::kDraining) return drain_deadline;
  return ngtcp2_conn_get_expiry(conn);
}

void Connection::Impl::enqueue(int64_t sid, Stream& s) {
  if (s.queued || s.blocked) return;
  s.queued = true;
  send_queue.push_back(sid);
}

// --- Impl: output -----------------------------------------------------------------------------

Transmit Connection::Impl::write_datagrams(uint8_t* out, size_t cap, uint64_t now) {
  Transmit t;
  t.conn = id;
  if (close_pending && state != State::kClosing && state != State::kDraining && state != State::kClosed) {
    close_pending = false;
    if (error == Error::kNone) error = Error::kLocallyClosed;
    state = State::kClosing;
    compat::ccerr ccerr;
    compat::ccerr_default(&ccerr);
    compat::ccerr_set_application_error(&ccerr, close_app_code);
    close_packet.resize(kMaxUdpPayload);
    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    ngtcp2_pkt_info pi{};
    ngtcp2_ssize n = ngtcp2_conn_write_connection_close(conn, &ps.path, &pi, close_packet.data(),
                                                        close_packet.size(), &ccerr, now);
    close_packet.resize(n > 0 ? static_cast<size_t>(n) : 0);
    close_to = SockAddr::to_address(ps.path.remote.addr);
    if (close_to.family == 0) close_to = remote;
    close_packet_due = !close_packet.empty();
    drain_deadline = now + 3 * ngtcp2_conn_get_pto(conn);
    emit_closed();
  }
  if (state == State::kClosing) {
    if (!close_packet_due || cap < close_packet.size()) return t;
    close_packet_due = false;
    std::memcpy(out, close_packet.data(), close_packet.size());
    t.bytes = t.segment_size = close_packet.size();
    t.segments = 1;
    t.remote = close_to;
    return t;
  }
  if (state == State::kDraining || state == State::kClosed) return t;
  if (!stash.empty()) {
    if (cap < stash.size()) return t;
    std::memcpy(out, stash.data(), stash.size());
    t.bytes = t.segment_size = stash.size();
    t.segments = 1;
    t.remote = stash_to;
    stash.clear();
    return t;
  }

  const size_t max_pkt = std::min(ngtcp2_conn_get_path_max_tx_udp_payload_size(conn), kMaxUdpPayload);
  if (cap < max_pkt) return t;
  // A burst (ngtcp2's send quantum) may span several write_datagrams calls, since a GSO batch
  // ends at the first short packet; pacing advances only when the burst ends.
  size_t quantum_pkts = std::max<size_t>(1, ngtcp2_conn_get_send_quantum(conn) / max_pkt);
  if (burst_pkts >= quantum_pkts) burst_pkts = 0;
  size_t max_pkts = std::min({kMaxGsoSegments, cap / max_pkt, quantum_pkts - burst_pkts});
  bool burst_over = false;
  ngtcp2_path_storage ps;
  ngtcp2_path_storage_zero(&ps);
  ngtcp2_pkt_info pi{};
  size_t seg = 0;  // segment size, fixed by the first packet
  uint8_t* p = out;

  size_t spins = 0;  // bounds the WRITE_MORE / blocked loops (each one retires a stream or bytes)
  for (size_t pkts = 0; pkts < max_pkts && spins++ < 4 * kMaxGsoSegments + send_queue.size() * 2;) {
    size_t room = seg ? seg : max_pkt;
    // Pick the next stream with something to send (round robin).
    int64_t sid = -1;
    Stream* st = nullptr;
    while (!send_queue.empty()) {
      int64_t cand = send_queue.front();
      auto it = streams.find(cand);
      if (it == streams.end()) { send_queue.pop_front(); continue; }
      Stream& s = it->second;
      if (s.write_closed || s.blocked || (s.unsent_bytes == 0 && (!s.fin_queued || s.fin_sent))) {
        s.queued = false;
        send_queue.pop_front();
        continue;
      }
      sid = cand;
      st = &s;
      break;
    }
    ngtcp2_vec vecs[kMaxVecs];
    size_t nvec = 0;
    uint32_t flags = 0;
    if (st) {
      size_t skip = st->front_offset;
      for (auto& c : st->unsent) {
        if (nvec == kMaxVecs) break;
        vecs[nvec].base = const_cast<uint8_t*>(c.p + skip);
        vecs[nvec].len = c.len - skip;
        skip = 0;
        nvec++;
      }
      flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
      if (st->fin_queued && nvec == st->unsent.size()) flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
    }
    ngtcp2_ssize ndatalen = -1;
    ngtcp2_ssize n = ngtcp2_conn_writev_stream(conn, &ps.path, &pi, p, room, &ndatalen, flags, sid,
                                               nvec ? vecs : nullptr, nvec, now);
    if (st && ndatalen >= 0) {
      // Hand the accepted bytes over: drop them from our unsent queue (ngtcp2 keeps pointers
      // to them until acknowledged; they are still the caller's, transferred).
      size_t left = static_cast<size_t>(ndatalen);
      st->unsent_bytes -= left;
      while (left) {
        Chunk& c = st->unsent.front();
        size_t avail = c.len - st->front_offset;
        if (left >= avail) { left -= avail; st->unsent.pop_front(); st->front_offset = 0; }
        else { st->front_offset += left; left = 0; }
      }
      if ((flags & NGTCP2_WRITE_STREAM_FLAG_FIN) && st->unsent.empty()) st->fin_sent = true;
      // Rotate: the next packet (or the rest of this one) serves the next stream.
      send_queue.pop_front();
      st->queued = false;
      if (st->unsent_bytes || (st->fin_queued && !st->fin_sent)) enqueue(sid, *st);
    }
    if (n < 0) {
      if (n == NGTCP2_ERR_WRITE_MORE) continue;  // room left in this packet for another stream
      if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED) {
        st->blocked = true;
        st->queued = false;
        send_queue.pop_front();
        continue;
      }
      if (n == NGTCP2_ERR_STREAM_SHUT_WR || n == NGTCP2_ERR_STREAM_NOT_FOUND) {
        // Our side did not close it, so the peer sent STOP_SENDING (ngtcp2 answered with
        // RESET_STREAM itself). ngtcp2 0.12 does not report the peer's code: value is 0.
        if (!st->write_closed) {
          Event ev{EventType::kStopSending};
          ev.stream = sid;
          emit(ev);
        }
        st->write_closed = true;
        st->unsent.clear();
        st->unsent_bytes = 0;
        st->queued = false;
        send_queue.pop_front();
        continue;
      }
      fail(Error::kInternal, static_cast<int>(n), now);
      break;
    }
    if (n == 0) {  // congestion- or pacing-limited, or nothing left
      if (state == State::kEstablished) {
        compat::CongestionInfo ci = compat::congestion_info(conn);
        if (ci.bytes_in_flight + max_pkt > ci.cwnd) bursts_cwnd_limited++;
        else if (send_queue.empty()) bursts_app_limited++;
        else bursts_other++;
      }
      burst_over = true;
      break;
    }
    // Batch only packets for the same path: the first one fixes it.
    Address to = SockAddr::to_address(ps.path.remote.addr);
    if (pkts == 0) {
      t.remote = to;
      seg = static_cast<size_t>(n);
    } else if (!(to == t.remote)) {
      // A packet for another path (migration probe): never in this batch. Kept aside and sent
      // first, alone, by the next call (one datagram, so one small copy, and rare).
      stash.assign(p, p + n);
      stash_to = to;
      pkts++;
      break;
    }
    p += n;
    t.bytes += static_cast<size_t>(n);
    t.segments++;
    pkts++;
    if (static_cast<size_t>(n) < max_pkt && (pkts == 1 || static_cast<size_t>(n) < seg)) break;  // short: ends the batch
  }
  t.segment_size = seg;
  burst_pkts += t.segments;
  if (burst_over || burst_pkts >= quantum_pkts) {
    // Pacing starts after the handshake: handshake flights are small and bounded by the
    // anti-amplification limit anyway, and pacing them against the 333 ms initial RTT would
    // hold the client's second flight back by ~20 ms (a round trip on a LAN, for nothing).
    if (state == State::kEstablished) ngtcp2_conn_update_pkt_tx_time(conn, now);
    burst_pkts = 0;
  }
  return t;
}

// --- Connection (public) ----------------------------------------------------------------------

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Connection::~Connection() = default;
uint64_t Connection::id() const { return impl_->id; }
bool Connection::is_server() const { return impl_->server; }
Connection::State Connection::state() const { return impl_->state; }
Error Connection::error() const { return impl_->error; }
tls::Error Connection::tls_error() const { return impl_->tls_error; }
uint64_t Connection::remote_code() const { return impl_->remote_code; }
const tls::PeerIdentity& Connection::remote() const { return impl_->peer; }
const Address& Connection::remote_address() const { return impl_->remote; }
uint64_t Connection::smoothed_rtt_ns() const { return compat::smoothed_rtt(impl_->conn); }
Connection::CongestionStats Connection::congestion_stats() const {
  const Impl& m = *impl_;
  compat::CongestionInfo ci = compat::congestion_info(m.conn);
  CongestionStats s;
  s.cwnd = ci.cwnd;
  s.ssthresh = ci.ssthresh;
  s.bytes_in_flight = ci.bytes_in_flight;
  s.smoothed_rtt_ns = ci.smoothed_rtt;
  s.min_rtt_ns = ci.min_rtt;
  s.latest_rtt_ns = ci.latest_rtt;
  s.bursts_cwnd_limited = m.bursts_cwnd_limited;
  s.bursts_app_limited = m.bursts_app_limited;
  s.bursts_other = m.bursts_other;
  return s;
}

static bool open_state(Connection::State s) {
  return s == Connection::State::kHandshaking || s == Connection::State::kEstablished;
}

int64_t Connection::open_stream(Error* err) {
  Impl& m = *impl_;
  if (!open_state(m.state) || m.close_pending) { if (err) *err = Error::kClosed; return -1; }
  int64_t sid = -1;
  int rv = ngtcp2_conn_open_bidi_stream(m.conn, &sid, nullptr);
  if (rv != 0) { if (err) *err = rv == NGTCP2_ERR_STREAM_ID_BLOCKED ? Error::kStreamLimit : Error::kInternal; return -1; }
  m.streams.try_emplace(sid);
  if (err) *err = Error::kNone;
  return sid;  // nothing to send until send(): no need to mark dirty
}

Error Connection::send(int64_t sid, const uint8_t* data, size_t len, bool fin) {
  Impl& m = *impl_;
  if (!open_state(m.state) || m.close_pending) return Error::kClosed;
  auto it = m.streams.find(sid);
  if (it == m.streams.end()) return Error::kUnknownStream;
  Impl::Stream& s = it->second;
  if (s.fin_queued || s.write_closed) return Error::kStreamFinished;
  if (len) { s.unsent.push_back({data, len}); s.unsent_bytes += len; }
  if (fin) s.fin_queued = true;
  m.enqueue(sid, s);
  m.ep->mark_dirty(m.id);
  return Error::kNone;
}

Error Connection::consume(int64_t sid, size_t n) {
  Impl& m = *impl_;
  if (!open_state(m.state)) return Error::kClosed;
  // Unknown (already closed) streams still give connection-level credit back.
  ngtcp2_conn_extend_max_offset(m.conn, n);
  if (m.streams.count(sid)) ngtcp2_conn_extend_max_stream_offset(m.conn, sid, n);
  m.ep->mark_dirty(m.id);  // MAX_DATA / MAX_STREAM_DATA may be due
  return Error::kNone;
}

Error Connection::reset_stream(int64_t sid, uint64_t code) {
  Impl& m = *impl_;
  if (!open_state(m.state)) return Error::kClosed;
  auto it = m.streams.find(sid);
  if (it == m.streams.end()) return Error::kUnknownStream;
  it->second.write_closed = true;
  it->second.unsent.clear();
  it->second.unsent_bytes = 0;
  if (compat::shutdown_stream_write(m.conn, sid, code) != 0) return Error::kUnknownStream;
  m.ep->mark_dirty(m.id);
  return Error::kNone;
}

Error Connection::stop_sending(int64_t sid, uint64_t code) {
  Impl& m = *impl_;
  if (!open_state(m.state)) return Error::kClosed;
  if (!m.streams.count(sid)) return Error::kUnknownStream;
  if (compat::shutdown_stream_read(m.conn, sid, code) != 0) return Error::kUnknownStream;
  m.ep->mark_dirty(m.id);
  return Error::kNone;
}

void Connection::close(uint64_t app_code, uint64_t) {
  Impl& m = *impl_;
  if (!open_state(m.state) || m.close_pending) return;
  m.close_pending = true;  // the packet is made by the next write_datagrams (never inside a callback)
  m.close_app_code = app_code;
  m.ep->mark_dirty(m.id);
}

uint64_t Connection::send_window(int64_t sid) const {
  Impl& m = *impl_;
  if (!open_state(m.state) || !m.streams.count(sid)) return 0;
  return std::min(ngtcp2_conn_get_max_stream_data_left(m.conn, sid), ngtcp2_conn_get_max_data_left(m.conn));
}

size_t Connection::queued_bytes(int64_t sid) const {
  auto it = impl_->streams.find(sid);
  return it == impl_->streams.end() ? 0 : it->second.unsent_bytes;
}

}  // namespace l2n::quic
