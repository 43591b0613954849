// libFuzzer target: arbitrary bytes into a multistream-select Listener, Dialer and optimistic
// Dialer, in split sizes drawn from the first input byte. Checks the engines' invariants:
// feed never consumes more than it is given, stops at the end of negotiation, and a failed or
// finished engine consumes nothing more.
#include "l2n/multistream.h"

#include <cstdlib>

using namespace l2n::mss;

namespace {
#define FUZZ_ASSERT(c) do { if (!(c)) std::abort(); } while (0)

template <class E>
void run(E& e, const uint8_t* data, size_t size, uint32_t seed) {
  std::vector<uint8_t> out;
  size_t pos = 0;
  while (pos < size) {
    seed = seed * 1103515245u + 12345u;
    size_t n = std::min<size_t>(size - pos, 1 + (seed >> 16) % 64);
    const Status before = e.status();
    size_t used = e.feed(data + pos, n, out);
    FUZZ_ASSERT(used <= n);
    if (before == Status::kFailed) FUZZ_ASSERT(used == 0);
    pos += used;
    if (e.status() == Status::kFailed) { FUZZ_ASSERT(e.error() != Error::kNone); break; }
    if (used < n) break;  // negotiation finished inside this chunk: the rest is not ours
  }
  FUZZ_ASSERT(e.status() == Status::kFailed || e.error() == Error::kNone);
  FUZZ_ASSERT(out.size() <= 2 * size + 2 * kMaxMessageLength + 16);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint32_t seed = data[0];
  data++, size--;
  {
    Listener l([](std::string_view p) { return p == "/noise" || p == "/yamux/1.0.0"; });
    run(l, data, size, seed);
    if (l.status() == Status::kDone) FUZZ_ASSERT(l.selected() == "/noise" || l.selected() == "/yamux/1.0.0");
  }
  {
    Dialer d({"/tls/1.0.0", "/noise"}, false);
    std::vector<uint8_t> out;
    d.start(out);
    run(d, data, size, seed);
    if (d.status() == Status::kDone) FUZZ_ASSERT(d.confirmed() && (d.selected() == "/noise" || d.selected() == "/tls/1.0.0"));
  }
  {
    Dialer d({"/yamux/1.0.0"}, true);
    std::vector<uint8_t> out;
    d.start(out);
    FUZZ_ASSERT(d.status() == Status::kDone);
    run(d, data, size, seed);
    if (d.confirmed()) FUZZ_ASSERT(d.selected() == "/yamux/1.0.0");
  }
  return 0;
}
