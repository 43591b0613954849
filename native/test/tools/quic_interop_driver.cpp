// Test driver for native/test/tools/quic_js_interop.mjs: our QUIC engine (l2n/quic.h) on a real
// UDP socket as one side of a /quic-v1 connection with a js-libp2p 3 peer using
// @chainsafe/libp2p-quic, then /ipfs/ping/1.0.0 over multistream-select (l2n/multistream.h).
// Not part of the addon; the I/O loop stands in for native/io.
//   quic_interop_driver dial <ip> <port> <expected peer id hex or -> <seed byte> <pings>
//   quic_interop_driver listen <seed byte>        (prints "listening <port>" first)
// Identity: Ed25519 from a 32-byte seed filled with the given byte.
// On stderr: "peer <hex>", "ping ok <n>", "closed <error> <tls error> <code>". Exit 0 on success.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "l2n/multistream.h"
#include "l2n/quic.h"

using namespace l2n::quic;

namespace {

constexpr const char* kPing = "/ipfs/ping/1.0.0";
constexpr size_t kPingSize = 32;  // ping spec: 32 random bytes, echoed

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec);
}
std::string to_hex(const std::vector<uint8_t>& v) {
  std::string s;
  char b[3];
  for (uint8_t x : v) { std::snprintf(b, sizeof b, "%02x", x); s += b; }
  return s;
}
std::vector<uint8_t> from_hex(const char* s) {
  std::vector<uint8_t> v;
  for (size_t i = 0; s[i] && s[i + 1]; i += 2) v.push_back(static_cast<uint8_t>(std::stoi(std::string(s + i, 2), nullptr, 16)));
  return v;
}

struct StreamState {
  std::unique_ptr<l2n::mss::Dialer> dialer;
  std::unique_ptr<l2n::mss::Listener> listener;
  std::vector<uint8_t> rx;        // protocol bytes after negotiation
  std::vector<uint8_t> expected;  // dialer: the ping payload in flight
  bool negotiated = false;
};

struct Driver : EventSink {
  std::unique_ptr<Endpoint> ep;
  bool dialing = false;
  int pings_wanted = 1, pings_done = 0;
  bool finished = false, ok = false;
  uint64_t conn_id = 0;
  std::map<int64_t, StreamState> streams;
  std::deque<std::vector<uint8_t>> keep;  // buffers handed to send(): transferred, kept until exit

  void send(Connection* c, int64_t sid, std::vector<uint8_t> bytes, bool fin) {
    keep.push_back(std::move(bytes));
    c->send(sid, keep.back().data(), keep.back().size(), fin);
  }

  void next_ping(Connection* c, int64_t sid, StreamState& st) {
    st.expected.resize(kPingSize);
    randombytes_buf(st.expected.data(), kPingSize);
    send(c, sid, st.expected, false);
  }

  void on_protocol_bytes(Connection* c, int64_t sid, StreamState& st) {
    if (dialing) {
      if (st.rx.size() < kPingSize) return;
      if (std::memcmp(st.rx.data(), st.expected.data(), kPingSize) != 0) { finished = true; return; }
      st.rx.erase(st.rx.begin(), st.rx.begin() + kPingSize);
      std::fprintf(stderr, "ping ok %d\n", ++pings_done);
      if (pings_done == pings_wanted) {
        ok = true;
        c->close(0, now_ns());
      } else {
        next_ping(c, sid, st);
      }
    } else {
      while (st.rx.size() >= kPingSize) {  // echo every full ping
        send(c, sid, std::vector<uint8_t>(st.rx.begin(), st.rx.begin() + kPingSize), false);
        st.rx.erase(st.rx.begin(), st.rx.begin() + kPingSize);
      }
    }
  }

  void on_event(const Event& e) override {
    Connection* c = ep->find(e.conn);
    switch (e.type) {
      case EventType::kHandshakeCompleted: {
        conn_id = e.conn;
        std::fprintf(stderr, "peer %s\n", to_hex(e.peer->peer_id).c_str());
        if (dialing) {
          int64_t sid = c->open_stream(nullptr);
          StreamState& st = streams[sid];
          st.dialer = std::make_unique<l2n::mss::Dialer>(std::vector<std::string>{kPing}, false);
          std::vector<uint8_t> out;
          st.dialer->start(out);
          send(c, sid, std::move(out), false);
        }
        break;
      }
      case EventType::kStreamOpened: {
        StreamState& st = streams[e.stream];
        st.listener = std::make_unique<l2n::mss::Listener>([](std::string_view p) { return p == kPing; });
        break;
      }
      case EventType::kStreamData: {
        c->consume(e.stream, e.len);
        auto it = streams.find(e.stream);
        if (it == streams.end()) break;
        StreamState& st = it->second;
        const uint8_t* p = e.data;
        size_t n = e.len;
        if (!st.negotiated) {
          std::vector<uint8_t> out;
          size_t used = st.dialer ? st.dialer->feed(p, n, out) : st.listener->feed(p, n, out);
          if (!out.empty()) send(c, e.stream, std::move(out), false);
          auto status = st.dialer ? st.dialer->status() : st.listener->status();
          if (status == l2n::mss::Status::kFailed) { std::fprintf(stderr, "mss failed\n"); finished = true; break; }
          p += used;
          n -= used;
          if (status == l2n::mss::Status::kDone && (!st.dialer || st.dialer->confirmed())) {
            st.negotiated = true;
            if (st.dialer) next_ping(c, e.stream, st);
          }
        }
        if (st.negotiated) {
          st.rx.insert(st.rx.end(), p, p + n);
          on_protocol_bytes(c, e.stream, st);
        }
        if (e.fin && !dialing) send(c, e.stream, {}, true);  // the peer is done: finish our side too
        break;
      }
      case EventType::kConnectionClosed:
        std::fprintf(stderr, "closed %s %s %llu\n", error_name(e.error), l2n::tls::error_name(e.tls_error),
                     (unsigned long long)e.value);
        if (!dialing) ok = e.error == Error::kPeerClosed || e.error == Error::kIdleTimeout;
        finished = true;
        break;
      default: break;
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || sodium_init() < 0) return 2;
  bool dial = std::strcmp(argv[1], "dial") == 0;
  if (dial && argc != 7) return 2;
  uint8_t seed[32], pk[32], sk[64];
  std::memset(seed, std::atoi(dial ? argv[5] : argv[2]), sizeof seed);
  crypto_sign_seed_keypair(pk, sk, seed);
  std::vector<uint8_t> key = {0x08, 0x01, 0x12, 0x20};
  key.insert(key.end(), pk, pk + 32);
  int64_t unix_now = time(nullptr);
  l2n::tls::CertificateRequest req;
  if (req.generate(unix_now) != l2n::tls::Error::kNone) return 2;
  uint8_t sig[64];
  crypto_sign_detached(sig, nullptr, req.message_to_sign().data(), req.message_to_sign().size(), sk);
  std::shared_ptr<const l2n::tls::Certificate> cert;
  if (req.finish(key.data(), key.size(), sig, sizeof sig, cert) != l2n::tls::Error::kNone) return 2;

  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (sockaddr*)&local, sizeof local) != 0) return 2;
  socklen_t sl = sizeof local;
  getsockname(fd, (sockaddr*)&local, &sl);
  auto addr_of = [](const sockaddr_in& sa) {
    Address a;
    a.family = 4;
    a.port = ntohs(sa.sin_port);
    std::memcpy(a.ip, &sa.sin_addr, 4);
    return a;
  };

  Driver d;
  d.dialing = dial;
  EndpointConfig cfg;
  cfg.accept_inbound = !dial;
  d.ep = std::make_unique<Endpoint>(cfg, cert, &d, addr_of(local), unix_now);
  if (dial) {
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    inet_pton(AF_INET, argv[2], &peer.sin_addr);
    peer.sin_port = htons(uint16_t(std::atoi(argv[3])));
    d.pings_wanted = std::atoi(argv[6]);
    std::vector<uint8_t> expected;
    if (std::strcmp(argv[4], "-") != 0) expected = from_hex(argv[4]);
    Error err;
    if (!d.ep->connect(addr_of(peer), expected, now_ns(), &err)) return 2;
  } else {
    std::fprintf(stderr, "listening %u\n", ntohs(local.sin_port));
  }

  std::vector<uint8_t> out(kMaxGsoBytes), in(65536);
  uint64_t give_up = now_ns() + 20'000'000'000ull;
  uint64_t finished_at = 0;
  for (;;) {
    uint64_t t = now_ns();
    if (t > give_up) { std::fprintf(stderr, "timeout\n"); return 1; }
    if (d.ep->next_deadline() <= t) d.ep->handle_timeout(t);
    for (;;) {
      Transmit tx = d.ep->write_datagrams(out.data(), out.size(), now_ns());
      if (!tx.bytes) break;
      sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_port = htons(tx.remote.port);
      std::memcpy(&to.sin_addr, tx.remote.ip, 4);
      for (size_t off = 0; off < tx.bytes; off += tx.segment_size)
        sendto(fd, out.data() + off, std::min(tx.segment_size, tx.bytes - off), 0, (sockaddr*)&to, sizeof to);
    }
    if (d.finished || (dial && d.ok)) {
      // Let the CONNECTION_CLOSE go out (written above), then stop.
      if (!finished_at) finished_at = now_ns();
      if (now_ns() - finished_at > 50'000'000) return d.ok ? 0 : 1;
    }
    uint64_t dl = d.ep->next_deadline(), n = now_ns();
    int timeout = dl <= n ? 0 : int(std::min<uint64_t>((dl - n) / 1'000'000 + 1, 50));
    pollfd p{fd, POLLIN, 0};
    poll(&p, 1, timeout);
    if (!(p.revents & POLLIN)) continue;
    for (;;) {
      sockaddr_in from{};
      socklen_t fl = sizeof from;
      ssize_t got = recvfrom(fd, in.data(), in.size(), MSG_DONTWAIT, (sockaddr*)&from, &fl);
      if (got < 0) break;
      d.ep->handle_datagram(in.data(), size_t(got), addr_of(from), now_ns());
    }
  }
}
