// QUIC engine tests in virtual time: two Endpoints exchange datagrams through an in-memory network
// with a fixed one-way delay and a simulated clock (no sockets, no sleeping). Covers the 1-RTT
// handshake with mutual libp2p authentication, rejections (wrong PeerId, no extension, bad host
// signature, expired), multi-MiB transfers both ways, stream reset / stop-sending / limits, idle
// timeout and keep-alive, and hostile input (garbage, truncation, Initial floods).
#include <algorithm>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <random>

#include "l2n/quic.h"
#include "tls_helpers.h"

using namespace l2n_test;
using l2n::quic::Address;
using l2n::quic::Connection;
using l2n::quic::Endpoint;
using l2n::quic::EndpointConfig;
using l2n::quic::Error;
using l2n::quic::Event;
using l2n::quic::EventType;
using l2n::quic::Transmit;

namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kDelay = 10 * kMs;  // one-way delay of the simulated link: RTT 20 ms

struct Recorded {
  EventType type;
  uint64_t conn;
  int64_t stream;
  uint64_t value;
  Error error;
  l2n::tls::Error tls_error;
  uint64_t at;
  std::vector<uint8_t> peer_id;
};

// Records events, collects stream data (copied: the pointers are lent) and consumes it at once.
struct Peer : l2n::quic::EventSink {
  std::unique_ptr<Endpoint> ep;
  Address addr;
  uint64_t* clock = nullptr;
  std::vector<Recorded> events;
  std::map<std::pair<uint64_t, int64_t>, std::vector<uint8_t>> received;
  std::map<std::pair<uint64_t, int64_t>, bool> fin;
  std::function<void(const Event&)> hook;
  bool auto_consume = true;

  void on_event(const Event& e) override {
    Recorded r{e.type, e.conn, e.stream, e.value, e.error, e.tls_error, clock ? *clock : 0, {}};
    if (e.peer) r.peer_id = e.peer->peer_id;
    events.push_back(r);
    if (e.type == EventType::kStreamData) {
      auto& buf = received[{e.conn, e.stream}];
      CHECK_EQ(e.value, uint64_t(buf.size()));  // in order, no gaps
      buf.insert(buf.end(), e.data, e.data + e.len);
      if (e.fin) fin[{e.conn, e.stream}] = true;
      if (auto_consume && ep) {
        if (auto* c = ep->find(e.conn)) c->consume(e.stream, e.len);
      }
    }
    if (hook) hook(e);
  }
  const std::vector<uint8_t>& rx(uint64_t conn, int64_t stream) { return received[std::make_pair(conn, stream)]; }
  const Recorded* first(EventType t) const {
    for (auto& e : events) if (e.type == t) return &e;
    return nullptr;
  }
  size_t count(EventType t) const {
    return static_cast<size_t>(std::count_if(events.begin(), events.end(), [&](auto& e) { return e.type == t; }));
  }
};

struct Datagram { uint64_t at; Address from, to; std::vector<uint8_t> bytes; };

struct Net {
  uint64_t now = 1'000'000'000;  // virtual monotonic clock
  std::vector<Peer*> peers;
  std::deque<Datagram> wire;
  std::function<bool(Datagram&)> filter;  // return false to drop
  size_t max_segments_seen = 0;
  std::vector<uint8_t> buf = std::vector<uint8_t>(l2n::quic::kMaxGsoBytes);

  Peer* at(const Address& a) {
    for (Peer* p : peers) if (p->addr == a) return p;
    return nullptr;
  }
  void flush() {
    for (Peer* p : peers) {
      for (;;) {
        Transmit t = p->ep->write_datagrams(buf.data(), buf.size(), now);
        if (t.bytes == 0) break;
        CHECK(t.segments >= 1 && t.segment_size > 0 && t.segment_size <= l2n::quic::kMaxUdpPayload);
        CHECK(t.bytes <= t.segments * t.segment_size && t.bytes > (t.segments - 1) * t.segment_size);
        max_segments_seen = std::max(max_segments_seen, t.segments);
        if (getenv("QT_TRACE")) std::fprintf(stderr, "  t=%.3fms %s -> %u bytes=%zu segs=%zu\n", (now - 1e9) / 1e6, p == peers[0] ? "A" : "B", t.remote.port, t.bytes, t.segments);
        for (size_t off = 0; off < t.bytes; off += t.segment_size) {
          size_t n = std::min(t.segment_size, t.bytes - off);
          Datagram d{now + kDelay, p->addr, t.remote, {buf.begin() + long(off), buf.begin() + long(off + n)}};
          if (!filter || filter(d)) wire.push_back(std::move(d));
        }
      }
    }
  }
  // Runs the network until `done` holds or `limit` of virtual time has passed. Returns done().
  bool run(const std::function<bool()>& done, uint64_t limit = 30'000 * kMs) {
    uint64_t end = now + limit;
    for (;;) {
      flush();
      if (done()) return true;
      uint64_t next = UINT64_MAX;
      for (auto& d : wire) next = std::min(next, d.at);
      for (Peer* p : peers) next = std::min(next, p->ep->next_deadline());
      if (next == UINT64_MAX || next > end) return done();
      now = std::max(now, next);
      // Deliver everything due, in order.
      std::deque<Datagram> later;
      std::vector<Datagram> due;
      for (auto& d : wire) {
        if (d.at <= now) due.push_back(std::move(d));
        else later.push_back(std::move(d));
      }
      wire.swap(later);
      std::stable_sort(due.begin(), due.end(), [](auto& a, auto& b) { return a.at < b.at; });
      for (auto& d : due)
        if (Peer* p = at(d.to)) p->ep->handle_datagram(d.bytes.data(), d.bytes.size(), d.from, now);
      for (Peer* p : peers)
        if (p->ep->next_deadline() <= now) p->ep->handle_timeout(now);
    }
  }
};

struct Pair {
  HostKey client_key = HostKey::make(1), server_key = HostKey::make(1);
  Peer client, server;
  Net net;
  Pair(EndpointConfig cfg = {}, std::shared_ptr<const l2n::tls::Certificate> server_cert = nullptr,
       std::shared_ptr<const l2n::tls::Certificate> client_cert = nullptr) {
    client.addr = Address::v4(10, 0, 0, 1, 40000);
    server.addr = Address::v4(10, 0, 0, 2, 4001);
    client.clock = server.clock = &net.now;
    EndpointConfig ccfg = cfg;
    ccfg.accept_inbound = false;
    client.ep = std::make_unique<Endpoint>(ccfg, client_cert ? client_cert : make_cert(client_key), &client,
                                           client.addr, kNow);
    server.ep = std::make_unique<Endpoint>(cfg, server_cert ? server_cert : make_cert(server_key), &server,
                                           server.addr, kNow);
    net.peers = {&client, &server};
  }
  Connection* dial(const std::vector<uint8_t>& expected) {
    Error err = Error::kInternal;
    Connection* c = client.ep->connect(server.addr, expected, net.now, &err);
    CHECK(c != nullptr);
    CHECK(err == Error::kNone);
    return c;
  }
  bool handshake(Connection* c) {
    uint64_t id = c->id();
    return net.run([&] {
      return server.first(EventType::kHandshakeCompleted) != nullptr ||
             client.first(EventType::kConnectionClosed) != nullptr ||
             server.first(EventType::kConnectionClosed) != nullptr || !client.ep->find(id);
    });
  }
};

std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  std::mt19937 rng(seed);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

}  // namespace

TEST(handshake_one_rtt_mutual_auth) {
  Pair p;
  uint64_t t0 = p.net.now;
  Connection* c = p.dial(p.server_key.peer_id());
  CHECK(p.handshake(c));
  auto* ch = p.client.first(EventType::kHandshakeCompleted);
  auto* sh = p.server.first(EventType::kHandshakeCompleted);
  CHECK(ch && sh);
  // Client: Initial out, server's whole flight back: exactly one round trip.
  CHECK_EQ(ch->at - t0, 2 * kDelay);
  // Server: completes when the client's Finished arrives, half a round trip later.
  CHECK_EQ(sh->at - t0, 3 * kDelay);
  CHECK(ch->peer_id == p.server_key.peer_id());
  CHECK(sh->peer_id == p.client_key.peer_id());
  CHECK(c->state() == Connection::State::kEstablished);
  CHECK(c->remote().public_key == p.server_key.proto);
  Connection* s = p.server.ep->find(sh->conn);
  CHECK(s && s->is_server());
  CHECK(s->remote().public_key == p.client_key.proto);
  CHECK_EQ(p.server.ep->handshaking_count(), size_t{0});
  CHECK(p.client.first(EventType::kConnectionClosed) == nullptr);
  CHECK(p.server.first(EventType::kConnectionClosed) == nullptr);
}

// A peer's certificate verified once is only looked up on its next connection (cert_cache.h),
// and what depends on the connection is still checked: the expected PeerId and the validity.
TEST(second_connection_reuses_verified_certificate) {
  Pair p;
  Connection* c1 = p.dial(p.server_key.peer_id());
  CHECK(p.handshake(c1));
  CHECK_EQ(p.client.ep->stats().certificate_cache_hits, uint64_t{0});
  CHECK_EQ(p.server.ep->stats().certificate_cache_hits, uint64_t{0});
  p.client.events.clear();
  p.server.events.clear();
  Connection* c2 = p.dial(p.server_key.peer_id());
  CHECK(p.handshake(c2));
  auto* ch = p.client.first(EventType::kHandshakeCompleted);
  auto* sh = p.server.first(EventType::kHandshakeCompleted);
  CHECK(ch && sh && ch->conn == c2->id());
  CHECK(ch->peer_id == p.server_key.peer_id());
  CHECK(sh->peer_id == p.client_key.peer_id());
  CHECK(c2->remote().public_key == p.server_key.proto);
  CHECK(p.server.ep->find(sh->conn)->remote().public_key == p.client_key.proto);
  CHECK_EQ(p.client.ep->stats().certificate_cache_hits, uint64_t{1});
  CHECK_EQ(p.server.ep->stats().certificate_cache_hits, uint64_t{1});
  // The same (cached) certificate under another expected PeerId is still refused, typed.
  p.client.events.clear();
  p.server.events.clear();
  Connection* c3 = p.dial(HostKey::make(1).peer_id());
  uint64_t id3 = c3->id();
  p.net.run([&] { return p.client.first(EventType::kConnectionClosed) != nullptr; });
  auto* cc = p.client.first(EventType::kConnectionClosed);
  CHECK(cc && cc->conn == id3);
  CHECK(cc->error == Error::kCertificateRejected);
  CHECK(cc->tls_error == l2n::tls::Error::kPeerIdMismatch);
  CHECK(p.client.first(EventType::kHandshakeCompleted) == nullptr);
  CHECK_EQ(p.client.ep->stats().certificate_cache_hits, uint64_t{2});
}

TEST(cached_certificate_still_expires) {
  auto host = HostKey::make(1);
  l2n::tls::CertificateRequest req;
  CHECK(req.generate(kNow - 3600, kNow + 60) == l2n::tls::Error::kNone);
  auto sig = host.sign(req.message_to_sign());
  std::shared_ptr<const l2n::tls::Certificate> cert;
  CHECK(req.finish(host.proto.data(), host.proto.size(), sig.data(), sig.size(), cert) == l2n::tls::Error::kNone);
  Pair p(EndpointConfig{}, cert);
  CHECK(p.handshake(p.dial(host.peer_id())));
  CHECK(p.client.first(EventType::kHandshakeCompleted) != nullptr);
  p.client.events.clear();
  p.server.events.clear();
  p.client.ep->set_unix_time(kNow + 61);  // one second past the certificate's NotAfter
  p.dial(host.peer_id());
  p.net.run([&] { return p.client.first(EventType::kConnectionClosed) != nullptr; });
  auto* cc = p.client.first(EventType::kConnectionClosed);
  CHECK(cc && cc->error == Error::kCertificateRejected);
  CHECK(cc->tls_error == l2n::tls::Error::kExpired);
  CHECK(p.client.first(EventType::kHandshakeCompleted) == nullptr);
  CHECK_EQ(p.client.ep->stats().certificate_cache_hits, uint64_t{0});
}

TEST(handshake_every_host_key_type) {
  for (int type : {0, 2, 3}) {
    Pair p;
    p.client_key = HostKey::make(type);
    p.server_key = HostKey::make(type);
    p.client.ep = std::make_unique<Endpoint>(EndpointConfig{.accept_inbound = false}, make_cert(p.client_key),
                                             &p.client, p.client.addr, kNow);
    p.server.ep = std::make_unique<Endpoint>(EndpointConfig{}, make_cert(p.server_key), &p.server,
                                             p.server.addr, kNow);
    Connection* c = p.dial(p.server_key.peer_id());
    CHECK(p.handshake(c));
    auto* sh = p.server.first(EventType::kHandshakeCompleted);
    CHECK(sh && sh->peer_id == p.client_key.peer_id());
  }
}

TEST(wrong_expected_peer_id_fails_typed) {
  Pair p;
  auto other = HostKey::make(1);
  Connection* c = p.dial(other.peer_id());
  uint64_t id = c->id();
  p.net.run([&] { return p.server.first(EventType::kConnectionClosed) != nullptr; });
  auto* cc = p.client.first(EventType::kConnectionClosed);
  CHECK(cc && cc->conn == id);
  CHECK(cc->error == Error::kCertificateRejected);
  CHECK(cc->tls_error == l2n::tls::Error::kPeerIdMismatch);
  CHECK(p.client.first(EventType::kHandshakeCompleted) == nullptr);
  // The server hears a TLS alert in CONNECTION_CLOSE (crypto error range 0x100-0x1ff).
  auto* sc = p.server.first(EventType::kConnectionClosed);
  CHECK(sc && sc->error == Error::kHandshakeFailed);
  CHECK(sc->value >= 0x100 && sc->value <= 0x1ff);
  CHECK(p.server.first(EventType::kHandshakeCompleted) == nullptr);
  // Both sides free everything after the closing period.
  p.net.run([&] { return p.client.ep->connection_count() == 0 && p.server.ep->connection_count() == 0; });
  CHECK_EQ(p.client.ep->connection_count(), size_t{0});
  CHECK_EQ(p.server.ep->connection_count(), size_t{0});
  CHECK_EQ(p.server.ep->handshaking_count(), size_t{0});
}

static void expect_server_cert_rejected(std::shared_ptr<const l2n::tls::Certificate> cert, l2n::tls::Error want) {
  Pair p(EndpointConfig{}, cert);
  p.dial({});
  p.net.run([&] { return p.client.first(EventType::kConnectionClosed) != nullptr; });
  auto* cc = p.client.first(EventType::kConnectionClosed);
  CHECK(cc != nullptr);
  CHECK(cc->error == Error::kCertificateRejected);
  if (cc->tls_error != want) std::fprintf(stderr, "  got %s\n", l2n::tls::error_name(cc->tls_error));
  CHECK(cc->tls_error == want);
  CHECK(p.client.first(EventType::kHandshakeCompleted) == nullptr);
}

TEST(server_certificate_without_extension_rejected) {
  l2n::tls::CertificateRequest req;
  CHECK(req.generate(kNow) == l2n::tls::Error::kNone);
  std::shared_ptr<const l2n::tls::Certificate> cert;
  CHECK(req.finish_raw(nullptr, 0, false, cert) == l2n::tls::Error::kNone);
  expect_server_cert_rejected(cert, l2n::tls::Error::kMissingExtension);
}

TEST(server_certificate_bad_signature_rejected) {
  auto host = HostKey::make(1);
  l2n::tls::CertificateRequest req;
  CHECK(req.generate(kNow) == l2n::tls::Error::kNone);
  auto sig = host.sign(req.message_to_sign());
  sig[0] ^= 1;
  std::shared_ptr<const l2n::tls::Certificate> cert;
  CHECK(req.finish(host.proto.data(), host.proto.size(), sig.data(), sig.size(), cert) == l2n::tls::Error::kNone);
  expect_server_cert_rejected(cert, l2n::tls::Error::kBadHostSignature);
}

TEST(server_certificate_expired_rejected) {
  auto host = HostKey::make(1);
  l2n::tls::CertificateRequest req;
  CHECK(req.generate(kNow - 86400, kNow - 60) == l2n::tls::Error::kNone);
  auto sig = host.sign(req.message_to_sign());
  std::shared_ptr<const l2n::tls::Certificate> cert;
  CHECK(req.finish(host.proto.data(), host.proto.size(), sig.data(), sig.size(), cert) == l2n::tls::Error::kNone);
  expect_server_cert_rejected(cert, l2n::tls::Error::kExpired);
}

TEST(client_certificate_rejected_by_server) {
  // The client's certificate has a bad host signature: the server rejects it after the client
  // already considers the handshake done (TLS 1.3: the client finishes first), and closes.
  auto host = HostKey::make(1);
  l2n::tls::CertificateRequest req;
  CHECK(req.generate(kNow) == l2n::tls::Error::kNone);
  auto sig = host.sign(req.message_to_sign());
  sig[3] ^= 0x10;
  std::shared_ptr<const l2n::tls::Certificate> bad;
  CHECK(req.finish(host.proto.data(), host.proto.size(), sig.data(), sig.size(), bad) == l2n::tls::Error::kNone);
  Pair p(EndpointConfig{}, nullptr, bad);
  p.dial(p.server_key.peer_id());
  p.net.run([&] { return p.client.first(EventType::kConnectionClosed) != nullptr; });
  auto* sc = p.server.first(EventType::kConnectionClosed);
  CHECK(sc && sc->error == Error::kCertificateRejected && sc->tls_error == l2n::tls::Error::kBadHostSignature);
  CHECK(p.server.first(EventType::kHandshakeCompleted) == nullptr);
  auto* cc = p.client.first(EventType::kConnectionClosed);
  CHECK(cc && cc->error == Error::kHandshakeFailed);
  CHECK_EQ(p.server.ep->handshaking_count(), size_t{0});
}

TEST(multi_mib_both_ways_intact) {
  Pair p;
  const size_t kSize = 6 << 20;
  auto up = pattern(kSize, 1), down = pattern(kSize, 2);
  // The server answers each stream with `down` once the client's data is complete.
  p.server.hook = [&](const Event& e) {
    if (e.type == EventType::kStreamData && e.fin) {
      Connection* s = p.server.ep->find(e.conn);
      CHECK(s->send(e.stream, down.data(), down.size(), true) == Error::kNone);
    }
  };
  Connection* c = p.dial(p.server_key.peer_id());
  CHECK(p.handshake(c));
  Error err;
  int64_t sid = c->open_stream(&err);
  CHECK(err == Error::kNone && sid == 0);
  // Several sends, to exercise chunk boundaries inside one packet.
  size_t third = kSize / 3;
  CHECK(c->send(sid, up.data(), third, false) == Error::kNone);
  CHECK(c->send(sid, up.data() + third, 7, false) == Error::kNone);
  CHECK(c->send(sid, up.data() + third + 7, kSize - third - 7, true) == Error::kNone);
  CHECK(c->send(sid, up.data(), 1, false) == Error::kStreamFinished);
  uint64_t cid = c->id();
  CHECK(p.net.run([&] { return p.client.fin.count({cid, sid}) > 0; }, 60'000 * kMs));
  auto sh = p.server.first(EventType::kHandshakeCompleted);
  CHECK(p.server.rx(sh->conn, sid) == up);
  CHECK(p.client.rx(cid, sid) == down);
  // Every byte we sent was acknowledged before the stream closed.
  p.net.run([&] { return p.server.count(EventType::kStreamClosed) > 0 && p.client.count(EventType::kStreamClosed) > 0; });
  uint64_t acked = 0;
  for (auto& e : p.client.events) if (e.type == EventType::kStreamAcked && e.stream == sid) acked = std::max(acked, e.value);
  CHECK_EQ(acked, uint64_t(kSize));
  CHECK(p.net.max_segments_seen > 1);  // GSO-style batches were produced
}

// Connection::congestion_stats: ngtcp2's window and RTTs, and how send bursts ended, under every
// congestion controller Config offers (each must also carry a transfer). A 4 MiB upload cannot
// leave in the initial window, so the sender's bursts end cwnd-limited; the receiver only
// acknowledges and never fills a window; the RTTs are at least the virtual path's round trip.
TEST(congestion_stats_report_window_rtt_and_burst_ends) {
  using CC = l2n::quic::Config::CongestionControl;
  for (CC cc : {CC::kCubic, CC::kReno, CC::kBbr, CC::kBbr2}) {
    EndpointConfig cfg;
    cfg.connection.congestion_control = cc;
    Pair p(cfg);
    const size_t kSize = 4 << 20;
    auto up = pattern(kSize, 3);
    Connection* c = p.dial(p.server_key.peer_id());
    CHECK(p.handshake(c));
    Error err;
    int64_t sid = c->open_stream(&err);
    CHECK(err == Error::kNone);
    CHECK(c->send(sid, up.data(), kSize, true) == Error::kNone);
    uint64_t cid = c->id();
    auto acked = [&] {
      uint64_t a = 0;
      for (auto& e : p.client.events)
        if (e.type == EventType::kStreamAcked && e.conn == cid && e.stream == sid) a = std::max(a, e.value);
      return a;
    };
    CHECK(p.net.run([&] { return acked() >= kSize; }, 60'000 * kMs));
    auto sh = p.server.first(EventType::kHandshakeCompleted);
    CHECK(p.server.rx(sh->conn, sid) == up);
    Connection::CongestionStats s = c->congestion_stats();
    CHECK(s.cwnd > 0);
    CHECK(s.min_rtt_ns >= 2 * kDelay);
    CHECK(s.smoothed_rtt_ns >= s.min_rtt_ns);
    CHECK(s.latest_rtt_ns >= s.min_rtt_ns);
    CHECK(s.bursts_cwnd_limited > 0);
    Connection* srv = p.server.ep->find(sh->conn);
    CHECK(srv != nullptr);
    Connection::CongestionStats r = srv->congestion_stats();
    CHECK_EQ(r.bursts_cwnd_limited, uint64_t(0));
    CHECK(r.bursts_app_limited > 0);
    CHECK(r.min_rtt_ns >= 2 * kDelay);
  }
}

TEST(many_streams_interleaved) {
  Pair p;
  Connection* c = p.dial(p.server_key.peer_id());
  CHECK(p.handshake(c));
  std::vector<std::vector<uint8_t>> data;
  std::vector<int64_t> ids;
  for (int i = 0; i < 16; i++) {
    data.push_back(pattern(100000 + 1000 * size_t(i), 10 + uint32_t(i)));
    Error err;
    ids.push_back(c->open_stream(&err));
    CHECK(err == Error::kNone);
    CHECK(c->send(ids.back(), data.back().data(), data.back().size(), true) == Error::kNone);
  }
  uint64_t sconn = p.server.first(EventType::kHandshakeCompleted)->conn;
  CHECK(p.net.run([&] {
    for (auto id : ids) if (!p.server.fin.count({sconn, id})) return false;
    return true;
  }));
  for (size_t i = 0; i < ids.size(); i++) CHECK(p.server.rx(sconn, ids[i]) == data[i]);
  CHECK_EQ(p.server.count(EventType::kStreamOpened), size_t{16});
}

TEST(stream_limit_and_credit_return) {
  EndpointConfig cfg;
  cfg.connection.max_concurrent_streams = 4;
  Pair p(cfg);
  Connection* c = p.dial(p.server_key.peer_id());
  CHECK(p.handshake(c));
  std::vector<int64_t> ids;
  Error err;
  for (int i = 0; i < 4; i++) { ids.push_back(c->open_stream(&err)); CHECK(err == Error::kNone); }
  CHECK_EQ(c->open_stream(&err), int64_t{-1});
  CHECK(err == Error::kStreamLimit);
  // The server finishes its side of each stream when ours is done: streams close, credit returns.
  p.server.hook = [&](const Event& e) {
    if (e.type == EventType::kStreamData && e.fin) p.server.ep->find(e.conn)->send(e.stream, nullptr, 0, true);
  };
  uint8_t b = 1;
  size_t before = p.client.count(EventType::kStreamsAvailable);  // one came with the transport parameters
  for (auto id : ids) CHECK(c->send(id, &b, 1, true) == Error::kNone);
  CHECK(p.net.run([&] { return p.client.count(EventType::kStreamsAvailable) > before; }));
  int64_t again = c->open_stream(&err);
  CHECK(err == Error::kNone && again >= 16);
}

TEST(reset_and_stop_sending) {
  Pair p;
  Connection* c = p.dial(p.server_key.peer_id());
  CHECK(p.handshake(c));
  uint64_t sconn = p.server.first(EventType::kHandshakeCompleted)->conn;
  Error err;
  int64_t a = c->open_stream(&err), b = c->open_stream(&err);
  auto data = pattern(1000, 3);
  CHECK(c->send(a, data.data(), data.size(), false) == Error::kNone);
  CHECK(c->send(b, data.data(), data.size(), false) == Error::kNone);
  CHECK(p.net.run([&] { return p.server.received[{sconn, a}].size() == 1000 && p.server.received[{sconn, b}].size() == 1000; }));
  CHECK(c->reset_stream(a, 77) == Error::kNone);
  CHECK(c->send(a, data.data(), 1, false) == Error::kStreamFinished);
  CHECK(p.net.run([&] { return p.server.first(EventType::kStreamReset) != nullptr; }));
  auto* r = p.server.first(EventType::kStreamReset);
  CHECK(r->stream == a && r->value == 77);
  // The server asks us to stop sending on b; our next write learns it.
  CHECK(p.server.ep->find(sconn)->stop_sending(b, 5) == Error::kNone);
  p.net.run([&] { return false; }, 200 * kMs);
  c->send(b, data.data(), data.size(), false);
  CHECK(p.net.run([&] { return p.client.first(EventType::kStopSending) != nullptr; }));
  CHECK(p.client.first(EventType::kStopSending)->stream == b);
  CHECK(c->state() == Connection::State::kEstablished);
  CHECK(c->reset_stream(999, 1) == Error::kUnknownStream);
}

TEST(client_address_change_is_followed) {
  // NAT rebinding: mid-transfer the client's packets start arriving from another port. ngtcp2
  // validates the new path; the server must answer there and the data must still arrive whole.
  Pair p;
  Connection* c = p.dial(p.server_key.peer_id());
  CHECK(p.handshake(c));
  uint64_t sconn = p.server.first(EventType::kHandshakeCompleted)->conn;
  auto data = pattern(2 << 20, 11);
  Error err;
  int64_t sid = c->open_stream(&err);
  CHECK(c->send(sid, data.data(), data.size(), true) == Error::kNone);
  CHECK(p.net.run([&] { return p.server.rx(sconn, sid).size() > 300000; }));
  Address old_addr = p.client.addr, new_addr = Address::v4(10, 0, 0, 1, 40999);
  // Rewrite the source of the client's datagrams, and deliver the server's replies to the new
  // address to the client.
  p.net.filter = [&](Datagram& d) {
    if (d.from == old_addr) d.from = new_addr;
    if (d.to == new_addr) d.to = old_addr;
    return true;
  };
  std::vector<Address> server_sent_to;
  auto base = p.net.filter;
  p.net.filter = [&, base](Datagram& d) {
    if (d.from == p.server.addr) server_sent_to.push_back(d.to);
    return base(d);
  };
  CHECK(p.net.run([&] { return p.server.fin.count({sconn, sid}) > 0; }));
  CHECK(p.server.rx(sconn, sid) == data);
  CHECK(std::find(server_sent_to.begin(), server_sent_to.end(), new_addr) != server_sent_to.end());
  CHECK(p.client.first(EventType::kConnectionClosed) == nullptr);
  CHECK(p.server.first(EventType::kConnectionClosed) == nullptr);
}

TEST(application_close_reaches_peer) {
  Pair p;
  Connection* c = p.dial(p.server_key.peer_id());
  CHECK(p.handshake(c));
  c->close(0x42, p.net.now);
  CHECK(p.net.run([&] { return p.server.first(EventType::kConnectionClosed) != nullptr; }));
  auto* sc = p.server.first(EventType::kConnectionClosed);
  CHECK(sc->error == Error::kPeerClosed && sc->value == 0x42);
  auto* cc = p.client.first(EventType::kConnectionClosed);
  CHECK(cc && cc->error == Error::kLocallyClosed);
  Error err;
  CHECK(c->open_stream(&err) == -1 && err == Error::kClosed);
  CHECK(p.net.run([&] { return p.client.ep->connection_count() == 0 && p.server.ep->connection_count() == 0; }));
}

TEST(idle_timeout_without_keep_alive) {
  EndpointConfig cfg;
  cfg.connection.keep_alive_interval_ns = 0;
  cfg.connection.max_idle_timeout_ns = 2000 * kMs;
  Pair p(cfg);
  Connection* c = p.dial(p.server_key.peer_id());
  CHECK(p.handshake(c));
  uint64_t t = p.net.now;
  CHECK(p.net.run([&] { return p.client.first(EventType::kConnectionClosed) && p.server.first(EventType::kConnectionClosed); }));
  CHECK(p.client.first(EventType::kConnectionClosed)->error == Error::kIdleTimeout);
  CHECK(p.server.first(EventType::kConnectionClosed)->error == Error::kIdleTimeout);
  uint64_t waited = p.client.first(EventType::kConnectionClosed)->at - t;
  CHECK(waited >= 2000 * kMs && waited < 3000 * kMs);
}

TEST(keep_alive_keeps_connection_open) {
  EndpointConfig cfg;
  cfg.connection.keep_alive_interval_ns = 500 * kMs;
  cfg.connection.max_idle_timeout_ns = 2000 * kMs;
  Pair p(cfg);
  Connection* c = p.dial(p.server_key.peer_id());
  CHECK(p.handshake(c));
  p.net.run([&] { return false; }, 20'000 * kMs);
  CHECK(p.client.first(EventType::kConnectionClosed) == nullptr);
  CHECK(p.server.first(EventType::kConnectionClosed) == nullptr);
  CHECK(c->state() == Connection::State::kEstablished);
}

TEST(handshake_timeout_frees_slot) {
  EndpointConfig cfg;
  cfg.connection.handshake_timeout_ns = 1000 * kMs;
  Pair p(cfg);
  p.net.filter = [&](Datagram& d) { return !(d.to == p.client.addr); };
  // The server never reaches the client: both handshakes time out.
  p.dial(p.server_key.peer_id());
  CHECK(p.net.run([&] { return p.client.first(EventType::kConnectionClosed) && p.server.first(EventType::kConnectionClosed); }));
  CHECK(p.client.first(EventType::kConnectionClosed)->error == Error::kHandshakeTimeout);
  CHECK(p.server.first(EventType::kConnectionClosed)->error == Error::kHandshakeTimeout);
  CHECK_EQ(p.server.ep->handshaking_count(), size_t{0});
}

TEST(garbage_and_truncated_datagrams_are_dropped) {
  Pair p;
  std::vector<Datagram> captured;
  p.net.filter = [&](Datagram& d) { captured.push_back(d); return true; };
  Connection* c = p.dial(p.server_key.peer_id());
  CHECK(p.handshake(c));
  auto data = pattern(300000, 5);
  Error err;
  int64_t sid = c->open_stream(&err);
  CHECK(c->send(sid, data.data(), data.size(), true) == Error::kNone);
  uint64_t sconn = p.server.first(EventType::kHandshakeCompleted)->conn;
  CHECK(p.net.run([&] { return p.server.fin.count({sconn, sid}) > 0; }));
  p.net.filter = nullptr;
  CHECK(captured.size() > 20);

  std::mt19937 rng(7);
  auto hit = [&](Peer& to, const Address& from, const std::vector<uint8_t>& bytes) {
    to.ep->handle_datagram(bytes.data(), bytes.size(), from, p.net.now);
  };
  Address stranger = Address::v4(192, 0, 2, 1, 5555);
  for (int i = 0; i < 3000; i++) {
    std::vector<uint8_t> g(rng() % 1500);
    for (auto& b : g) b = static_cast<uint8_t>(rng());
    hit(p.server, stranger, g);
    hit(p.client, stranger, g);
  }
  // Truncations and bit flips of real packets, from the real addresses.
  for (auto& d : captured) {
    Peer* to = p.net.at(d.to);
    for (size_t n : {size_t{0}, size_t{1}, size_t{5}, d.bytes.size() / 2, d.bytes.size() - 1}) {
      std::vector<uint8_t> cut(d.bytes.begin(), d.bytes.begin() + long(std::min(n, d.bytes.size())));
      hit(*to, d.from, cut);
    }
    auto flipped = d.bytes;
    flipped[rng() % flipped.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    hit(*to, d.from, flipped);
    hit(*to, d.from, d.bytes);  // a replay
  }
  // Short-header packets addressed to the live connection's ids with random payloads.
  for (int i = 0; i < 500; i++) {
    auto& d = captured[rng() % captured.size()];
    if (d.bytes[0] & 0x80) continue;
    std::vector<uint8_t> g(d.bytes.begin(), d.bytes.begin() + 1 + long(l2n::quic::kCidLength));
    g.resize(g.size() + 20 + rng() % 1200);
    for (size_t k = 1 + l2n::quic::kCidLength; k < g.size(); k++) g[k] = static_cast<uint8_t>(rng());
    hit(*p.net.at(d.to), d.from, g);
  }
  // The endpoints keep no state for garbage and the connection still works.
  CHECK_EQ(p.server.ep->connection_count(), size_t{1});
  CHECK_EQ(p.client.ep->connection_count(), size_t{1});
  auto& st = p.server.ep->stats();
  CHECK(st.dropped_malformed + st.dropped_unknown + st.dropped_short + st.stateless_resets_sent +
            st.dropped_reply_queue_full > 3000);
  p.net.wire.clear();
  int64_t sid2 = c->open_stream(&err);
  CHECK(err == Error::kNone);
  CHECK(c->send(sid2, data.data(), data.size(), true) == Error::kNone);
  CHECK(p.net.run([&] { return p.server.fin.count({sconn, sid2}) > 0; }));
  CHECK(p.server.rx(sconn, sid2) == data);
  CHECK(p.client.first(EventType::kConnectionClosed) == nullptr);
}

TEST(initial_flood_from_many_ports_is_bounded) {
  EndpointConfig cfg;
  cfg.max_handshaking = 16;
  cfg.connection.handshake_timeout_ns = 2000 * kMs;
  Pair p(cfg);
  // An attacker endpoint makes real client Initials; we replay them from many source ports.
  Peer attacker;
  attacker.addr = Address::v4(198, 51, 100, 7, 1);
  attacker.clock = &p.net.now;
  attacker.ep = std::make_unique<Endpoint>(EndpointConfig{.accept_inbound = false}, make_cert(p.client_key),
                                           &attacker, attacker.addr, kNow);
  std::vector<std::vector<uint8_t>> initials;
  std::vector<uint8_t> buf(l2n::quic::kMaxGsoBytes);
  for (int i = 0; i < 200; i++) {
    Error err;
    CHECK(attacker.ep->connect(p.server.addr, {}, p.net.now, &err) != nullptr);
    Transmit t = attacker.ep->write_datagrams(buf.data(), buf.size(), p.net.now);
    CHECK(t.bytes >= l2n::quic::kMinInitialDatagram);
    initials.emplace_back(buf.begin(), buf.begin() + long(t.segment_size));
  }
  for (size_t i = 0; i < initials.size(); i++) {
    Address from = Address::v4(198, 51, 100, 7, static_cast<uint16_t>(1000 + i));
    p.server.ep->handle_datagram(initials[i].data(), initials[i].size(), from, p.net.now);
    // The same Initial again from another port routes to the same connection: no new state.
    Address from2 = Address::v4(198, 51, 100, 8, static_cast<uint16_t>(1000 + i));
    p.server.ep->handle_datagram(initials[i].data(), initials[i].size(), from2, p.net.now);
  }
  CHECK_EQ(p.server.ep->handshaking_count(), size_t{16});
  CHECK_EQ(p.server.ep->connection_count(), size_t{16});
  CHECK_EQ(p.server.ep->stats().dropped_handshake_limit, uint64_t{2 * 184});  // each refused Initial twice
  // Initials below 1200 bytes never make state.
  std::vector<uint8_t> small(initials[0].begin(), initials[0].begin() + 600);
  small[0] = initials[0][0];
  p.server.ep->handle_datagram(small.data(), small.size(), Address::v4(1, 2, 3, 4, 5), p.net.now);
  CHECK_EQ(p.server.ep->connection_count(), size_t{16});
  // A legitimate client (with a longer handshake timeout than the server's) is refused while the
  // slots are taken...
  EndpointConfig patient;
  patient.accept_inbound = false;
  patient.connection.handshake_timeout_ns = 10'000 * kMs;
  p.client.ep = std::make_unique<Endpoint>(patient, make_cert(p.client_key), &p.client, p.client.addr, kNow);
  Connection* c = p.dial(p.server_key.peer_id());
  p.net.run([&] { return false; }, 100 * kMs);
  CHECK(p.server.first(EventType::kHandshakeCompleted) == nullptr);
  // ...and gets in once the flood's handshakes time out (the client retransmits its Initial).
  CHECK(p.net.run([&] { return p.server.first(EventType::kHandshakeCompleted) != nullptr; }));
  CHECK(c->state() == Connection::State::kEstablished);
  CHECK(p.server.ep->connection_count() <= 17);
}

TEST(retry_lets_clients_in_during_a_flood) {
  EndpointConfig cfg;
  cfg.max_handshaking = 16;
  cfg.retry_above_handshaking = 4;
  Pair p(cfg);
  Peer attacker;
  attacker.addr = Address::v4(198, 51, 100, 7, 1);
  attacker.clock = &p.net.now;
  attacker.ep = std::make_unique<Endpoint>(EndpointConfig{.accept_inbound = false}, make_cert(p.client_key),
                                           &attacker, attacker.addr, kNow);
  std::vector<uint8_t> buf(l2n::quic::kMaxGsoBytes);
  for (int i = 0; i < 100; i++) {
    Error err;
    CHECK(attacker.ep->connect(p.server.addr, {}, p.net.now, &err) != nullptr);
    Transmit t = attacker.ep->write_datagrams(buf.data(), buf.size(), p.net.now);
    Address from = Address::v4(198, 51, 100, 7, static_cast<uint16_t>(1000 + i));
    p.server.ep->handle_datagram(buf.data(), t.segment_size, from, p.net.now);
  }
  // Four handshakes hold state; everyone else was asked to prove their address (replies beyond
  // the bounded queue are dropped, not buffered).
  CHECK_EQ(p.server.ep->handshaking_count(), size_t{4});
  CHECK_EQ(p.server.ep->connection_count(), size_t{4});
  auto& st = p.server.ep->stats();
  CHECK_EQ(st.retries_sent + st.dropped_reply_queue_full, uint64_t{96});
  CHECK(st.retries_sent > 0);
  p.net.flush();  // the Retry packets go to the spoofed addresses, where nobody answers
  p.net.wire.clear();
  // A real client gets in at once, one extra round trip for the Retry.
  std::vector<Datagram> client_initials;
  p.net.filter = [&](Datagram& d) {
    if (d.to == p.server.addr && (d.bytes[0] & 0xf0) == 0xc0) client_initials.push_back(d);
    return true;
  };
  uint64_t t0 = p.net.now;
  Connection* c = p.dial(p.server_key.peer_id());
  CHECK(p.handshake(c));
  CHECK(c->state() == Connection::State::kEstablished);
  CHECK_EQ(p.client.first(EventType::kHandshakeCompleted)->at - t0, 4 * kDelay);
  CHECK(p.server.first(EventType::kHandshakeCompleted)->peer_id == p.client_key.peer_id());
  CHECK(st.retries_sent > 0);
  // The token is bound to the client's address: once the connection is gone (so its ids no
  // longer route), the same Initial from elsewhere is refused.
  CHECK(client_initials.size() >= 2);
  uint64_t sconn = p.server.first(EventType::kHandshakeCompleted)->conn;
  c->close(0, p.net.now);
  CHECK(p.net.run([&] { return p.server.ep->find(sconn) == nullptr; }));
  uint64_t bad = st.dropped_bad_token;
  auto& with_token = client_initials[1];
  p.server.ep->handle_datagram(with_token.bytes.data(), with_token.bytes.size(), Address::v4(203, 0, 113, 1, 9), p.net.now);
  CHECK_EQ(st.dropped_bad_token, bad + 1);
}

TEST(stateless_reset_after_server_restart) {
  EndpointConfig cfg;
  cfg.stateless_reset_key.assign(32, 0x5c);  // the same key before and after the "restart"
  cfg.connection.max_idle_timeout_ns = 30'000 * kMs;
  Pair p(cfg);
  Connection* c = p.dial(p.server_key.peer_id());
  CHECK(p.handshake(c));
  // The server process restarts: same address, same reset key, no connections.
  p.server.ep = std::make_unique<Endpoint>(cfg, make_cert(p.server_key), &p.server, p.server.addr, kNow);
  p.net.wire.clear();
  Error err;
  int64_t sid = c->open_stream(&err);
  auto data = pattern(5000, 9);
  CHECK(c->send(sid, data.data(), data.size(), false) == Error::kNone);
  uint64_t t0 = p.net.now;
  CHECK(p.net.run([&] { return p.client.first(EventType::kConnectionClosed) != nullptr; }));
  auto* cc = p.client.first(EventType::kConnectionClosed);
  if (cc->error != Error::kStatelessReset) std::fprintf(stderr, "  got %s after %llu ns, resets %llu\n", l2n::quic::error_name(cc->error), (unsigned long long)(cc->at - t0), (unsigned long long)p.server.ep->stats().stateless_resets_sent);
  CHECK(cc->error == Error::kStatelessReset);
  CHECK(cc->at - t0 <= 2 * kDelay + kMs);  // one round trip, not the 30 s idle timeout
  CHECK(p.server.ep->stats().stateless_resets_sent >= 1);
  CHECK_EQ(p.server.ep->connection_count(), size_t{0});
}

TEST(no_stateless_reset_for_tiny_packets) {
  Pair p;
  std::vector<uint8_t> pkt(l2n::quic::kStatelessResetLength, 0x41);
  pkt[0] = 0x40;  // short header, unknown id, too short to be answered without risking loops
  p.server.ep->handle_datagram(pkt.data(), pkt.size(), Address::v4(203, 0, 113, 2, 7), p.net.now);
  std::vector<uint8_t> out(2000);
  CHECK_EQ(p.server.ep->write_datagrams(out.data(), out.size(), p.net.now).bytes, size_t{0});
  pkt.push_back(0x41);
  p.server.ep->handle_datagram(pkt.data(), pkt.size(), Address::v4(203, 0, 113, 2, 7), p.net.now);
  Transmit t = p.server.ep->write_datagrams(out.data(), out.size(), p.net.now);
  CHECK(t.bytes > 0 && t.bytes < pkt.size());
  CHECK_EQ(out[0] & 0xc0, 0x40);  // looks like a short-header packet
}

TEST(unknown_version_gets_version_negotiation) {
  Pair p;
  std::vector<uint8_t> pkt(1200, 0);
  pkt[0] = 0xc0;                                  // long header
  pkt[1] = 0x1a; pkt[2] = 0x2a; pkt[3] = 0x3a; pkt[4] = 0x4a;  // reserved/unknown version
  pkt[5] = 8;                                     // dcid len
  for (int i = 0; i < 8; i++) pkt[6 + i] = uint8_t(i);
  pkt[14] = 4;                                    // scid len
  for (int i = 0; i < 4; i++) pkt[15 + i] = uint8_t(0xa0 + i);
  Address from = Address::v4(203, 0, 113, 9, 999);
  p.server.ep->handle_datagram(pkt.data(), pkt.size(), from, p.net.now);
  std::vector<uint8_t> out(2000);
  Transmit t = p.server.ep->write_datagrams(out.data(), out.size(), p.net.now);
  CHECK(t.bytes > 0 && t.remote == from);
  CHECK(out[0] & 0x80);
  CHECK(out[1] == 0 && out[2] == 0 && out[3] == 0 && out[4] == 0);  // version 0: Version Negotiation
  CHECK_EQ(out[5], uint8_t{4});                                      // dcid = their scid
  CHECK_EQ(out[6], uint8_t{0xa0});
  CHECK_EQ(p.server.ep->connection_count(), size_t{0});
  // Small ones get nothing.
  p.server.ep->handle_datagram(pkt.data(), 100, from, p.net.now);
  CHECK_EQ(p.server.ep->write_datagrams(out.data(), out.size(), p.net.now).bytes, size_t{0});
}

TEST_MAIN()
