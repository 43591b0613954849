// /tls/1.0.0: libp2p TLS 1.3 over a byte stream, as a pure engine. GnuTLS does the record layer
// and the handshake through memory transport callbacks: pull reads from our bounded input
// buffer (EAGAIN when empty), push appends to our pending output. Certificate checks are ours
// (verify_session_peer, the same as QUIC's).
#include <cerrno>
#include <cstring>
#include <string>

#include "core/tls/gnutls_glue.h"

namespace l2n::tls {

struct Session::Impl {
  SessionConfig cfg;
  gnutls_session_t s = nullptr;
  std::vector<uint8_t> in;     // received ciphertext; [in_off, size) not yet consumed by GnuTLS
  size_t in_off = 0;
  const uint8_t* view = nullptr;  // borrowed input (feed_borrowed), read after `in`
  size_t view_len = 0;
  size_t view_off = 0;
  std::vector<uint8_t> out;    // bytes to send (when no sink is set)
  OutputSink sink = nullptr;
  void* sink_ctx = nullptr;
  bool handshake_done = false;
  SessionError err = SessionError::kNone;
  Error cert_err = Error::kNone;
  PeerIdentity peer;
  std::string muxer;

  void compact() {
    if (in_off == in.size()) { in.clear(); in_off = 0; }
    else if (in_off > in.size() / 2) { in.erase(in.begin(), in.begin() + static_cast<long>(in_off)); in_off = 0; }
  }
  bool fail(SessionError e) {
    if (err == SessionError::kNone) err = e;
    return false;
  }
  bool handshake();
};

namespace {

Session::Impl* impl_of(gnutls_transport_ptr_t p) { return static_cast<Session::Impl*>(p); }

ssize_t push(gnutls_transport_ptr_t p, const void* data, size_t len) {
  auto* m = impl_of(p);
  auto* b = static_cast<const uint8_t*>(data);
  if (m->sink != nullptr) {
    m->sink(m->sink_ctx, b, len);
  } else {
    m->out.insert(m->out.end(), b, b + len);
  }
  return static_cast<ssize_t>(len);
}

ssize_t pull(gnutls_transport_ptr_t p, void* data, size_t len) {
  auto* m = impl_of(p);
  size_t avail = m->in.size() - m->in_off;
  if (avail > 0) {  // older bytes first
    size_t n = std::min(avail, len);
    std::memcpy(data, m->in.data() + m->in_off, n);
    m->in_off += n;
    return static_cast<ssize_t>(n);
  }
  size_t vavail = m->view_len - m->view_off;
  if (vavail == 0) {
    gnutls_transport_set_errno(m->s, EAGAIN);
    return -1;
  }
  size_t n = std::min(vavail, len);
  std::memcpy(data, m->view + m->view_off, n);
  m->view_off += n;
  return static_cast<ssize_t>(n);
}

int pull_timeout(gnutls_transport_ptr_t p, unsigned int) {
  auto* m = impl_of(p);
  return m->in.size() > m->in_off || m->view_len > m->view_off ? 1 : 0;
}

int verify(gnutls_session_t session) {
  auto* m = static_cast<Session::Impl*>(gnutls_session_get_ptr(session));
  Error e = verify_session_peer(session, m->cfg.unix_now_s, m->cfg.expected_peer_id, m->peer);
  if (e != Error::kNone) {
    m->cert_err = e;
    return -1;
  }
  return 0;
}

}  // namespace

bool Session::Impl::handshake() {
  int rv = gnutls_handshake(s);
  if (rv == GNUTLS_E_AGAIN || rv == GNUTLS_E_INTERRUPTED) return true;
  if (rv < 0) {
    // Tell the peer why (bad_certificate when our checks refused it), unless GnuTLS has already.
    if (cert_err != Error::kNone) {
      gnutls_alert_send(s, GNUTLS_AL_FATAL, GNUTLS_A_BAD_CERTIFICATE);
      return fail(SessionError::kCertificate);
    }
    gnutls_alert_send_appropriate(s, rv);
    return fail(SessionError::kHandshake);
  }
  gnutls_datum_t alpn{};
  if (gnutls_alpn_get_selected_protocol(s, &alpn) != 0) return fail(SessionError::kHandshake);
  std::string selected(reinterpret_cast<const char*>(alpn.data), alpn.size);
  if (selected != kAlpn) {
    bool ours = false;
    for (const std::string& m : cfg.muxers) ours = ours || m == selected;
    if (!ours) return fail(SessionError::kHandshake);
    muxer = std::move(selected);
  }
  if (peer.peer_id.empty()) {  // GnuTLS finished without our verify callback: never accept
    cert_err = Error::kChainLength;
    return fail(SessionError::kCertificate);
  }
  handshake_done = true;
  return true;
}

Session::Session(const SessionConfig& cfg) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.cfg = cfg;
  unsigned flags = (cfg.is_server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NONBLOCK | GNUTLS_NO_TICKETS;
  if (!cfg.cert || gnutls_init(&m.s, flags) < 0) { m.s = nullptr; m.fail(SessionError::kInternal); return; }
  if (configure_session(m.s, *cfg.cert, cfg.is_server, verify, cfg.muxers) < 0) { m.fail(SessionError::kInternal); return; }
  gnutls_session_set_ptr(m.s, &m);
  gnutls_transport_set_ptr(m.s, &m);
  gnutls_transport_set_push_function(m.s, push);
  gnutls_transport_set_pull_function(m.s, pull);
  gnutls_transport_set_pull_timeout_function(m.s, pull_timeout);
}

Session::~Session() {
  if (impl_->s) gnutls_deinit(impl_->s);
}

bool Session::start() {
  Impl& m = *impl_;
  if (m.err != SessionError::kNone) return false;
  if (m.cfg.is_server) return true;
  return m.handshake();
}

bool Session::feed(const uint8_t* data, size_t len) {
  Impl& m = *impl_;
  if (m.err != SessionError::kNone && m.err != SessionError::kClosed) return false;
  m.compact();
  if (m.in.size() - m.in_off + len > kMaxBufferedInput) return m.fail(SessionError::kInputTooLarge);
  m.in.insert(m.in.end(), data, data + len);
  if (!m.handshake_done) return m.handshake();
  return true;
}

bool Session::feed_borrowed(const uint8_t* data, size_t len) {
  Impl& m = *impl_;
  if (m.err != SessionError::kNone && m.err != SessionError::kClosed) return false;
  m.view = data;
  m.view_len = len;
  m.view_off = 0;
  if (!m.handshake_done) return m.handshake();
  return true;
}

bool Session::release_input() {
  Impl& m = *impl_;
  size_t rest = m.view_len - m.view_off;
  const uint8_t* p = m.view + m.view_off;
  m.view = nullptr;
  m.view_len = m.view_off = 0;
  if (m.err != SessionError::kNone && m.err != SessionError::kClosed) return false;
  if (rest == 0) return true;
  m.compact();
  if (m.in.size() - m.in_off + rest > kMaxBufferedInput) return m.fail(SessionError::kInputTooLarge);
  m.in.insert(m.in.end(), p, p + rest);
  return true;
}

void Session::set_output_sink(OutputSink sink, void* ctx) {
  impl_->sink = sink;
  impl_->sink_ctx = ctx;
}

size_t Session::read(uint8_t* dst, size_t cap) {
  Impl& m = *impl_;
  if (!m.handshake_done || m.err != SessionError::kNone || cap == 0) return 0;
  ssize_t n = gnutls_record_recv(m.s, dst, cap);
  if (n > 0) return static_cast<size_t>(n);
  if (n == 0) { m.fail(SessionError::kClosed); return 0; }
  if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) return 0;
  // A fatal alert after our handshake completed: the server refused our certificate (spec note
  // for clients) or gave up for another reason.
  m.fail(n == GNUTLS_E_FATAL_ALERT_RECEIVED ? SessionError::kHandshake : SessionError::kDecrypt);
  return 0;
}

bool Session::write(const uint8_t* data, size_t len) {
  Impl& m = *impl_;
  if (!m.handshake_done || m.err != SessionError::kNone) return false;
  gnutls_record_cork(m.s);  // all records of this call in one push
  while (len) {
    size_t n = std::min(len, kMaxRecordPlaintext);
    ssize_t w = gnutls_record_send(m.s, data, n);
    if (w < 0) return m.fail(SessionError::kInternal);
    data += w;
    len -= static_cast<size_t>(w);
  }
  // Push never blocks (it appends to memory), so uncorking completes at once.
  if (gnutls_record_uncork(m.s, GNUTLS_RECORD_WAIT) < 0) return m.fail(SessionError::kInternal);
  return true;
}

void Session::close() {
  Impl& m = *impl_;
  if (m.s && m.handshake_done) gnutls_bye(m.s, GNUTLS_SHUT_WR);
}

void Session::poll_output(std::vector<uint8_t>& out) {
  Impl& m = *impl_;
  if (out.empty()) out.swap(m.out);
  else out.insert(out.end(), m.out.begin(), m.out.end());
  m.out.clear();
}

size_t Session::input_room() const {
  size_t buffered = impl_->in.size() - impl_->in_off;
  return buffered >= kMaxBufferedInput ? 0 : kMaxBufferedInput - buffered;
}
bool Session::done() const { return impl_->handshake_done; }
SessionError Session::error() const { return impl_->err; }
Error Session::certificate_error() const { return impl_->cert_err; }
const PeerIdentity& Session::remote() const { return impl_->peer; }
const std::string& Session::selected_muxer() const { return impl_->muxer; }

}  // namespace l2n::tls
