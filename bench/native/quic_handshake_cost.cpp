// CPU cost of one QUIC + libp2p TLS handshake with mutual authentication, both sides in one
// process with no sockets (so no scheduling noise): the floor under the "connection setup p50 at
// most 1 ms" target on loopback, where the two sides' work is mostly sequential.
// Build and run: bash bench/native/build-quic-pump.sh && build-bench/quic_handshake_cost
#include <time.h>
#include <cstdio>
#include <deque>
#include "l2n/quic.h"
#include "../../native/test/tls_helpers.h"
using namespace l2n::quic;
static double cpu() { timespec t; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
struct S : EventSink { int done = 0; void on_event(const Event& e) override { if (e.type == EventType::kHandshakeCompleted) done++; } };
int main() {
  auto ck = l2n_test::HostKey::make(1), sk = l2n_test::HostKey::make(1);
  auto ccert = l2n_test::make_cert(ck), scert = l2n_test::make_cert(sk);
  S cs, ss;
  EndpointConfig ccfg; ccfg.accept_inbound = false;
  EndpointConfig scfg; scfg.max_handshaking = 100000; scfg.retry_above_handshaking = 100000; scfg.max_connections = 100000;
  Address ca = Address::v4(10,0,0,1,1), sa = Address::v4(10,0,0,2,2);
  Endpoint c(ccfg, ccert, &cs, ca, l2n_test::kNow), s(scfg, scert, &ss, sa, l2n_test::kNow);
  std::vector<uint8_t> buf(65535);
  const int N = 300;
  uint64_t now = 1'000'000'000;
  double t0 = cpu();
  for (int i = 0; i < N; i++) {
    Error e; c.connect(sa, sk.peer_id(), now, &e);
    for (int round = 0; round < 6; round++) {
      for (;;) { Transmit t = c.write_datagrams(buf.data(), buf.size(), now); if (!t.bytes) break; for (size_t o = 0; o < t.bytes; o += t.segment_size) s.handle_datagram(buf.data() + o, std::min(t.segment_size, t.bytes - o), ca, now); }
      for (;;) { Transmit t = s.write_datagrams(buf.data(), buf.size(), now); if (!t.bytes) break; for (size_t o = 0; o < t.bytes; o += t.segment_size) c.handle_datagram(buf.data() + o, std::min(t.segment_size, t.bytes - o), sa, now); }
    }
  }
  double t1 = cpu();
  std::printf("%d handshakes (client %d, server %d done): %.0f us CPU per handshake, both sides\n", N, cs.done, ss.done, (t1 - t0) * 1e6 / N);
}
