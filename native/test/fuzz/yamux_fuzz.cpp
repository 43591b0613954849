// libFuzzer target: arbitrary bytes into a Yamux client and server Session, in split sizes drawn
// from the input's first bytes, with an application that accepts, consumes, writes, closes and
// resets as the data dictates. Checks the engine's invariants: data events stay inside the chunk
// being fed, limits hold, windows never exceed their maximum, every control frame the session
// emits is a well-formed header, and a failed session stays failed.
#include "l2n/yamux.h"

#include <cstdlib>

using namespace l2n::yamux;

namespace {
#define FUZZ_ASSERT(c) do { if (!(c)) std::abort(); } while (0)

void check_control(Session& s) {
  std::vector<uint8_t> out;
  s.poll_control(out);
  FUZZ_ASSERT(out.size() % kHeaderLength == 0);
  for (size_t i = 0; i < out.size(); i += kHeaderLength) {
    Header h = decode_header(&out[i]);
    FUZZ_ASSERT(check_header(h) == Error::kNone);
    FUZZ_ASSERT(h.type != static_cast<uint8_t>(FrameType::kData));  // control is never data
  }
}

void run(const uint8_t* data, size_t size, uint32_t seed, bool is_client) {
  Config cfg;
  cfg.max_streams = 8;
  cfg.max_pending_inbound = 4;
  cfg.max_stream_window = 1024 * 1024;
  cfg.max_session_window_growth = 2 * 1024 * 1024;
  cfg.rtt_probe_interval_ns = 1000;
  Session s(cfg, is_client);
  uint64_t now = 0;
  const uint8_t* lo = nullptr;
  const uint8_t* hi = nullptr;
  auto rnd = [&seed]() { seed = seed * 1103515245u + 12345u; return seed >> 16; };
  auto sink = [&](const Event& e) {
    switch (e.type) {
      case EventType::kStreamOpened:
        if (rnd() % 4 != 0) s.accept_stream(e.stream_id);
        break;
      case EventType::kData:
        FUZZ_ASSERT(e.len > 0 && e.data >= lo && e.data + e.len <= hi);
        if (rnd() % 8 == 0) s.reset_stream(e.stream_id);
        else s.consume(e.stream_id, e.len, now);
        break;
      default:
        break;
    }
  };
  size_t pos = 0;
  bool failed = false;
  while (pos < size) {
    const size_t n = std::min<size_t>(size - pos, 1 + rnd() % 48);
    lo = data + pos;
    hi = data + pos + n;
    now += rnd() % 2000;
    const bool ok = s.handle_input(data + pos, n, now, sink);
    if (failed) FUZZ_ASSERT(!ok);
    if (!ok) { FUZZ_ASSERT(s.error() != Error::kNone); failed = true; }
    pos += n;
    FUZZ_ASSERT(s.num_streams() <= cfg.max_streams);
    FUZZ_ASSERT(s.num_pending_inbound() <= cfg.max_pending_inbound);
    // Commands between inputs.
    switch (rnd() % 8) {
      case 0: {
        Error why;
        const uint32_t id = s.open_stream(&why);
        FUZZ_ASSERT((id == 0) == (why != Error::kNone));
        if (id != 0) FUZZ_ASSERT((id & 1u) == (is_client ? 1u : 0u));
        break;
      }
      case 1: {
        const uint32_t id = rnd() % 16;
        const uint32_t w = s.send_window(id);
        uint8_t h[kHeaderLength];
        const bool wrote = s.write_data_header(id, w / 2, rnd() % 2, h);
        if (wrote) FUZZ_ASSERT(decode_header(h).length == w / 2 && check_header(decode_header(h)) == Error::kNone);
        break;
      }
      case 2: s.close_stream(rnd() % 16); break;
      case 3: s.ping(now); break;
      case 4: if (s.next_deadline() <= now) s.handle_timeout(now); break;
      default: break;
    }
    for (uint32_t id = 1; id < 16; id++) FUZZ_ASSERT(s.receive_window(id) <= cfg.max_stream_window);
    check_control(s);
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint32_t seed = data[0] | data[1] << 8;
  run(data + 2, size - 2, seed, false);
  run(data + 2, size - 2, seed ^ 0x5a5a, true);
  return 0;
}
