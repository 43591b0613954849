// Our QUIC engine (l2n/quic.h: Endpoint + libp2p TLS with mutual authentication) over loopback
// UDP, with the same socket code, sizes and JSON output as quic_pump.cpp (raw ngtcp2), so the
// two can be run side by side for the "70% of raw ngtcp2" target. Only the engine differs: the
// I/O here is a stand-in for native/io's UDP path (poll, recvmmsg, GSO sendmsg, one thread per
// side).
//
//   bash bench/native/build-quic-pump.sh && build-bench/quic_engine_pump [MiB=1024] [port=4434]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "l2n/quic.h"
#include "../../native/test/tls_helpers.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

namespace {

using namespace l2n::quic;
constexpr size_t kBatch = 64;
constexpr size_t kChunk = 1 << 20;

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec);
}

std::atomic<uint64_t> g_received{0};
std::atomic<bool> g_done{false};
uint64_t g_total = 0;
std::vector<uint8_t> g_data(kChunk, 0x5a);

struct Side : EventSink {
  std::unique_ptr<Endpoint> ep;
  int fd = -1;
  sockaddr_in local{};
  bool server = false;
  bool gso = true;
  uint64_t handshake_at = 0;
  Connection* conn = nullptr;
  int64_t stream = -1;
  uint64_t queued = 0;  // bytes handed to send()
  uint64_t acked = 0;

  void on_event(const Event& e) override {
    switch (e.type) {
      case EventType::kHandshakeCompleted:
        handshake_at = now_ns();
        break;
      case EventType::kStreamData: {
        ep->find(e.conn)->consume(e.stream, e.len);
        uint64_t got = g_received.fetch_add(e.len) + e.len;
        if (e.fin || got >= g_total) g_done = true;
        break;
      }
      case EventType::kStreamAcked:
        acked = e.value;
        break;
      case EventType::kConnectionClosed:
        std::fprintf(stderr, "%s: closed: %s\n", server ? "server" : "client", error_name(e.error));
        g_done = true;
        break;
      default: break;
    }
  }

  // Keeps up to two chunks of the (transferred) 1 MiB buffer queued: a chunk is re-queued once
  // every byte of its previous use is acknowledged, as the engine's buffer contract requires.
  void feed() {
    if (server || !conn || stream < 0) return;
    while (queued < g_total && queued - acked < kChunk) {
      size_t off = queued % kChunk;
      size_t n = std::min<uint64_t>(kChunk - off, g_total - queued);
      n = std::min<uint64_t>(n, kChunk - (queued - acked));
      conn->send(stream, g_data.data() + off, n, queued + n == g_total);
      queued += n;
    }
  }
};

Address to_address(const sockaddr_in& sa) {
  Address a;
  a.family = 4;
  a.port = ntohs(sa.sin_port);
  std::memcpy(a.ip, &sa.sin_addr, 4);
  return a;
}
sockaddr_in to_sockaddr(const Address& a) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(a.port);
  std::memcpy(&sa.sin_addr, a.ip, 4);
  return sa;
}

void send_transmit(Side& s, uint8_t* buf, const Transmit& t) {
  sockaddr_in to = to_sockaddr(t.remote);
  auto one = [&](uint8_t* p, size_t n, bool segmented) {
    iovec iov{p, n};
    msghdr mh{};
    mh.msg_name = &to;
    mh.msg_namelen = sizeof to;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(uint16_t))] = {};
    if (segmented) {
      mh.msg_control = ctrl;
      mh.msg_controllen = sizeof ctrl;
      cmsghdr* cm = CMSG_FIRSTHDR(&mh);
      cm->cmsg_level = SOL_UDP;
      cm->cmsg_type = UDP_SEGMENT;
      cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t seg = uint16_t(t.segment_size);
      std::memcpy(CMSG_DATA(cm), &seg, sizeof seg);
    }
    return sendmsg(s.fd, &mh, 0) >= 0;
  };
  if (t.segments > 1 && s.gso && one(buf, t.bytes, true)) return;
  if (t.segments > 1) s.gso = false;
  for (size_t off = 0; off < t.bytes; off += t.segment_size) one(buf + off, std::min(t.segment_size, t.bytes - off), false);
}

void loop(Side& s) {
  std::vector<uint8_t> out(kMaxGsoBytes);
  std::vector<uint8_t> bufs(kBatch * 2048);
  mmsghdr msgs[kBatch];
  iovec iovs[kBatch];
  sockaddr_in from[kBatch];
  while (!g_done) {
    uint64_t t = now_ns();
    if (s.ep->next_deadline() <= t) s.ep->handle_timeout(t);
    if (!s.server && s.conn && s.handshake_at && s.stream < 0) s.stream = s.conn->open_stream(nullptr);
    s.feed();
    for (;;) {
      Transmit tx = s.ep->write_datagrams(out.data(), out.size(), now_ns());
      if (!tx.bytes) break;
      send_transmit(s, out.data(), tx);
    }
    uint64_t d = s.ep->next_deadline(), n = now_ns();
    int timeout = d <= n ? 0 : int(std::min<uint64_t>((d - n) / 1'000'000 + 1, 100));
    pollfd pfd{s.fd, POLLIN, 0};
    poll(&pfd, 1, timeout);
    if (!(pfd.revents & POLLIN)) continue;
    for (size_t i = 0; i < kBatch; i++) {
      iovs[i] = {bufs.data() + i * 2048, 2048};
      msgs[i].msg_hdr = msghdr{&from[i], sizeof from[i], &iovs[i], 1, nullptr, 0, 0};
    }
    int got = recvmmsg(s.fd, msgs, kBatch, MSG_DONTWAIT, nullptr);
    uint64_t rt = now_ns();
    for (int i = 0; i < got; i++)
      s.ep->handle_datagram(bufs.data() + size_t(i) * 2048, msgs[i].msg_len, to_address(from[i]), rt);
  }
}

int udp_socket(uint16_t port, sockaddr_in& addr) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int big = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  if (bind(fd, (sockaddr*)&addr, sizeof addr) != 0) { perror("bind"); std::exit(1); }
  socklen_t len = sizeof addr;
  getsockname(fd, (sockaddr*)&addr, &len);
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1024;
  uint16_t port = argc > 2 ? uint16_t(std::atoi(argv[2])) : 4434;
  g_total = mib << 20;
  int64_t unix_now = time(nullptr);
  auto server_key = l2n_test::HostKey::make(1), client_key = l2n_test::HostKey::make(1);

  Side server, client;
  server.server = true;
  server.fd = udp_socket(port, server.local);
  client.fd = udp_socket(0, client.local);
  EndpointConfig cfg;
  server.ep = std::make_unique<Endpoint>(cfg, l2n_test::make_cert(server_key, unix_now), &server,
                                         to_address(server.local), unix_now);
  cfg.accept_inbound = false;
  client.ep = std::make_unique<Endpoint>(cfg, l2n_test::make_cert(client_key, unix_now), &client,
                                         to_address(client.local), unix_now);
  std::thread st([&] { loop(server); });
  uint64_t t0 = now_ns();
  Error err;
  client.conn = client.ep->connect(to_address(server.local), server_key.peer_id(), t0, &err);
  std::thread ct([&] { loop(client); });
  ct.join();
  st.join();
  uint64_t t1 = now_ns();
  double secs = double(t1 - client.handshake_at) / 1e9;
  std::printf("{\"impl\":\"l2n-quic\",\"bytes\":%llu,\"handshake_ms\":%.3f,\"seconds\":%.3f,"
              "\"gbit_per_s\":%.3f,\"gso\":%s}\n",
              (unsigned long long)g_received.load(), double(client.handshake_at - t0) / 1e6, secs,
              double(g_received.load()) * 8 / secs / 1e9, client.gso ? "true" : "false");
  return 0;
}
