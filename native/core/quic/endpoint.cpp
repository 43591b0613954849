// The endpoint: every connection behind one UDP socket. Routes datagrams by destination
// connection id, accepts new connections from client Initials (bounded), answers unknown versions
// with Version Negotiation, and drops everything else without keeping state.
#include <algorithm>
#include <cstring>
#include <deque>
#include <unordered_map>

#include "core/quic/connection.h"

namespace l2n::quic {

struct Endpoint::Impl final : EndpointHooks {
  EndpointConfig cfg;
  std::shared_ptr<const tls::Certificate> cert;
  EventSink* sink;
  Address local;
  int64_t unix_time;
  uint64_t next_id = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> conns;
  std::unordered_map<Cid, Connection::Impl*, CidHash> by_cid;
  std::unordered_map<ResetToken, Connection::Impl*, ResetTokenHash> by_reset_token;
  // Connections that may have output (after an input, a timer or a command), in service order.
  std::deque<uint64_t> dirty;
  struct Reply { std::vector<uint8_t> bytes; Address to; };
  // Key of our Retry tokens (ngtcp2's crypto helper seals the client address, ids and time with
  // it). Random per endpoint: tokens do not outlive the process, which is all Retry needs.
  uint8_t token_secret[32];
  uint8_t reset_key[32];
  std::deque<Reply> replies;
  size_t handshaking = 0;
  Stats stats;
  VerifiedCertificates verified;  // peer certificates verified before (cert_cache.h)
  // Timers: a min-heap of (deadline, connection) with lazy deletion: an entry is live only while
  // it equals the connection's armed_deadline. Rebuilt when stale entries pile up.
  struct Timer {
    uint64_t at;
    uint64_t conn;
    bool operator>(const Timer& o) const { return at > o.at; }
  };
  mutable std::vector<Timer> timers;
  std::vector<uint64_t> dead;                   // connections that reached kClosed, to free

  void touch(Connection::Impl& c) {
    if (c.state == Connection::State::kClosed) {
      if (!c.reap_queued) { c.reap_queued = true; dead.push_back(c.id); }
      return;
    }
    uint64_t d = c.next_deadline();
    if (c.armed_deadline == d) return;
    c.armed_deadline = d;
    if (d == UINT64_MAX) return;
    timers.push_back({d, c.id});
    std::push_heap(timers.begin(), timers.end(), std::greater<>());
    if (timers.size() > 4 * conns.size() + 64) {  // drop stale entries
      timers.clear();
      for (auto& [id, conn] : conns)
        if (conn->impl().armed_deadline != UINT64_MAX) timers.push_back({conn->impl().armed_deadline, id});
      std::make_heap(timers.begin(), timers.end(), std::greater<>());
    }
  }
  bool live(const Timer& t) const {
    auto it = conns.find(t.conn);
    return it != conns.end() && it->second->impl().armed_deadline == t.at;
  }

  // EndpointHooks
  void add_cid(const Cid& c, Connection::Impl* conn) override { by_cid[c] = conn; }
  void remove_cid(const Cid& c) override { by_cid.erase(c); }
  void add_reset_token(const ResetToken& t, Connection::Impl* conn) override { by_reset_token[t] = conn; }
  void remove_reset_token(const ResetToken& t) override { by_reset_token.erase(t); }
  void on_handshake_done(Connection::Impl* c) override {
    if (c->counted_handshaking) { c->counted_handshaking = false; handshaking--; }
  }
  int64_t unix_now() const override { return unix_time; }
  tls::Error verify_peer(gnutls_session_t session, const std::vector<uint8_t>& expected,
                         tls::PeerIdentity& out) override {
    unsigned n = 0;
    const gnutls_datum_t* certs = gnutls_certificate_get_peers(session, &n);
    if (!certs || n != 1) return tls::Error::kChainLength;
    tls::Error e;
    if (verified.lookup(certs[0].data, certs[0].size, unix_time, expected, e, out)) {
      stats.certificate_cache_hits++;
      return e;
    }
    e = tls::verify_certificate(certs[0].data, certs[0].size, unix_time, expected.data(), expected.size(), out);
    if (e == tls::Error::kNone) verified.insert(certs[0].data, certs[0].size, out);
    return e;
  }
  bool reset_token(const ngtcp2_cid& cid, uint8_t token[NGTCP2_STATELESS_RESET_TOKENLEN]) override {
    return ngtcp2_crypto_generate_stateless_reset_token(token, reset_key, sizeof reset_key, &cid) == 0;
  }

  // RFC 9000 10.3: a short-header packet for an id we do not know may be for a connection we
  // lost (restart): answer with a Stateless Reset, shorter than the packet that provoked it.
  void stateless_reset(const uint8_t* dcid, size_t dcidlen, size_t len, const Address& from) {
    if (len <= kStatelessResetLength || dcidlen != kCidLength) { stats.dropped_unknown++; return; }
    if (replies.size() >= cfg.max_stateless_replies) { stats.dropped_reply_queue_full++; return; }
    ngtcp2_cid cid;
    ngtcp2_cid_init(&cid, dcid, dcidlen);
    uint8_t token[NGTCP2_STATELESS_RESET_TOKENLEN];
    if (!reset_token(cid, token)) return;
    uint8_t rand[kStatelessResetLength - 1 - NGTCP2_STATELESS_RESET_TOKENLEN];
    if (gnutls_rnd(GNUTLS_RND_NONCE, rand, sizeof rand) != 0) return;
    std::vector<uint8_t> pkt(kStatelessResetLength);
    ngtcp2_ssize n = ngtcp2_pkt_write_stateless_reset(pkt.data(), pkt.size(), token, rand, sizeof rand);
    if (n <= 0 || static_cast<size_t>(n) >= len) return;
    pkt.resize(static_cast<size_t>(n));
    if (queue_reply(std::move(pkt), from)) stats.stateless_resets_sent++;
  }

  void mark_dirty(uint64_t id) override {
    auto c = conns.find(id);
    if (c == conns.end()) return;
    Connection::Impl& m = c->second->impl();
    touch(m);
    if (m.in_dirty) return;
    m.in_dirty = true;
    dirty.push_back(id);
  }

  Connection* add(std::unique_ptr<Connection::Impl> impl) {
    uint64_t id = impl->id;
    auto c = std::make_unique<Connection>(std::move(impl));
    Connection* raw = c.get();
    conns.emplace(id, std::move(c));
    handshaking++;
    mark_dirty(id);
    return raw;
  }

  void destroy(uint64_t id) {
    auto it = conns.find(id);
    if (it == conns.end()) return;
    Connection::Impl& m = it->second->impl();
    for (const Cid& c : m.cids) {
      auto f = by_cid.find(c);
      if (f != by_cid.end() && f->second == &m) by_cid.erase(f);
    }
    for (const ResetToken& t : m.reset_tokens) {
      auto f = by_reset_token.find(t);
      if (f != by_reset_token.end() && f->second == &m) by_reset_token.erase(f);
    }
    if (m.counted_handshaking) { m.counted_handshaking = false; handshaking--; }
    conns.erase(it);
  }

  // Frees connections whose closing/draining period is over (queued by touch()).
  void reap() {
    std::vector<uint64_t> ids;
    ids.swap(dead);
    for (uint64_t id : ids) destroy(id);
  }

  void after_input(Connection::Impl& m) {
    // A connection that failed before finishing its handshake no longer holds a handshake slot.
    if (m.state != Connection::State::kHandshaking && m.counted_handshaking &&
        m.state != Connection::State::kEstablished) {
      m.counted_handshaking = false;
      handshaking--;
    }
    mark_dirty(m.id);  // also re-arms its timer (touch)
  }

  void version_negotiation(const ngtcp2_version_cid& vc, const Address& from) {
    if (replies.size() >= cfg.max_stateless_replies) { stats.dropped_reply_queue_full++; return; }
    Reply r;
    r.to = from;
    r.bytes.resize(kMinInitialDatagram);
    uint8_t unused = 0;
    gnutls_rnd(GNUTLS_RND_NONCE, &unused, 1);
    const uint32_t versions[] = {NGTCP2_PROTO_VER_V1};
    // Echo the client's ids swapped (RFC 9000 17.2.1).
    ngtcp2_ssize n = ngtcp2_pkt_write_version_negotiation(r.bytes.data(), r.bytes.size(), unused,
                                                          vc.scid, vc.scidlen, vc.dcid, vc.dcidlen,
                                                          versions, 1);
    if (n <= 0) return;
    r.bytes.resize(static_cast<size_t>(n));
    replies.push_back(std::move(r));
    stats.version_negotiations++;
  }

  bool queue_reply(std::vector<uint8_t> bytes, const Address& to) {
    if (replies.size() >= cfg.max_stateless_replies) { stats.dropped_reply_queue_full++; return false; }
    replies.push_back(Reply{std::move(bytes), to});
    return true;
  }

  void send_retry(const ngtcp2_pkt_hd& hd, const SockAddr& sa, const Address& from, uint64_t now) {
    if (replies.size() >= cfg.max_stateless_replies) { stats.dropped_reply_queue_full++; return; }
    ngtcp2_cid retry_scid;
    retry_scid.datalen = kCidLength;
    if (gnutls_rnd(GNUTLS_RND_RANDOM, retry_scid.data, kCidLength) != 0) return;
    uint8_t token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN];
    ngtcp2_ssize tn = ngtcp2_crypto_generate_retry_token(
        token, token_secret, sizeof token_secret, hd.version, reinterpret_cast<const sockaddr*>(&sa.ss),
        sa.len, &retry_scid, &hd.dcid, now);
    if (tn < 0) return;
    std::vector<uint8_t> pkt(kMaxUdpPayload);
    ngtcp2_ssize n = ngtcp2_crypto_write_retry(pkt.data(), pkt.size(), hd.version, &hd.scid, &retry_scid,
                                               &hd.dcid, token, static_cast<size_t>(tn));
    if (n <= 0) return;
    pkt.resize(static_cast<size_t>(n));
    if (queue_reply(std::move(pkt), from)) stats.retries_sent++;
  }

  void accept(const uint8_t* data, size_t len, const Address& from, uint64_t now) {
    if (!cfg.accept_inbound) { stats.dropped_unknown++; return; }
    if (len < kMinInitialDatagram) { stats.dropped_short++; return; }
    if (handshaking >= cfg.max_handshaking || conns.size() >= cfg.max_connections) {
      stats.dropped_handshake_limit++;
      return;
    }
    ngtcp2_pkt_hd hd;
    if (ngtcp2_accept(&hd, data, len) != 0 || hd.type != NGTCP2_PKT_INITIAL) {
      stats.dropped_malformed++;
      return;
    }
    SockAddr sa;
    sa.set(from);
    const uint8_t* token = nullptr;
    size_t token_len = 0;
    compat::pkt_token(hd, token, token_len);
    ngtcp2_cid odcid;
    bool retried = false;
    if (token_len && token[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY) {
      // Bound to the client's address and our Retry's id; expired or foreign tokens are dropped
      // (the client will time out: it cannot be told apart from an attacker replaying tokens).
      if (ngtcp2_crypto_verify_retry_token(&odcid, token, token_len, token_secret, sizeof token_secret,
                                           hd.version, reinterpret_cast<const sockaddr*>(&sa.ss), sa.len,
                                           &hd.dcid, cfg.retry_token_lifetime_ns, now) != 0) {
        stats.dropped_bad_token++;
        return;
      }
      retried = true;
    }
    if (!retried && handshaking >= cfg.retry_above_handshaking) {
      send_retry(hd, sa, from, now);
      return;
    }
    auto impl = std::make_unique<Connection::Impl>();
    impl->cfg = cfg.connection;
    impl->cert = cert;
    impl->sink = sink;
    impl->ep = this;
    impl->id = next_id++;
    Error e = retried ? impl->init_server(local, from, hd, &odcid, token, token_len, now)
                      : impl->init_server(local, from, hd, nullptr, nullptr, 0, now);
    if (e != Error::kNone) {
      for (const Cid& c : impl->cids) by_cid.erase(c);
      stats.dropped_malformed++;
      return;
    }
    stats.connections_accepted++;
    Connection* c = add(std::move(impl));
    c->impl().handle_datagram(data, len, from, now);
    after_input(c->impl());
  }
};

Endpoint::Endpoint(const EndpointConfig& cfg, std::shared_ptr<const tls::Certificate> cert,
                   EventSink* sink, const Address& local, int64_t unix_now_s)
    : impl_(std::make_unique<Impl>()) {
  impl_->cfg = cfg;
  impl_->cert = std::move(cert);
  impl_->sink = sink;
  impl_->local = local;
  impl_->unix_time = unix_now_s;
  gnutls_rnd(GNUTLS_RND_KEY, impl_->token_secret, sizeof impl_->token_secret);
  if (cfg.stateless_reset_key.size() == sizeof impl_->reset_key)
    std::memcpy(impl_->reset_key, cfg.stateless_reset_key.data(), sizeof impl_->reset_key);
  else
    gnutls_rnd(GNUTLS_RND_KEY, impl_->reset_key, sizeof impl_->reset_key);
}

Endpoint::~Endpoint() {
  // Connections first: their destructors run while the routing tables still exist.
  impl_->conns.clear();
}

void Endpoint::set_accept_inbound(bool accept) { impl_->cfg.accept_inbound = accept; }

void Endpoint::set_unix_time(int64_t t) { impl_->unix_time = t; }
const Endpoint::Stats& Endpoint::stats() const { return impl_->stats; }
size_t Endpoint::connection_count() const { return impl_->conns.size(); }
size_t Endpoint::handshaking_count() const { return impl_->handshaking; }

Connection* Endpoint::find(uint64_t id) {
  auto it = impl_->conns.find(id);
  return it == impl_->conns.end() ? nullptr : it->second.get();
}

void Endpoint::handle_datagram(const uint8_t* data, size_t len, const Address& remote, uint64_t now) {
  Impl& m = *impl_;
  m.reap();
  m.stats.datagrams_in++;
  if (len == 0) { m.stats.dropped_short++; return; }
  ngtcp2_version_cid vc;
  int rv = ngtcp2_pkt_decode_version_cid(&vc, data, len, kCidLength);
  if (rv == NGTCP2_ERR_VERSION_NEGOTIATION) {
    // Unknown version in a long header: only a datagram big enough to be an Initial earns a
    // reply, so the reply is never larger than what provoked it (no amplification).
    if (m.cfg.accept_inbound && len >= kMinInitialDatagram) m.version_negotiation(vc, remote);
    else m.stats.dropped_unknown++;
    return;
  }
  // Version-independent long headers (RFC 8999) allow ids up to 255 bytes; ours and v1's are at
  // most 20, so longer ones cannot be ours (found by quic_endpoint_fuzz).
  if (rv != 0 || vc.dcidlen > NGTCP2_MAX_CIDLEN) { m.stats.dropped_malformed++; return; }
  auto it = m.by_cid.find(Cid::of(vc.dcid, vc.dcidlen));
  if (it != m.by_cid.end()) {
    Connection::Impl& c = *it->second;
    c.handle_datagram(data, len, remote, now);
    m.after_input(c);
    return;
  }
  // Unknown id. Only a long-header Initial (RFC 9000 17.2: form bit, type 0 in v1) can open a
  // connection; short headers get a Stateless Reset; other long types are dropped.
  bool long_header = (data[0] & 0x80) != 0;
  bool initial = long_header && ((data[0] & 0x30) >> 4) == 0 && vc.version == NGTCP2_PROTO_VER_V1;
  if (!long_header) {
    // Perhaps a Stateless Reset for one of our connections (its id is random; its last 16 bytes
    // are the token the peer gave us). ngtcp2 checks it again, with the path.
    if (len >= NGTCP2_STATELESS_RESET_TOKENLEN + 1 + NGTCP2_MIN_STATELESS_RESET_RANDLEN) {
      auto t = m.by_reset_token.find(ResetToken::of(data + len - NGTCP2_STATELESS_RESET_TOKENLEN));
      if (t != m.by_reset_token.end()) {
        Connection::Impl& c = *t->second;
        c.handle_datagram(data, len, remote, now);
        m.after_input(c);
        return;
      }
    }
    m.stateless_reset(vc.dcid, vc.dcidlen, len, remote);
    return;
  }
  if (!initial) { m.stats.dropped_unknown++; return; }
  m.accept(data, len, remote, now);
}

void Endpoint::handle_timeout(uint64_t now) {
  Impl& m = *impl_;
  // Take every due timer first, then run them: a connection re-armed for a time <= now waits for
  // the next call instead of looping here.
  std::vector<uint64_t> due;
  while (!m.timers.empty() && m.timers.front().at <= now) {
    Impl::Timer t = m.timers.front();
    std::pop_heap(m.timers.begin(), m.timers.end(), std::greater<>());
    m.timers.pop_back();
    if (!m.live(t)) continue;
    m.conns.find(t.conn)->second->impl().armed_deadline = UINT64_MAX;
    due.push_back(t.conn);
  }
  for (uint64_t id : due) {
    auto it = m.conns.find(id);
    if (it == m.conns.end()) continue;
    Connection::Impl& ci = it->second->impl();
    ci.handle_timeout(now);
    m.after_input(ci);
  }
  m.reap();
}

Connection* Endpoint::connect(const Address& remote, const std::vector<uint8_t>& expected,
                              uint64_t now, Error* err) {
  Impl& m = *impl_;
  m.reap();
  if (m.conns.size() >= m.cfg.max_connections) { if (err) *err = Error::kEndpointFull; return nullptr; }
  auto impl = std::make_unique<Connection::Impl>();
  impl->cfg = m.cfg.connection;
  impl->cert = m.cert;
  impl->sink = m.sink;
  impl->ep = &m;
  impl->id = m.next_id++;
  impl->expected_peer_id = expected;
  Error e = impl->init_client(m.local, remote, now);
  if (e != Error::kNone) {
    for (const Cid& c : impl->cids) m.by_cid.erase(c);
    if (err) *err = e;
    return nullptr;
  }
  if (err) *err = Error::kNone;
  return m.add(std::move(impl));
}

Transmit Endpoint::write_datagrams(uint8_t* out, size_t cap, uint64_t now) {
  Impl& m = *impl_;
  if (!m.replies.empty()) {
    Impl::Reply& r = m.replies.front();
    Transmit t;
    if (cap >= r.bytes.size()) {
      std::memcpy(out, r.bytes.data(), r.bytes.size());
      t.bytes = t.segment_size = r.bytes.size();
      t.segments = 1;
      t.remote = r.to;
    }
    m.replies.pop_front();
    if (t.bytes) return t;
  }
  while (!m.dirty.empty()) {
    uint64_t id = m.dirty.front();
    m.dirty.pop_front();
    auto it = m.conns.find(id);
    if (it == m.conns.end()) continue;
    Connection::Impl& c = it->second->impl();
    Transmit t = c.write_datagrams(out, cap, now);
    m.touch(c);  // writing moves ngtcp2's timers (loss detection, pacing, ack delay)
    if (t.bytes == 0) {
      c.in_dirty = false;
      continue;
    }
    m.dirty.push_back(id);  // may have more: served again after the others (fairness)
    return t;
  }
  m.reap();
  return {};
}

uint64_t Endpoint::next_deadline() const {
  Impl& m = *impl_;
  while (!m.timers.empty() && !m.live(m.timers.front())) {
    std::pop_heap(m.timers.begin(), m.timers.end(), std::greater<>());
    m.timers.pop_back();
  }
  return m.timers.empty() ? UINT64_MAX : m.timers.front().at;
}
}  // namespace l2n::quic
