// Heap cost of a QUIC connection in the handshake, for the bounds in EndpointConfig: 2000 client
// connections write their Initial (client side cost), then a server endpoint receives the 2000
// Initials from distinct source ports and answers them (server side cost: ngtcp2 connection,
// GnuTLS session after ServerHello/Certificate, crypto buffers). glibc's mallinfo2 counts live
// heap bytes. Build and run: bash bench/native/build-quic-pump.sh && build-bench/quic_conn_memory
#include <malloc.h>
#include <cstdio>
#include "l2n/quic.h"
#include "../../native/test/tls_helpers.h"
using namespace l2n::quic;
struct S : EventSink { void on_event(const Event&) override {} };
static size_t heap() { struct mallinfo2 m = mallinfo2(); return m.uordblks; }
int main() {
  S s;
  auto k = l2n_test::HostKey::make(1);
  EndpointConfig cfg; cfg.max_handshaking = 100000; cfg.retry_above_handshaking = 100000; cfg.max_connections = 100000;
  Endpoint server(cfg, l2n_test::make_cert(k), &s, Address::v4(10,0,0,2,4001), l2n_test::kNow);
  EndpointConfig ccfg; ccfg.accept_inbound = false;
  std::vector<std::vector<uint8_t>> initials;
  std::vector<uint8_t> buf(65535);
  {
    Endpoint client(ccfg, l2n_test::make_cert(k), &s, Address::v4(10,0,0,1,1), l2n_test::kNow);
    size_t c0 = heap();
    for (int i = 0; i < 2000; i++) { Error e; client.connect(Address::v4(10,0,0,2,4001), {}, 1'000'000'000, &e);
      Transmit t = client.write_datagrams(buf.data(), buf.size(), 1'000'000'000); initials.emplace_back(buf.begin(), buf.begin() + t.segment_size); }
    std::printf("client conns after Initial: %.1f KiB each (incl. 1.2 KiB saved datagram)\n", (heap() - c0) / 1024.0 / 2000);
  }
  size_t before = heap();
  for (size_t i = 0; i < initials.size(); i++) server.handle_datagram(initials[i].data(), initials[i].size(), Address::v4(10,0,1,(i>>8)&255,uint16_t(i)), 1'000'000'000);
  for (;;) { Transmit t = server.write_datagrams(buf.data(), buf.size(), 1'000'000'000); if (!t.bytes) break; }
  size_t after = heap();
  std::printf("connections %zu, heap +%zu bytes, %.1f KiB per handshaking connection\n", server.connection_count(), after - before, (after - before) / 1024.0 / server.connection_count());
}
