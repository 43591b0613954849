#include "io/quic_io.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "core/setup_trace.h"
#include "io/host.h"
#include "io/io_thread.h"
#include "io/loop.h"
#include "io/socket.h"
#include "l2n/errors.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103  // linux/udp.h (Linux 4.18); older libc headers lack it
#endif
#ifndef UDP_GRO
#define UDP_GRO 104  // linux/udp.h (Linux 5.0)
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

namespace l2n::io {

namespace {
constexpr uint32_t kEpEvents = EPOLLIN | EPOLLOUT | EPOLLET;

quic::Address to_quic(const sockaddr_storage& ss) {
  quic::Address a;
  if (ss.ss_family == AF_INET) {
    auto* s = reinterpret_cast<const sockaddr_in*>(&ss);
    a.family = 4;
    a.port = ntohs(s->sin_port);
    std::memcpy(a.ip, &s->sin_addr, 4);
  } else if (ss.ss_family == AF_INET6) {
    auto* s = reinterpret_cast<const sockaddr_in6*>(&ss);
    a.family = 6;
    a.port = ntohs(s->sin6_port);
    std::memcpy(a.ip, &s->sin6_addr, 16);
  }
  return a;
}

socklen_t to_sockaddr(const quic::Address& a, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof(ss));
  if (a.family == 4) {
    auto* s = reinterpret_cast<sockaddr_in*>(&ss);
    s->sin_family = AF_INET;
    s->sin_port = htons(a.port);
    std::memcpy(&s->sin_addr, a.ip, 4);
    return sizeof(sockaddr_in);
  }
  auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
  s->sin6_family = AF_INET6;
  s->sin6_port = htons(a.port);
  std::memcpy(&s->sin6_addr, a.ip, 16);
  return sizeof(sockaddr_in6);
}

void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void put_str(std::vector<uint8_t>& b, const void* p, size_t n) {
  put16(b, static_cast<uint16_t>(n));
  b.insert(b.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
}

// quic::Error / tls::Error -> boundary code (errors.h: kTlsBase, kQuicBase blocks).
uint32_t close_code(quic::Error e, tls::Error t) {
  if (e == quic::Error::kLocallyClosed) return err::kLocalClose;
  if (e == quic::Error::kCertificateRejected) return err::from_engine(err::kTlsBase, t);
  return err::from_engine(err::kQuicBase, e);
}
}  // namespace

// ---- state ---------------------------------------------------------------------------------------

struct Sink final : quic::EventSink {
  QuicIo* io = nullptr;
  QuicIo::Ep* ep = nullptr;
  void on_event(const quic::Event& ev) override;
};

struct QuicIo::Ep {
  uint32_t index = 0;
  int fd = -1;
  int family = 4;
  uint32_t listen_id = 0;     // 0: the dial endpoint of its family
  bool listener_open = false; // kListening sent and not yet closed
  bool gso = false;
  bool gro = false;
  size_t rslots = 0, rslot_size = 0;  // receive layout: GRO or per-datagram (see quic_io.h)
  bool dirty = false, deferred = false, write_blocked = false;
  uint32_t timer_gen = 0;
  uint64_t armed = UINT64_MAX;
  Sink sink;
  std::unique_ptr<quic::Endpoint> engine;
  std::unordered_map<uint64_t, Conn*> by_qid;
  // receive batch
  std::vector<uint8_t> rbuf;
  std::vector<mmsghdr> rmsgs;
  std::vector<iovec> riov;
  std::vector<sockaddr_storage> raddr;
  std::vector<uint8_t> rctl;  // one control buffer per slot (UDP_GRO segment size)
  // send batch: kQuicSendBatch Transmits of up to kMaxGsoBytes each, sent in order
  std::vector<uint8_t> sbuf;
  std::vector<quic::Transmit> pending;
  size_t pending_msg = 0;     // messages of `pending` already sent (in send_pending's flattening)
  std::vector<mmsghdr> smsgs;
  std::vector<iovec> siov;
  std::vector<sockaddr_storage> saddr;
  std::vector<uint8_t> cmsg;  // one CMSG_SPACE(u16) per message
};

struct QuicIo::Strm {
  uint32_t handle = 0;
  int64_t sid = -1;
  bool outbound = false;
  bool announced = false;   // JS knows the stream (inbound: negotiated; outbound: always)
  bool opened_sent = false; // kStreamOpened sent (outbound)
  bool optimistic = false;
  bool paused = false;
  bool write_closed = false;
  bool fin_deferred = false;  // closeWrite before the listener confirmed the protocol (see kCloseWrite)
  std::unique_ptr<mss::Dialer> dialer;
  std::unique_ptr<mss::Listener> listener;
  uint32_t proto_index = 0xffffffffu;
  uint64_t unconsumed = 0;  // received while paused: flow-control credit held back
  uint64_t sent = 0;        // stream offset handed to the engine
  uint64_t acked = 0;
  struct Chunk {
    uint64_t start, end;
    bool js;
    std::vector<uint8_t> owned;  // our multistream bytes (js == false)
  };
  std::deque<Chunk> inflight;
};

struct QuicIo::Conn {
  uint32_t id = 0;
  uint64_t qid = 0;
  Ep* ep = nullptr;
  uint32_t slot = 0;
  bool outbound = false;
  bool opened = false;
  bool closing = false;
  std::unordered_map<uint32_t, Strm*> by_handle;
  std::unordered_map<int64_t, Strm*> by_sid;
  std::deque<std::pair<uint32_t, std::string>> pending_opens;
  uint32_t next_inbound = 0;
  ~Conn() {
    for (auto& [h, s] : by_handle) delete s;
    for (auto& [sid, s] : by_sid)
      if (s->handle == 0) delete s;
  }
};

void Sink::on_event(const quic::Event& ev) {
  if (io != nullptr) io->on_event(*ep, ev);  // null while the endpoint is torn down
}

QuicIo::QuicIo(IoThread& t) : th_(t) {}

QuicIo::~QuicIo() { shutdown(); }

// ---- sockets ---------------------------------------------------------------------------------------

QuicIo::Ep* QuicIo::new_endpoint(const std::string& host, uint16_t port, uint32_t listen_id, uint32_t& code) {
  if (!cert_) cert_ = th_.host().quic_certificate();
  if (!cert_) {
    code = err::kQuicNoCertificate;
    return nullptr;
  }
  SockAddr addr;
  if (!make_addr(host, port, addr)) {
    code = err::kBadAddress;
    return nullptr;
  }
  int af = addr.ss.ss_family;
  int fd = ::socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    code = err::kBindFailed;
    return nullptr;
  }
  int one = 1, buf = kQuicSocketBuffer;
  // The FORCE variants pass net.core.rmem_max/wmem_max (Debian's default is 208 KiB, which drops
  // datagrams of a fast sender's bursts) but need CAP_NET_ADMIN; otherwise the capped request.
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)) != 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
  if (af == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  // DF set: DPLPMTUD (ngtcp2) probes larger packets and must learn of the ones that do not fit.
  int pmtu = IP_PMTUDISC_DO;
  if (af == AF_INET) setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu));
  else setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &pmtu, sizeof(pmtu));
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr.ss), addr.len) != 0) {
    code = errno == EADDRINUSE ? err::kAddressInUse : err::kBindFailed;
    ::close(fd);
    return nullptr;
  }
  auto ep = std::make_unique<Ep>();
  ep->index = static_cast<uint32_t>(eps_.size());
  ep->fd = fd;
  ep->family = af == AF_INET6 ? 6 : 4;
  ep->listen_id = listen_id;
  // GSO probe: the option exists on this kernel (4.18+) when getsockopt knows it.
  int seg = 0;
  socklen_t sl = sizeof(seg);
  ep->gso = getsockopt(fd, SOL_UDP, UDP_SEGMENT, &seg, &sl) == 0 && getenv("LIBP2P_NATIVE_NO_GSO") == nullptr;
  SockAddr bound;
  local_addr(fd, bound);
  quic::EndpointConfig cfg = th_.host().config().quic;
  cfg.accept_inbound = listen_id != 0;
  // LIBP2P_NATIVE_QUIC_CC=cubic|reno|bbr|bbr2 overrides the congestion controller of this endpoint's
  // connections, so perf runs can compare them without a rebuild (native-core.md, QUIC on the I/O
  // threads: why ngtcp2 0.12's cubic stalls below the loopback bandwidth).
  if (const char* cc = getenv("LIBP2P_NATIVE_QUIC_CC")) {
    std::string_view v(cc);
    if (v == "cubic") cfg.connection.congestion_control = quic::Config::CongestionControl::kCubic;
    else if (v == "reno") cfg.connection.congestion_control = quic::Config::CongestionControl::kReno;
    else if (v == "bbr") cfg.connection.congestion_control = quic::Config::CongestionControl::kBbr;
    else if (v == "bbr2") cfg.connection.congestion_control = quic::Config::CongestionControl::kBbr2;
  }
  ep->sink.io = this;
  ep->sink.ep = ep.get();
  ep->engine = std::make_unique<quic::Endpoint>(cfg, cert_, &ep->sink, to_quic(bound.ss),
                                                static_cast<int64_t>(::time(nullptr)));
  ep->gro = getenv("LIBP2P_NATIVE_NO_GRO") == nullptr && setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
  ep->rslots = ep->gro ? kQuicGroBatch : kQuicRecvBatch;
  ep->rslot_size = ep->gro ? kQuicGroBufferSize : kQuicRecvBufferSize;
  ep->rbuf.resize(ep->rslots * ep->rslot_size);
  ep->rmsgs.resize(ep->rslots);
  ep->riov.resize(ep->rslots);
  ep->raddr.resize(ep->rslots);
  ep->rctl.resize(ep->rslots * CMSG_SPACE(sizeof(int)));
  ep->sbuf.resize(kQuicSendBatch * quic::kMaxGsoBytes);
  if (!th_.loop().add(fd, kTag | ep->index, kEpEvents)) {
    ::close(fd);
    code = err::kSocketError;
    return nullptr;
  }
  Ep* raw = ep.get();
  eps_.push_back(std::move(ep));
  return raw;
}

QuicIo::Ep* QuicIo::dial_endpoint(int family, uint32_t& code) {
  Ep*& slot = dial_ep_[family == 6 ? 1 : 0];
  if (slot == nullptr) slot = new_endpoint(family == 6 ? "::" : "0.0.0.0", 0, 0, code);
  return slot;
}

void QuicIo::close_endpoint(Ep& ep) {
  if (ep.fd < 0) return;
  th_.loop().remove(ep.fd);
  ::close(ep.fd);
  ep.fd = -1;
  if (dial_ep_[0] == &ep) dial_ep_[0] = nullptr;
  if (dial_ep_[1] == &ep) dial_ep_[1] = nullptr;
}

void QuicIo::listen(Command& cmd) {
  uint32_t code = 0;
  Ep* ep = new_endpoint(cmd.text, static_cast<uint16_t>(cmd.b), cmd.conn, code);
  if (ep == nullptr) {
    L2N_LOG(th_, LogComponent::kQuic, LogLevel::kWarn, 0, code, "listener %u: listen on udp %s:%u failed", cmd.conn,
            cmd.text.c_str(), cmd.b);
    th_.batch().add(Ev::kListenFailed, cmd.conn, 0, code);
    return;
  }
  ep->listener_open = true;
  SockAddr bound;
  local_addr(ep->fd, bound);
  int fam;
  std::string host;
  uint16_t port;
  describe_addr(bound, fam, host, port);
  Record& r = th_.batch().add(Ev::kListening, cmd.conn, 0, port, static_cast<uint32_t>(fam));
  th_.batch().attach(r, host.data(), host.size());
}

bool QuicIo::close_listener(uint32_t listen_id) {
  for (auto& ep : eps_) {
    if (!ep || !ep->listener_open || ep->listen_id != listen_id) continue;
    ep->listener_open = false;
    ep->engine->set_accept_inbound(false);  // new Initials are dropped; live connections go on
    th_.batch().add(Ev::kListenerClosed, listen_id);
    // Established connections keep the socket; it closes with the last of them.
    if (ep->by_qid.empty()) close_endpoint(*ep);
    return true;
  }
  return false;
}

void QuicIo::dial(Command& cmd) {
  trace::point("dial_cmd");
  SockAddr addr;
  if (!make_addr(cmd.text, static_cast<uint16_t>(cmd.b), addr)) {
    th_.batch().add(Ev::kConnFailed, cmd.conn, 0, err::kBadAddress);
    return;
  }
  uint32_t code = 0;
  Ep* ep = dial_endpoint(addr.ss.ss_family == AF_INET6 ? 6 : 4, code);
  uint32_t slot = 0;
  if (ep == nullptr) {
    th_.batch().add(Ev::kConnFailed, cmd.conn, 0, code);
    return;
  }
  if (!th_.acquire_slot(slot)) {
    th_.batch().add(Ev::kConnFailed, cmd.conn, 0, err::kTooManyConnections);
    return;
  }
  std::vector<uint8_t> expected(cmd.text2.begin(), cmd.text2.end());
  quic::Error e = quic::Error::kNone;
  auto* c = new Conn();
  c->id = cmd.conn;
  c->ep = ep;
  c->slot = slot;
  c->outbound = true;
  conns_[c->id] = c;
  // Events during connect() name the engine id we learn only from its return: none are emitted
  // before the first write, so registering afterwards is safe.
  quic::Connection* qc = ep->engine->connect(to_quic(addr.ss), expected, th_.now(), &e);
  if (qc == nullptr) {
    conns_.erase(c->id);
    delete c;
    th_.free_slot(slot);
    th_.batch().add(Ev::kConnFailed, cmd.conn, 0, err::from_engine(err::kQuicBase, e));
    return;
  }
  c->qid = qc->id();
  ep->by_qid[c->qid] = c;
  mark_dirty(*ep);
}

quic::Connection* QuicIo::engine_conn(Conn& c) { return c.ep->engine->find(c.qid); }

// ---- events from the engine --------------------------------------------------------------------------

void QuicIo::on_event(Ep& ep, const quic::Event& ev) {
  auto it = ep.by_qid.find(ev.conn);
  Conn* c;
  if (it == ep.by_qid.end()) {
    // A server connection the engine just made (first event: a stream cannot precede the handshake).
    if (ev.type == quic::EventType::kConnectionClosed) {
      // A handshake that failed before it completed (a client certificate we rejected, a peer's
      // alert, a timeout): never announced nor counted, but the listener hears why, as TCP's.
      uint32_t code = close_code(ev.error, ev.tls_error);
      if (code == err::kShutdown || !ep.listener_open) return;
      L2N_LOG(th_, LogComponent::kQuic, LogLevel::kWarn, 0, code, "inbound handshake failed (code %u)", code);
      th_.batch().add(Ev::kConnFailed, 0, 0, code, 0, ep.listen_id);
      return;
    }
    uint32_t slot;
    if (!th_.acquire_slot(slot)) {
      if (quic::Connection* qc = ep.engine->find(ev.conn)) qc->close(0, th_.now());
      return;
    }
    c = new Conn();
    c->id = th_.new_inbound_id();
    c->qid = ev.conn;
    c->ep = &ep;
    c->slot = slot;
    conns_[c->id] = c;
    ep.by_qid[ev.conn] = c;
  } else {
    c = it->second;
  }
  mark_dirty(ep);
  switch (ev.type) {
    case quic::EventType::kHandshakeCompleted: return on_handshake(ep, *c, ev);
    case quic::EventType::kConnectionClosed: return on_conn_closed(ep, *c, ev);
    case quic::EventType::kStreamOpened: {
      if (!c->opened || c->closing) return;
      Strm* s = new_stream(*c, ev.stream, 0, false);
      s->listener = std::make_unique<mss::Listener>([this](std::string_view p) { return th_.protocol_supported(p); });
      return;
    }
    case quic::EventType::kStreamData: {
      auto sit = c->by_sid.find(ev.stream);
      if (sit == c->by_sid.end()) {
        if (quic::Connection* qc = engine_conn(*c)) qc->consume(ev.stream, ev.len);
        return;
      }
      return on_stream_data(*c, *sit->second, ev.data, ev.len, ev.fin);
    }
    case quic::EventType::kStreamReset:
    case quic::EventType::kStopSending: {
      auto sit = c->by_sid.find(ev.stream);
      if (sit == c->by_sid.end()) return;
      return kill_stream(*c, *sit->second, Ev::kRemoteReset, err::kStreamRemoteReset);
    }
    case quic::EventType::kStreamAcked: {
      auto sit = c->by_sid.find(ev.stream);
      if (sit == c->by_sid.end()) return;
      Strm& s = *sit->second;
      uint64_t js = 0;
      while (!s.inflight.empty() && s.inflight.front().start < ev.value) {
        Strm::Chunk& ch = s.inflight.front();
        uint64_t from = std::max(ch.start, s.acked), to = std::min(ch.end, ev.value);
        if (ch.js && to > from) js += to - from;
        if (ch.end <= ev.value) s.inflight.pop_front();
        else break;
      }
      if (ev.value > s.acked) s.acked = ev.value;
      if (js == 0 || !s.announced) return;
      // ACKs come every few packets: one kWritten per stream and batch, not one per ACK frame.
      Batch& b = th_.batch();
      if (!b.records.empty()) {
        Record& last = b.records.back();
        if (last.type == static_cast<uint32_t>(Ev::kWritten) && last.conn == c->id && last.stream == s.handle &&
            uint64_t{last.a} + js <= UINT32_MAX) {
          last.a += static_cast<uint32_t>(js);
          return;
        }
      }
      b.add(Ev::kWritten, c->id, s.handle, static_cast<uint32_t>(js));
      return;
    }
    case quic::EventType::kStreamClosed: {
      auto sit = c->by_sid.find(ev.stream);
      if (sit == c->by_sid.end()) return;
      Strm& s = *sit->second;
      if (s.announced) th_.batch().add(Ev::kStreamReleased, c->id, s.handle);
      return drop_stream(*c, s);
    }
    case quic::EventType::kStreamsAvailable:
      return open_pending(*c);
    case quic::EventType::kStreamWritable:
      return;
  }
}

void QuicIo::on_handshake(Ep& ep, Conn& c, const quic::Event& ev) {
  if (!c.outbound && !ep.listener_open) {
    // The listener closed during the handshake: nobody would take this connection.
    if (quic::Connection* qc = engine_conn(c)) qc->close(0, th_.now());
    c.closing = true;
    return;
  }
  c.opened = true;
  trace::point("conn_open", c.outbound ? 1 : 0);
  double* ctr = th_.conn_counters(c.slot);
  for (uint32_t i = 0; i < kCountersPerConnection; i++) ctr[i] = 0;
  quic::Connection* qc = engine_conn(c);
  auto& b = th_.batch().blob;
  Record& r = th_.batch().add(Ev::kConnOpen, c.id, 0, c.slot, c.outbound ? 1 : 0, c.outbound ? 0 : ep.listen_id);
  r.blob_off = static_cast<uint32_t>(b.size());
  put_str(b, ev.peer->peer_id.data(), ev.peer->peer_id.size());
  sockaddr_storage rs;
  SockAddr ra, la;
  ra.len = to_sockaddr(qc->remote_address(), rs);
  ra.ss = rs;
  int fam = 4;
  std::string rh, lh;
  uint16_t rp = 0, lp = 0;
  describe_addr(ra, fam, rh, rp);
  if (local_addr(ep.fd, la)) {
    int f2;
    describe_addr(la, f2, lh, lp);
  }
  put_str(b, rh.data(), rh.size());
  put_str(b, lh.data(), lh.size());
  put16(b, rp);
  put16(b, lp);
  b.push_back(static_cast<uint8_t>(fam));
  b.push_back(0);  // no early muxer: QUIC multiplexes itself
  r.blob_len = static_cast<uint32_t>(b.size() - r.blob_off);
  L2N_LOG(th_, LogComponent::kQuic, LogLevel::kDebug, c.id, 0, "connection established (%s %s:%u)",
          c.outbound ? "outbound to" : "inbound from", rh.c_str(), rp);
}

void QuicIo::on_conn_closed(Ep& ep, Conn& c, const quic::Event& ev) {
  uint32_t code = close_code(ev.error, ev.tls_error);
  if (c.opened) {
    // With its congestion state: cwnd-limited bursts under an infinite ssthresh without loss are
    // ngtcp2 0.12's BDP cap (native-core.md); LIBP2P_LOG=native:quic=debug shows it per connection.
    quic::Connection* qc = th_.log_enabled(LogComponent::kQuic, LogLevel::kDebug) ? engine_conn(c) : nullptr;
    if (qc != nullptr) {
      quic::Connection::CongestionStats s = qc->congestion_stats();
      L2N_LOG(th_, LogComponent::kQuic, LogLevel::kDebug, c.id, code,
              "connection closed (code %u): cwnd %llu, ssthresh %lld, srtt %llu us, min rtt %llu us, "
              "bursts ended cwnd-limited %llu, app-limited %llu, other %llu",
              code, static_cast<unsigned long long>(s.cwnd),
              s.ssthresh == UINT64_MAX ? -1LL : static_cast<long long>(s.ssthresh),
              static_cast<unsigned long long>(s.smoothed_rtt_ns / 1000), static_cast<unsigned long long>(s.min_rtt_ns / 1000),
              static_cast<unsigned long long>(s.bursts_cwnd_limited), static_cast<unsigned long long>(s.bursts_app_limited),
              static_cast<unsigned long long>(s.bursts_other));
    } else {
      L2N_LOG(th_, LogComponent::kQuic, LogLevel::kDebug, c.id, code, "connection closed (code %u)", code);
    }
  } else if (code != err::kShutdown) {
    L2N_LOG(th_, LogComponent::kQuic, LogLevel::kWarn, c.id, code, "%s handshake failed (code %u)",
            c.outbound ? "outbound" : "inbound", code);
  }
  if (c.opened) {
    // JS drops the connection's streams (and their buffers: the engine released them all).
    th_.batch().add(Ev::kConnClosed, c.id, 0, code);
    th_.hold_slot(c.id, c.slot);
  } else {
    if (c.outbound || ep.listener_open) {
      Record& r = th_.batch().add(Ev::kConnFailed, c.id, 0, code, 0, c.outbound ? 0 : ep.listen_id);
      // A PeerId mismatch names the peer that answered (its certificate checked out otherwise), as TCP's.
      quic::Connection* qc = ev.tls_error == tls::Error::kPeerIdMismatch ? engine_conn(c) : nullptr;
      if (qc != nullptr && !qc->remote().peer_id.empty())
        th_.batch().attach(r, qc->remote().peer_id.data(), qc->remote().peer_id.size());
    }
    if (c.outbound) th_.hold_slot(c.id, c.slot);  // JS sends kReleaseConn for failed dials too
    else th_.free_slot(c.slot);
  }
  ep.by_qid.erase(c.qid);
  conns_.erase(c.id);
  delete &c;
  if (!ep.listener_open && ep.listen_id != 0 && ep.by_qid.empty()) close_endpoint(ep);
}

// ---- streams ---------------------------------------------------------------------------------------------

QuicIo::Strm* QuicIo::new_stream(Conn& c, int64_t sid, uint32_t handle, bool outbound) {
  auto* s = new Strm();
  s->sid = sid;
  s->handle = handle;
  s->outbound = outbound;
  c.by_sid[sid] = s;
  if (handle != 0) c.by_handle[handle] = s;
  return s;
}

void QuicIo::drop_stream(Conn& c, Strm& s) {
  c.by_sid.erase(s.sid);
  if (s.handle != 0) c.by_handle.erase(s.handle);
  delete &s;
}

// Resets both directions (libp2p's reset is bidirectional), tells JS with `record`, forgets the
// stream. After RESET_STREAM ngtcp2 neither sends nor retransmits the stream's data, and the
// engine drops its send queue, so no JS buffer of this stream is read afterwards.
void QuicIo::kill_stream(Conn& c, Strm& s, Ev record, uint32_t code) {
  if (quic::Connection* qc = engine_conn(c)) {
    qc->reset_stream(s.sid, 0);
    qc->stop_sending(s.sid, 0);
  }
  if (s.announced) {
    if (record == Ev::kStreamOpenFailed && s.opened_sent) record = Ev::kRemoteReset;
    th_.batch().add(record, c.id, s.handle, code);
  }
  drop_stream(c, s);
}

void QuicIo::send_owned(Conn& c, Strm& s, std::vector<uint8_t>&& bytes) {
  if (bytes.empty()) return;
  quic::Connection* qc = engine_conn(c);
  if (qc == nullptr) return;
  Strm::Chunk ch{s.sent, s.sent + bytes.size(), false, std::move(bytes)};
  s.inflight.push_back(std::move(ch));
  Strm::Chunk& back = s.inflight.back();  // deque: the vector's heap buffer never moves
  qc->send(s.sid, back.owned.data(), back.owned.size(), false);
  s.sent = back.end;
}

void QuicIo::start_outbound(Conn& c, uint32_t handle, const std::string& protocols) {
  quic::Connection* qc = engine_conn(c);
  quic::Error e = quic::Error::kNone;
  int64_t sid = qc != nullptr ? qc->open_stream(&e) : -1;
  if (sid < 0) {
    if (e == quic::Error::kStreamLimit && c.pending_opens.size() < kQuicMaxPendingOpens) {
      c.pending_opens.emplace_back(handle, protocols);
      return;
    }
    th_.batch().add(Ev::kStreamOpenFailed, c.id, handle, err::kStreamRefused);
    return;
  }
  trace::point("open_stream");
  Strm* s = new_stream(c, sid, handle, true);
  s->announced = true;
  auto list = split_protocol_list(protocols);
  s->optimistic = list.size() == 1;
  s->dialer = std::make_unique<mss::Dialer>(std::move(list), s->optimistic);
  std::vector<uint8_t> out;
  s->dialer->start(out);
  // Optimistic: the protocol is known now and data may follow at once; count its bytes from the
  // first send, as TCP does (not only those sent after the listener's confirmation).
  if (s->optimistic) s->proto_index = th_.host().protocol_index(s->dialer->selected());
  send_owned(c, *s, std::move(out));
  th_.conn_counters(c.slot)[5] += 1;  // streamsOpened
}

void QuicIo::open_pending(Conn& c) {
  while (!c.pending_opens.empty()) {
    quic::Connection* qc = engine_conn(c);
    if (qc == nullptr) return;
    auto [handle, protocols] = std::move(c.pending_opens.front());
    c.pending_opens.pop_front();
    size_t before = c.pending_opens.size();
    start_outbound(c, handle, protocols);
    if (c.pending_opens.size() > before) {  // still no credit: back to the front
      c.pending_opens.push_front(std::move(c.pending_opens.back()));
      c.pending_opens.pop_back();
      return;
    }
  }
}

void QuicIo::deliver(Conn& c, Strm& s, const uint8_t* data, size_t len) {
  double* ctr = th_.conn_counters(c.slot);
  ctr[0] += static_cast<double>(len);
  ctr[2] += 1;
  if (s.proto_index != 0xffffffffu) {
    if (double* p = th_.proto_counters(s.proto_index)) p[0] += static_cast<double>(len);
  }
  size_t off = 0;
  Slab* slab = th_.read_slab(len, off);
  if (slab == nullptr) {
    kill_stream(c, s, Ev::kRemoteReset, err::kOutOfMemory);
    return;
  }
  std::memcpy(slab->data + off, data, len);
  th_.advance_read_slab(off + len);
  if (!slab->exposed) th_.expose(slab);
  Batch& b = th_.batch();
  // Contiguous with this stream's previous record in the batch: extend it (one view per batch).
  if (!b.records.empty()) {
    Record& last = b.records.back();
    if (last.type == static_cast<uint32_t>(Ev::kData) && last.conn == c.id && last.stream == s.handle &&
        last.a == slab->id && last.b + last.c == off) {
      last.c += static_cast<uint32_t>(len);
      goto credit;
    }
  }
  b.add(Ev::kData, c.id, s.handle, slab->id, static_cast<uint32_t>(off), static_cast<uint32_t>(len));
credit:
  if (s.paused) {
    s.unconsumed += len;
  } else if (quic::Connection* qc = engine_conn(c)) {
    qc->consume(s.sid, len);
  }
}

void QuicIo::on_stream_data(Conn& c, Strm& s, const uint8_t* data, size_t len, bool fin) {
  quic::Connection* qc = engine_conn(c);
  // Multistream-select first: the listener's header/proposals, or the dialer's echo.
  if (s.listener && s.listener->status() == mss::Status::kInProgress) {
    std::vector<uint8_t> out;
    size_t used = s.listener->feed(data, len, out);
    send_owned(c, s, std::move(out));
    if (qc) qc->consume(s.sid, used);
    data += used;
    len -= used;
    if (s.listener->status() == mss::Status::kFailed) return kill_stream(c, s, Ev::kRemoteReset, err::kStreamRemoteReset);
    if (s.listener->status() != mss::Status::kDone) {
      if (fin) kill_stream(c, s, Ev::kRemoteReset, err::kStreamRemoteReset);
      return;
    }
    if (c.next_inbound == 0) c.next_inbound = 1;
    s.handle = kNativeIdBit | c.next_inbound++;
    c.by_handle[s.handle] = &s;
    s.announced = true;
    const std::string& p = s.listener->selected();
    s.proto_index = th_.host().protocol_index(p);
    if (double* pc = th_.proto_counters(s.proto_index)) pc[2] += 1;
    th_.conn_counters(c.slot)[5] += 1;
    trace::point("stream_inbound");
    Record& r = th_.batch().add(Ev::kStreamInbound, c.id, s.handle, s.proto_index);
    th_.batch().attach(r, p.data(), p.size());
  } else if (s.dialer && !s.opened_sent) {
    std::vector<uint8_t> out;
    size_t used = s.dialer->feed(data, len, out);
    send_owned(c, s, std::move(out));
    if (qc) qc->consume(s.sid, used);
    data += used;
    len -= used;
    if (s.dialer->status() == mss::Status::kFailed) {
      uint32_t code = err::from_engine(err::kMultistreamBase, s.dialer->error());
      return kill_stream(c, s, Ev::kStreamOpenFailed, code);
    }
    bool ready = s.optimistic ? s.dialer->confirmed() : s.dialer->status() == mss::Status::kDone;
    if (!ready) {
      if (fin) kill_stream(c, s, Ev::kStreamOpenFailed, err::kStreamRemoteReset);
      return;
    }
    s.opened_sent = true;
    if (s.fin_deferred && qc != nullptr) {
      s.fin_deferred = false;
      qc->send(s.sid, nullptr, 0, true);
      th_.batch().add(Ev::kWriteClosed, c.id, s.handle);
    }
    const std::string& p = s.dialer->selected();
    s.proto_index = th_.host().protocol_index(p);
    if (double* pc = th_.proto_counters(s.proto_index)) pc[2] += 1;
    Record& r = th_.batch().add(Ev::kStreamOpened, c.id, s.handle, s.proto_index);
    th_.batch().attach(r, p.data(), p.size());
  }
  int64_t sid = s.sid;
  uint32_t handle = s.handle;
  if (len > 0) {
    trace::point("data_in", len);
    deliver(c, s, data, len);  // may drop the stream (no slab)
  }
  if (fin && c.by_sid.count(sid)) th_.batch().add(Ev::kRemoteFin, c.id, handle);
}

// ---- commands from JS ------------------------------------------------------------------------------------

bool QuicIo::on_command(Command& cmd) {
  auto it = conns_.find(cmd.conn);
  if (it == conns_.end()) return false;
  Conn& c = *it->second;
  quic::Connection* qc = engine_conn(c);
  mark_dirty(*c.ep);
  auto stream = [&]() -> Strm* {
    auto s = c.by_handle.find(cmd.stream);
    return s == c.by_handle.end() ? nullptr : s->second;
  };
  switch (cmd.op) {
    case Op::kOpenStream:
      if (!c.opened || c.closing || qc == nullptr) {
        th_.batch().add(Ev::kStreamOpenFailed, c.id, cmd.stream, err::kStreamConnectionClosed);
        return true;
      }
      start_outbound(c, cmd.stream, cmd.text);
      return true;
    case Op::kSend: {
      Strm* s = stream();
      if (s == nullptr || qc == nullptr || s->write_closed) {
        th_.batch().add(Ev::kWritten, c.id, cmd.stream, cmd.len);  // nothing holds it: release
        return true;
      }
      if (cmd.len == 0) return true;
      trace::point("send_cmd", cmd.len);
      if (qc->send(s->sid, cmd.data, cmd.len, false) != quic::Error::kNone) {
        th_.batch().add(Ev::kWritten, c.id, cmd.stream, cmd.len);
        return true;
      }
      s->inflight.push_back(Strm::Chunk{s->sent, s->sent + cmd.len, true, {}});
      s->sent += cmd.len;
      double* ctr = th_.conn_counters(c.slot);
      ctr[1] += cmd.len;
      ctr[3] += 1;
      if (s->proto_index != 0xffffffffu) {
        if (double* p = th_.proto_counters(s->proto_index)) p[1] += cmd.len;
      }
      return true;
    }
    case Op::kCloseWrite: {
      Strm* s = stream();
      if (s == nullptr || s->write_closed) return true;
      s->write_closed = true;
      if (s->dialer && !s->opened_sent) {
        // Optimistic stream not yet confirmed: hold the FIN until the listener's echo (as
        // rust-libp2p's multistream-select does). A FIN arriving with the proposal reaches
        // js-libp2p before its handler runs, and that handler then never sees the end
        // (test/interop/tcp.test.ts, FIN_BEFORE_CONFIRMATION_BUG).
        s->fin_deferred = true;
        return true;
      }
      if (qc != nullptr) qc->send(s->sid, nullptr, 0, true);
      th_.batch().add(Ev::kWriteClosed, c.id, s->handle);
      return true;
    }
    case Op::kReset: {
      Strm* s = stream();
      if (s == nullptr) {
        // Not (yet) a stream: a pending open, or already gone.
        for (auto pit = c.pending_opens.begin(); pit != c.pending_opens.end(); ++pit) {
          if (pit->first == cmd.stream) {
            c.pending_opens.erase(pit);
            break;
          }
        }
        th_.batch().add(Ev::kStreamReleased, c.id, cmd.stream);
        return true;
      }
      kill_stream(c, *s, Ev::kStreamReleased, 0);
      return true;
    }
    case Op::kPause: {
      if (Strm* s = stream()) s->paused = true;
      return true;
    }
    case Op::kResume: {
      Strm* s = stream();
      if (s == nullptr) return true;
      s->paused = false;
      if (s->unconsumed > 0 && qc != nullptr) qc->consume(s->sid, s->unconsumed);
      s->unconsumed = 0;
      return true;
    }
    case Op::kCloseConn:
      c.closing = true;
      if (qc != nullptr) qc->close(0, th_.now());
      return true;
    default:
      return true;
  }
}

// ---- datagrams -------------------------------------------------------------------------------------------

void QuicIo::mark_dirty(Ep& ep) {
  if (ep.dirty || ep.fd < 0) return;
  ep.dirty = true;
  dirty_.push_back(&ep);
}

void QuicIo::read(Ep& ep) {
  for (int batch = 0; batch < kQuicMaxRecvBatchesPerEvent; batch++) {
    if (th_.outbox_full()) break;
    const size_t ctl = CMSG_SPACE(sizeof(int));
    for (size_t i = 0; i < ep.rslots; i++) {
      ep.riov[i] = iovec{ep.rbuf.data() + i * ep.rslot_size, ep.rslot_size};
      msghdr& h = ep.rmsgs[i].msg_hdr;
      std::memset(&h, 0, sizeof(h));
      h.msg_name = &ep.raddr[i];
      h.msg_namelen = sizeof(sockaddr_storage);
      h.msg_iov = &ep.riov[i];
      h.msg_iovlen = 1;
      if (ep.gro) {
        h.msg_control = ep.rctl.data() + i * ctl;
        h.msg_controllen = ctl;
      }
    }
    int n = ::recvmmsg(ep.fd, ep.rmsgs.data(), static_cast<unsigned>(ep.rslots), MSG_DONTWAIT, nullptr);
    if (n <= 0) {
      ep.deferred = false;
      return;  // EAGAIN (or a transient error: ICMP errors surface here and are ignored)
    }
    // A fresh clock per batch, not the iteration's start (th_.now()): an iteration can spend
    // hundreds of microseconds on earlier batches and writes, and ngtcp2 takes RTT samples and
    // ACK delays from these times. With the iteration's time, a packet written and acknowledged
    // within one iteration measured an RTT of 0 (min RTT 0 in the close line, which pins cubic's
    // window cap at its floor) and packets written late in an iteration measured too long a one.
    uint64_t now = now_ns();
    if (trace::enabled()) {
      uint64_t bytes = 0;
      for (int i = 0; i < n; i++) bytes += ep.rmsgs[i].msg_len;
      trace::point("recv", static_cast<uint64_t>(n) << 32 | bytes);
    }
    for (int i = 0; i < n; i++) {
      msghdr& h = ep.rmsgs[i].msg_hdr;
      if (h.msg_flags & MSG_TRUNC) continue;
      const uint8_t* p = ep.rbuf.data() + i * ep.rslot_size;
      size_t len = ep.rmsgs[i].msg_len;
      size_t seg = len;  // GRO: equal segments of `seg` bytes, the last may be shorter
      if (ep.gro) {
        for (cmsghdr* cm = CMSG_FIRSTHDR(&h); cm != nullptr; cm = CMSG_NXTHDR(&h, cm)) {
          if (cm->cmsg_level != SOL_UDP || cm->cmsg_type != UDP_GRO) continue;
          int v = 0;
          if (cm->cmsg_len >= CMSG_LEN(sizeof(int))) std::memcpy(&v, CMSG_DATA(cm), sizeof(int));
          else if (cm->cmsg_len >= CMSG_LEN(sizeof(uint16_t))) { uint16_t u; std::memcpy(&u, CMSG_DATA(cm), 2); v = u; }
          if (v > 0) seg = static_cast<size_t>(v);
        }
      }
      quic::Address from = to_quic(ep.raddr[i]);
      for (size_t off = 0; off < len; off += seg)
        ep.engine->handle_datagram(p + off, std::min(seg, len - off), from, now);
    }
    trace::point("recv_handled");
    if (static_cast<size_t>(n) < ep.rslots && now_ns() - now < kQuicRereadAfterNs) {
      // Drained. What this produced (ACKs, a handshake's reply) is written by flush() after
      // IoThread::iterate has published the records: JS's wake-up overlaps the send, as on TCP,
      // instead of waiting ~15-30 us for it (the setup trace's send -> publish).
      ep.deferred = false;
      mark_dirty(ep);
      return;
    }
    // ACKs and flow-control updates go out between batches, not after the whole burst. A batch
    // that took long may have had datagrams arrive behind it: read them before publishing.
    write(ep);
  }
  // Budget spent (or outbox full) with datagrams possibly left: edge-triggered, so come back.
  if (!ep.deferred) {
    ep.deferred = true;
    deferred_.push_back(&ep);
  }
}

void QuicIo::resume_reads() {
  if (deferred_.empty() || th_.outbox_full()) return;
  resuming_.swap(deferred_);
  for (Ep* ep : resuming_) {
    ep->deferred = false;
    if (ep->fd >= 0) read(*ep);
  }
  resuming_.clear();
}

// Sends `pending` (flattened to messages: one per Transmit with GSO, else one per segment) from
// message `pending_msg` on. Returns false when the socket is full (EPOLLOUT resumes).
bool QuicIo::send_pending(Ep& ep) {
  for (;;) {
    ep.smsgs.clear();
    ep.siov.clear();
    ep.saddr.clear();
    ep.cmsg.clear();
    // Build every message (a bounded number: kQuicSendBatch * kMaxGsoSegments at most).
    size_t total = 0;
    for (size_t t = 0; t < ep.pending.size(); t++) total += ep.gso ? 1 : ep.pending[t].segments;
    if (ep.pending_msg >= total) {
      ep.pending.clear();
      ep.pending_msg = 0;
      return true;
    }
    ep.siov.reserve(total);
    ep.saddr.reserve(ep.pending.size());
    ep.cmsg.assign(total * CMSG_SPACE(sizeof(uint16_t)), 0);
    ep.smsgs.reserve(total);
    for (size_t t = 0; t < ep.pending.size(); t++) {
      const quic::Transmit& tx = ep.pending[t];
      sockaddr_storage ss;
      socklen_t sl = to_sockaddr(tx.remote, ss);
      ep.saddr.push_back(ss);
      uint8_t* base = ep.sbuf.data() + t * quic::kMaxGsoBytes;
      size_t parts = ep.gso ? 1 : tx.segments;
      for (size_t k = 0; k < parts; k++) {
        size_t off = ep.gso ? 0 : k * tx.segment_size;
        size_t len = ep.gso ? tx.bytes : std::min(tx.segment_size, tx.bytes - off);
        ep.siov.push_back(iovec{base + off, len});
        mmsghdr m{};
        m.msg_hdr.msg_name = &ep.saddr.back();
        m.msg_hdr.msg_namelen = sl;
        m.msg_hdr.msg_iov = &ep.siov.back();
        m.msg_hdr.msg_iovlen = 1;
        if (ep.gso && tx.segments > 1) {
          uint8_t* cb = ep.cmsg.data() + ep.smsgs.size() * CMSG_SPACE(sizeof(uint16_t));
          m.msg_hdr.msg_control = cb;
          m.msg_hdr.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
          cmsghdr* cm = CMSG_FIRSTHDR(&m.msg_hdr);
          cm->cmsg_level = SOL_UDP;
          cm->cmsg_type = UDP_SEGMENT;
          cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
          uint16_t seg = static_cast<uint16_t>(tx.segment_size);
          std::memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
        }
        ep.smsgs.push_back(m);
      }
    }
    if (trace::enabled()) {
      uint64_t bytes = 0;
      for (const quic::Transmit& tx : ep.pending) bytes += tx.bytes;
      trace::point("send", static_cast<uint64_t>(total) << 32 | bytes);
    }
    size_t i = ep.pending_msg;
    while (i < total) {
      int n = ::sendmmsg(ep.fd, ep.smsgs.data() + i, static_cast<unsigned>(total - i), 0);
      if (n > 0) {
        i += static_cast<size_t>(n);
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        ep.pending_msg = i;
        ep.write_blocked = true;
        return false;
      }
      if (errno == EINTR) continue;
      if (ep.gso && (errno == EIO || errno == EINVAL)) {
        // The device cannot segment (no checksum offload): send segments one by one from now on.
        // Messages already out are whole Transmits, so restart from the first unsent one.
        ep.gso = false;
        ep.pending.erase(ep.pending.begin(), ep.pending.begin() + static_cast<long>(i));
        std::memmove(ep.sbuf.data(), ep.sbuf.data() + i * quic::kMaxGsoBytes,
                     ep.pending.size() * quic::kMaxGsoBytes);
        ep.pending_msg = 0;
        goto rebuild;
      }
      i++;  // EMSGSIZE (a PMTU probe too large), ECONNREFUSED (ICMP): drop this datagram
    }
    ep.pending.clear();
    ep.pending_msg = 0;
    return true;
  rebuild:;
  }
}

void QuicIo::write(Ep& ep) {
  if (ep.fd < 0) return;
  uint64_t now = now_ns();  // fresh, as read()'s: the packets' send times
  while (!ep.write_blocked) {
    if (ep.pending.empty()) {
      for (size_t t = 0; t < kQuicSendBatch; t++) {
        quic::Transmit tx = ep.engine->write_datagrams(ep.sbuf.data() + t * quic::kMaxGsoBytes, quic::kMaxGsoBytes, now);
        if (tx.bytes == 0) break;
        ep.pending.push_back(tx);
      }
      if (ep.pending.empty()) break;
    }
    if (!send_pending(ep)) break;
  }
  arm(ep);
}

void QuicIo::arm(Ep& ep) {
  uint64_t d = ep.engine->next_deadline();
  if (d == UINT64_MAX || d >= ep.armed) return;
  ep.armed = d;
  th_.loop().arm_timer(d, kTag | ep.index, ++ep.timer_gen);
}

void QuicIo::flush() {
  if (dirty_.empty()) return;
  flushing_.swap(dirty_);
  for (Ep* ep : flushing_) {
    ep->dirty = false;
    write(*ep);
  }
  flushing_.clear();
  // After the writes (a handshake's flight is out, its peer is on the way): the next
  // CertificateVerify's nonce, at most one per flush (~26 us; nothing when kSignNoncePool are ready).
  if (cert_) cert_->prepare_signature();
}

void QuicIo::on_socket(uint64_t tag, uint32_t events) {
  uint32_t i = static_cast<uint32_t>(tag);
  if (i >= eps_.size() || !eps_[i] || eps_[i]->fd < 0) return;
  Ep& ep = *eps_[i];
  if (events & EPOLLOUT) {
    if (ep.write_blocked) {
      ep.write_blocked = false;
      mark_dirty(ep);
    }
  }
  if (events & (EPOLLIN | EPOLLERR)) read(ep);
}

void QuicIo::on_timer(uint64_t tag, uint32_t gen) {
  uint32_t i = static_cast<uint32_t>(tag);
  if (i >= eps_.size() || !eps_[i] || eps_[i]->fd < 0) return;
  Ep& ep = *eps_[i];
  if (gen != ep.timer_gen) return;
  ep.armed = UINT64_MAX;
  ep.engine->set_unix_time(static_cast<int64_t>(::time(nullptr)));
  ep.engine->handle_timeout(th_.now());
  mark_dirty(ep);
}

void QuicIo::shutdown() {
  std::vector<Conn*> all;
  for (auto& [id, c] : conns_) all.push_back(c);
  for (Conn* c : all) {
    if (c->opened) {
      th_.batch().add(Ev::kConnClosed, c->id, 0, err::kShutdown);
    } else if (c->outbound) {
      th_.batch().add(Ev::kConnFailed, c->id, 0, err::kShutdown);
    }
    delete c;
  }
  conns_.clear();
  for (auto& ep : eps_) {
    if (!ep) continue;
    if (ep->listener_open) th_.batch().add(Ev::kListenerClosed, ep->listen_id);
    ep->listener_open = false;
    ep->by_qid.clear();
    ep->sink.io = nullptr;
    close_endpoint(*ep);
    ep->engine.reset();
  }
  eps_.clear();
  dirty_.clear();
  deferred_.clear();
}

}  // namespace l2n::io
