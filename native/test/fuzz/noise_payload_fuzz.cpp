// libFuzzer target for the NoiseHandshakePayload decoder (parse_handshake_payload). Invariants:
// every view lies inside the input, and the lists respect their bounds.
#include <cstdint>
#include <cstdlib>

#include "l2n/noise.h"

using namespace l2n::noise;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  HandshakePayload p;
  Error e = parse_handshake_payload(data, size, p);
  if (e != Error::kNone && e != Error::kBadPayload) abort();
  auto inside = [&](const void* ptr, size_t len) {
    if (len == 0) return;
    auto q = static_cast<const uint8_t*>(ptr);
    if (q < data || q + len > data + size) abort();
  };
  inside(p.identity_key.data, p.identity_key.len);
  inside(p.identity_sig.data, p.identity_sig.len);
  if (p.stream_muxers.size() > kMaxStreamMuxers || p.webtransport_certhashes.size() > kMaxCerthashes) abort();
  for (auto m : p.stream_muxers) {
    if (m.size() > kMaxProtocolIdLength) abort();
    inside(m.data(), m.size());
  }
  for (auto h : p.webtransport_certhashes) inside(h.data, h.len);
  return 0;
}
