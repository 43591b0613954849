// libFuzzer target for the QUIC endpoint's handling of untrusted datagrams: connection-id routing,
// Initial acceptance (with its size and handshake bounds), Version Negotiation replies, and
// ngtcp2's packet parsing behind them. Each input is split into datagrams by a 2-byte length
// prefix; every datagram goes to one long-lived server endpoint from a source port taken from the
// input, then outputs are drained and virtual time advances. Seeds: native/test/corpus/quic_endpoint/
// (a real client Initial, a short-header packet, a Version Negotiation trigger).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "l2n/quic.h"
#include "l2n/tls.h"

namespace {
struct NullSink : l2n::quic::EventSink {
  void on_event(const l2n::quic::Event&) override {}
};

struct World {
  NullSink sink;
  std::unique_ptr<l2n::quic::Endpoint> ep;
  uint64_t now = 1'000'000'000;
  std::vector<uint8_t> out = std::vector<uint8_t>(l2n::quic::kMaxGsoBytes);
  World() {
    l2n::tls::CertificateRequest req;
    req.generate(1763700000);
    // A bogus host signature is fine: the fuzzer's peers never verify us.
    const uint8_t key[] = {0x08, 0x01, 0x12, 0x20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                           17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
    const uint8_t sig[64] = {};
    std::shared_ptr<const l2n::tls::Certificate> cert;
    req.finish(key, sizeof key, sig, sizeof sig, cert);
    l2n::quic::EndpointConfig cfg;
    cfg.max_handshaking = 8;  // small, so the limit path is exercised too
    ep = std::make_unique<l2n::quic::Endpoint>(cfg, cert, &sink, l2n::quic::Address::v4(10, 0, 0, 2, 4001),
                                               1763700000);
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World w;
  size_t off = 0;
  while (off + 3 <= size) {
    size_t len = size_t(data[off]) << 8 | data[off + 1];
    uint8_t port = data[off + 2];
    off += 3;
    if (len > size - off) len = size - off;
    w.ep->handle_datagram(data + off, len, l2n::quic::Address::v4(10, 0, 0, 1, uint16_t(40000 + port)), w.now);
    off += len;
    for (int i = 0; i < 64; i++)
      if (w.ep->write_datagrams(w.out.data(), w.out.size(), w.now).bytes == 0) break;
    w.now += 50'000'000;  // 50 ms per datagram: handshakes time out and free their slots
    if (w.ep->next_deadline() <= w.now) w.ep->handle_timeout(w.now);
  }
  if (w.ep->handshaking_count() > 8) __builtin_trap();
  return 0;
}
