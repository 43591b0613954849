// Raw ngtcp2 + GnuTLS pump over loopback UDP: the baseline for issue 4's "at least 70% of a raw
// ngtcp2 pump in the same run". It uses ngtcp2 the way its own examples do and nothing of ours
// except l2n/ngtcp2_compat.h (so it builds against 0.12 and 1.x like the engine): no libp2p
// extension, no certificate verification, no client certificate, one bidirectional stream.
// Two threads (server, client), one UDP socket each, poll() with ngtcp2's expiry as timeout,
// recvmmsg on receive and UDP GSO (UDP_SEGMENT) on send where the kernel has it.
//
//   bash bench/native/build-quic-pump.sh && build-bench/quic_pump [MiB=1024] [port=4433, 0: any]
//   (QUIC_PUMP_CC=cubic: ngtcp2's default controller instead of BBRv2, the engine's default)
//
// Prints one JSON line: handshake time (client side, first Initial to handshake completion),
// transfer time/throughput (client's first stream byte to the server having all bytes), and the
// process's CPU seconds and peak RSS (both ends: one process), which bench/perf/compare.ts
// --transport quic puts beside ours.
#include <arpa/inet.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "l2n/ngtcp2_compat.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

namespace {

constexpr size_t kPkt = 1452;          // same max UDP payload as the engine
constexpr size_t kBatch = 64;          // GSO segments / recvmmsg messages per call (Linux maximum)
constexpr size_t kChunk = 1 << 20;     // the client cycles over one 1 MiB buffer
constexpr uint64_t kStreamWindow = 16u << 20, kConnWindow = 24u << 20;  // as the engine's max
const char* kPriority =
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:"
    "-GROUP-ALL:+GROUP-X25519:%DISABLE_TLS13_COMPAT_MODE";

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec);
}

std::atomic<uint64_t> g_received{0};
std::atomic<bool> g_done{false};
uint64_t g_total = 0;

struct Peer {
  ngtcp2_crypto_conn_ref ref{};
  ngtcp2_conn* conn = nullptr;
  gnutls_session_t tls = nullptr;
  int fd = -1;
  sockaddr_in local{}, remote{};
  bool server = false;
  bool handshake_done = false;
  uint64_t handshake_at = 0;
  int64_t stream = -1;
  uint64_t sent = 0;  // stream bytes handed to ngtcp2
  bool gso = true;
  std::vector<uint8_t> out = std::vector<uint8_t>(kBatch * kPkt);
};

std::vector<uint8_t> g_data(kChunk, 0x5a);

ngtcp2_conn* get_conn(ngtcp2_crypto_conn_ref* r) { return static_cast<Peer*>(r->user_data)->conn; }
void rand_cb(uint8_t* d, size_t n, const ngtcp2_rand_ctx*) { gnutls_rnd(GNUTLS_RND_NONCE, d, n); }
int new_cid_cb(ngtcp2_conn*, ngtcp2_cid* cid, uint8_t* token, size_t len, void*) {
  gnutls_rnd(GNUTLS_RND_RANDOM, cid->data, len);
  cid->datalen = len;
  gnutls_rnd(GNUTLS_RND_RANDOM, token, NGTCP2_STATELESS_RESET_TOKENLEN);
  return 0;
}
int handshake_cb(ngtcp2_conn*, void* ud) {
  auto* p = static_cast<Peer*>(ud);
  p->handshake_done = true;
  p->handshake_at = now_ns();
  return 0;
}
int recv_data_cb(ngtcp2_conn* c, uint32_t flags, int64_t id, uint64_t, const uint8_t*, size_t len,
                 void*, void*) {
  ngtcp2_conn_extend_max_stream_offset(c, id, len);
  ngtcp2_conn_extend_max_offset(c, len);
  uint64_t got = g_received.fetch_add(len) + len;
  if ((flags & NGTCP2_STREAM_DATA_FLAG_FIN) || got >= g_total) g_done = true;
  return 0;
}

ngtcp2_callbacks callbacks(bool server) {
  ngtcp2_callbacks cb{};
  if (server) cb.recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
  else { cb.client_initial = ngtcp2_crypto_client_initial_cb; cb.recv_retry = ngtcp2_crypto_recv_retry_cb; }
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
  cb.get_new_connection_id = new_cid_cb;
  cb.handshake_completed = handshake_cb;
  cb.recv_stream_data = recv_data_cb;
  return cb;
}

// The same congestion controller as the engine's default (BBRv2: on ngtcp2 < 1.8, cubic and reno
// stop growing the window at 2.89 x delivery rate x min RTT, which freezes it on loopback; see
// docs/design/native-core.md), so the pump stays the limit of ngtcp2 rather than of cubic's cap.
// QUIC_PUMP_CC=cubic gives the pump ngtcp2's default controller, as before.
ngtcp2_cc_algo congestion_control() {
  const char* cc = std::getenv("QUIC_PUMP_CC");
  if (cc != nullptr && std::strcmp(cc, "cubic") == 0) return NGTCP2_CC_ALGO_CUBIC;
#if L2N_NGTCP2_V1
  return NGTCP2_CC_ALGO_BBR;  // 1.x's BBR is v2
#else
  return NGTCP2_CC_ALGO_BBR2;
#endif
}

void settings(ngtcp2_settings& s, ngtcp2_transport_params& p) {
  ngtcp2_settings_default(&s);
  s.initial_ts = now_ns();
  s.max_tx_udp_payload_size = kPkt;
  s.max_window = kConnWindow;
  s.max_stream_window = kStreamWindow;
  s.cc_algo = congestion_control();
  ngtcp2_transport_params_default(&p);
  p.initial_max_stream_data_bidi_local = p.initial_max_stream_data_bidi_remote = 1 << 20;
  p.initial_max_data = 3 << 19;
  p.initial_max_streams_bidi = 16;
  p.max_idle_timeout = 30'000'000'000ull;
}

gnutls_certificate_credentials_t make_credentials() {
  gnutls_x509_privkey_t key;
  gnutls_x509_crt_t crt;
  gnutls_x509_privkey_init(&key);
  gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
  gnutls_x509_crt_init(&crt);
  gnutls_x509_crt_set_version(crt, 3);
  unsigned char serial = 1;
  gnutls_x509_crt_set_serial(crt, &serial, 1);
  gnutls_x509_crt_set_activation_time(crt, time(nullptr) - 3600);
  gnutls_x509_crt_set_expiration_time(crt, time(nullptr) + 86400);
  gnutls_x509_crt_set_key(crt, key);
  gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0);
  gnutls_certificate_credentials_t cred;
  gnutls_certificate_allocate_credentials(&cred);
  gnutls_certificate_set_x509_key(cred, &crt, 1, key);
  gnutls_x509_crt_deinit(crt);
  gnutls_x509_privkey_deinit(key);
  return cred;
}

void setup_tls(Peer& p, gnutls_certificate_credentials_t cred) {
  gnutls_init(&p.tls, (p.server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NO_END_OF_EARLY_DATA | GNUTLS_NO_TICKETS);
  if (p.server) ngtcp2_crypto_gnutls_configure_server_session(p.tls);
  else ngtcp2_crypto_gnutls_configure_client_session(p.tls);
  gnutls_priority_set_direct(p.tls, kPriority, nullptr);
  gnutls_credentials_set(p.tls, GNUTLS_CRD_CERTIFICATE, cred);
  gnutls_datum_t alpn{(unsigned char*)"libp2p", 6};
  gnutls_alpn_set_protocols(p.tls, &alpn, 1, GNUTLS_ALPN_MANDATORY);
  p.ref.get_conn = get_conn;
  p.ref.user_data = &p;
  gnutls_session_set_ptr(p.tls, &p.ref);
  ngtcp2_conn_set_tls_native_handle(p.conn, p.tls);
}

ngtcp2_path path_of(Peer& p, sockaddr_in* remote) {
  return ngtcp2_path{{(sockaddr*)&p.local, sizeof p.local}, {(sockaddr*)remote, sizeof *remote}, nullptr};
}

void send_batch(Peer& p, size_t bytes, size_t seg) {
  iovec iov{p.out.data(), bytes};
  msghdr mh{};
  mh.msg_name = &p.remote;
  mh.msg_namelen = sizeof p.remote;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(uint16_t))] = {};
  if (p.gso && bytes > seg) {
    mh.msg_control = ctrl;
    mh.msg_controllen = sizeof ctrl;
    cmsghdr* cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_UDP;
    cm->cmsg_type = UDP_SEGMENT;
    cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    uint16_t s = uint16_t(seg);
    std::memcpy(CMSG_DATA(cm), &s, sizeof s);
  }
  if (sendmsg(p.fd, &mh, 0) >= 0) return;
  if (p.gso && bytes > seg) {  // no GSO here: one sendmsg per packet from now on
    p.gso = false;
    for (size_t off = 0; off < bytes; off += seg) {
      iovec one{p.out.data() + off, std::min(seg, bytes - off)};
      msghdr m1{};
      m1.msg_name = &p.remote;
      m1.msg_namelen = sizeof p.remote;
      m1.msg_iov = &one;
      m1.msg_iovlen = 1;
      sendmsg(p.fd, &m1, 0);
    }
  }
}

// Writes and sends until ngtcp2 has nothing more (or is congestion/pacing limited).
void flush(Peer& p) {
  uint64_t ts = now_ns();
  size_t max_pkts = std::max<size_t>(1, std::min(kBatch, ngtcp2_conn_get_send_quantum(p.conn) / kPkt));
  ngtcp2_path_storage ps;
  ngtcp2_path_storage_zero(&ps);
  ngtcp2_pkt_info pi{};
  size_t n = 0, seg = 0, bytes = 0;
  for (;;) {
    ngtcp2_vec v{};
    size_t vcnt = 0;
    int64_t sid = -1;
    uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
    if (!p.server && p.stream >= 0 && p.sent < g_total) {
      sid = p.stream;
      size_t off = p.sent % kChunk;
      v.base = g_data.data() + off;
      v.len = std::min<uint64_t>(kChunk - off, g_total - p.sent);
      vcnt = 1;
      if (p.sent + v.len == g_total) flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
    }
    ngtcp2_ssize datalen = -1;
    size_t room = seg ? seg : kPkt;
    ngtcp2_ssize w = ngtcp2_conn_writev_stream(p.conn, &ps.path, &pi, p.out.data() + bytes, room, &datalen,
                                               flags, sid, vcnt ? &v : nullptr, vcnt, ts);
    if (datalen > 0) p.sent += uint64_t(datalen);
    if (w == NGTCP2_ERR_WRITE_MORE) continue;
    if (w == NGTCP2_ERR_STREAM_DATA_BLOCKED) { p.stream = -p.stream - 2; continue; }  // park until window
    if (w < 0) { std::fprintf(stderr, "write: %s\n", ngtcp2_strerror(int(w))); std::exit(1); }
    if (w == 0) break;
    if (!seg) seg = size_t(w);
    bytes += size_t(w);
    if (size_t(w) < seg || ++n == max_pkts) {
      send_batch(p, bytes, seg);
      bytes = 0; seg = 0;
      if (n == max_pkts) break;
    }
  }
  if (bytes) send_batch(p, bytes, seg);
  if (p.stream < -1) p.stream = -p.stream - 2;  // retry the stream next round
  if (p.handshake_done) ngtcp2_conn_update_pkt_tx_time(p.conn, ts);
}

void loop(Peer& p, gnutls_certificate_credentials_t cred) {
  std::vector<uint8_t> bufs(kBatch * 2048);
  mmsghdr msgs[kBatch];
  iovec iovs[kBatch];
  sockaddr_in from[kBatch];
  while (!g_done) {
    if (p.conn) {
      if (ngtcp2_conn_get_expiry(p.conn) <= now_ns()) ngtcp2_conn_handle_expiry(p.conn, now_ns());
      if (!p.server && p.handshake_done && p.stream == -1) ngtcp2_conn_open_bidi_stream(p.conn, &p.stream, nullptr);
      flush(p);
    }
    int timeout = 100;
    if (p.conn) {
      uint64_t exp = ngtcp2_conn_get_expiry(p.conn), t = now_ns();
      timeout = exp <= t ? 0 : int(std::min<uint64_t>((exp - t) / 1'000'000 + 1, 100));
    }
    pollfd pfd{p.fd, POLLIN, 0};
    poll(&pfd, 1, timeout);
    if (pfd.revents & POLLIN) {
      for (size_t i = 0; i < kBatch; i++) {
        iovs[i] = {bufs.data() + i * 2048, 2048};
        msgs[i].msg_hdr = msghdr{&from[i], sizeof from[i], &iovs[i], 1, nullptr, 0, 0};
        msgs[i].msg_len = 0;
      }
      int got = recvmmsg(p.fd, msgs, kBatch, MSG_DONTWAIT, nullptr);
      for (int i = 0; i < got; i++) {
        const uint8_t* d = bufs.data() + size_t(i) * 2048;
        size_t len = msgs[i].msg_len;
        if (!p.conn) {  // server: the first Initial makes the connection
          ngtcp2_pkt_hd hd;
          if (ngtcp2_accept(&hd, d, len) != 0) continue;
          p.remote = from[i];
          ngtcp2_settings s;
          ngtcp2_transport_params tp;
          settings(s, tp);
          l2n::quic::compat::set_original_dcid(&tp, hd.dcid);
          ngtcp2_cid scid;
          scid.datalen = 16;
          gnutls_rnd(GNUTLS_RND_RANDOM, scid.data, 16);
          ngtcp2_path path = path_of(p, &p.remote);
          ngtcp2_callbacks cb = callbacks(true);
          ngtcp2_conn_server_new(&p.conn, &hd.scid, &scid, &path, hd.version, &cb, &s, &tp, nullptr, &p);
          setup_tls(p, cred);
        }
        ngtcp2_path path = path_of(p, &from[i]);
        ngtcp2_pkt_info pi{};
        int rv = ngtcp2_conn_read_pkt(p.conn, &path, &pi, d, len, now_ns());
        if (rv != 0 && rv != NGTCP2_ERR_DISCARD_PKT) { std::fprintf(stderr, "read: %s\n", ngtcp2_strerror(rv)); std::exit(1); }
      }
    }
  }
}

int udp_socket(uint16_t port, sockaddr_in& addr) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int big = 8 << 20;  // socket buffers: a few windows' worth of datagrams
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
  uint16_t port = argc > 2 ? uint16_t(std::atoi(argv[2])) : 4433;
  g_total = mib << 20;
  gnutls_certificate_credentials_t cred = make_credentials();

  Peer server, client;
  server.server = true;
  server.fd = udp_socket(port, server.local);
  client.fd = udp_socket(0, client.local);
  client.remote = server.local;

  std::thread st([&] { loop(server, cred); });
  uint64_t t0 = now_ns();
  ngtcp2_settings s;
  ngtcp2_transport_params tp;
  settings(s, tp);
  ngtcp2_cid dcid, scid;
  dcid.datalen = scid.datalen = 16;
  gnutls_rnd(GNUTLS_RND_RANDOM, dcid.data, 16);
  gnutls_rnd(GNUTLS_RND_RANDOM, scid.data, 16);
  ngtcp2_path path = path_of(client, &client.remote);
  ngtcp2_callbacks cb = callbacks(false);
  ngtcp2_conn_client_new(&client.conn, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &cb, &s, &tp, nullptr, &client);
  setup_tls(client, cred);
  std::thread ct([&] { loop(client, cred); });
  // The transfer clock starts at handshake completion (the client opens its stream right then).
  ct.join();
  st.join();
  uint64_t t1 = now_ns();
  double secs = double(t1 - client.handshake_at) / 1e9;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto seconds_of = [](const timeval& tv) { return double(tv.tv_sec) + double(tv.tv_usec) / 1e6; };
  std::printf("{\"impl\":\"raw-ngtcp2\",\"ngtcp2\":\"%s\",\"bytes\":%llu,\"handshake_ms\":%.3f,"
              "\"seconds\":%.3f,\"gbit_per_s\":%.3f,\"gso\":%s,\"cpu_user_s\":%.3f,\"cpu_system_s\":%.3f,"
              "\"max_rss_bytes\":%llu}\n",
              NGTCP2_VERSION, (unsigned long long)g_received.load(), double(client.handshake_at - t0) / 1e6,
              secs, double(g_received.load()) * 8 / secs / 1e9, client.gso ? "true" : "false",
              seconds_of(ru.ru_utime), seconds_of(ru.ru_stime), (unsigned long long)ru.ru_maxrss * 1024);
  return 0;
}
