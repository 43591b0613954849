// CPU cost of one QUIC + libp2p TLS handshake with mutual authentication, both sides in one
// process with no sockets (so no scheduling noise): the floor under the "connection setup p50 at
// most 1 ms" target on loopback, where the two sides' work is mostly sequential.
// Also split per side (client: its Initial, then verifying the server's flight and answering;
// server: its whole flight, then verifying the client's) and the number of round trips: the
// flights exchanged until each side reports kHandshakeCompleted (1 = the client completes on the
// server's first answer, i.e. no HelloRetryRequest and no Retry).
// "warm": one pair of endpoints and certificates for all handshakes, so from the second one on
// each side finds the peer's certificate verified already (native/core/quic/cert_cache.h), as
// when two nodes reconnect; "cold": new endpoints and certificates for every handshake (made
// outside the timed calls), as between peers that never met.
// Build and run: bash bench/native/build-quic-pump.sh && build-bench/quic_handshake_cost [N=300]
#include <time.h>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include "l2n/quic.h"
#include "../../native/test/tls_helpers.h"
using namespace l2n::quic;
static double cpu() { timespec t; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
struct S : EventSink { int done = 0; void on_event(const Event& e) override { if (e.type == EventType::kHandshakeCompleted) done++; } };
int main(int argc, char** argv) {
  const int N = argc > 1 ? std::atoi(argv[1]) : 300;
  for (bool cold : {false, true}) {
    auto ck = l2n_test::HostKey::make(1), sk = l2n_test::HostKey::make(1);
    S cs, ss;
    EndpointConfig ccfg; ccfg.accept_inbound = false;
    EndpointConfig scfg; scfg.max_handshaking = 100000; scfg.retry_above_handshaking = 100000; scfg.max_connections = 100000;
    Address ca = Address::v4(10,0,0,1,1), sa = Address::v4(10,0,0,2,2);
    auto cep = std::make_unique<Endpoint>(ccfg, l2n_test::make_cert(ck), &cs, ca, l2n_test::kNow);
    auto sep = std::make_unique<Endpoint>(scfg, l2n_test::make_cert(sk), &ss, sa, l2n_test::kNow);
    std::vector<uint8_t> buf(65535);
    uint64_t now = 1'000'000'000;
    double client_s = 0, server_s = 0;
    int client_rounds = 0, server_rounds = 0, max_client_rounds = 0;
    uint64_t hits = 0;
    for (int i = 0; i < N; i++) {
      if (cold && i > 0) {  // fresh endpoints (empty certificate caches) and certificates, untimed
        hits += cep->stats().certificate_cache_hits + sep->stats().certificate_cache_hits;
        ck = l2n_test::HostKey::make(1);
        sk = l2n_test::HostKey::make(1);
        cep = std::make_unique<Endpoint>(ccfg, l2n_test::make_cert(ck), &cs, ca, l2n_test::kNow);
        sep = std::make_unique<Endpoint>(scfg, l2n_test::make_cert(sk), &ss, sa, l2n_test::kNow);
      }
      Endpoint& c = *cep;
      Endpoint& s = *sep;
      int cdone = cs.done, sdone = ss.done;
      double a = cpu();
      Error e; c.connect(sa, sk.peer_id(), now, &e);
      client_s += cpu() - a;
      // One round = the client's flight to the server, then the server's answer to the client.
      for (int round = 1; round <= 6; round++) {
        for (;;) {
          a = cpu();
          Transmit t = c.write_datagrams(buf.data(), buf.size(), now);
          client_s += cpu() - a;
          if (!t.bytes) break;
          a = cpu();
          for (size_t o = 0; o < t.bytes; o += t.segment_size) s.handle_datagram(buf.data() + o, std::min(t.segment_size, t.bytes - o), ca, now);
          server_s += cpu() - a;
        }
        if (ss.done > sdone) { server_rounds += round; sdone = 1 << 30; }
        for (;;) {
          a = cpu();
          Transmit t = s.write_datagrams(buf.data(), buf.size(), now);
          server_s += cpu() - a;
          if (!t.bytes) break;
          a = cpu();
          for (size_t o = 0; o < t.bytes; o += t.segment_size) c.handle_datagram(buf.data() + o, std::min(t.segment_size, t.bytes - o), sa, now);
          client_s += cpu() - a;
        }
        if (cs.done > cdone) { client_rounds += round; max_client_rounds = std::max(max_client_rounds, round); cdone = 1 << 30; }
      }
    }
    hits += cep->stats().certificate_cache_hits + sep->stats().certificate_cache_hits;
    std::printf("{\"mode\":\"%s\",\"handshakes\":%d,\"client_done\":%d,\"server_done\":%d,\"cpu_us_per_handshake_both\":%.0f,"
                "\"client_cpu_us\":%.0f,\"server_cpu_us\":%.0f,\"client_round_trips\":%.2f,\"client_round_trips_max\":%d,"
                "\"server_round_trips\":%.2f,\"certificate_cache_hits\":%llu}\n",
                cold ? "cold" : "warm", N, cs.done, ss.done, (client_s + server_s) * 1e6 / N, client_s * 1e6 / N,
                server_s * 1e6 / N, double(client_rounds) / N, max_client_rounds, double(server_rounds) / N,
                (unsigned long long)hits);
    if (cs.done != N || ss.done != N) return 1;
  }
  return 0;
}
