// Receive slabs: 1 MiB buffers that sockets are read into and Noise messages are decrypted in place
// in. JS sees a slab once, as an external ArrayBuffer, and makes Uint8Array views on it for each
// data event: no copy after decryption (docs/buffer-ownership.md).
//
// A slab is reference counted. References: the I/O thread's "current slab" (while reads land in
// it), each connection whose unfinished message (tail) lies in it, and JS (from the moment a data
// event names it until its ArrayBuffer is collected). The last release returns it to the pool.
// Releases happen on I/O threads and on the JS thread (finalizer), hence the atomic count and the
// pool's mutex; neither is touched per frame (once per slab and per read).
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "io/limits.h"

namespace l2n::io {

class SlabPool;

struct Slab {
  uint8_t* data = nullptr;
  uint32_t id = 0;              // unique while any reference exists; new id at each reuse
  std::atomic<uint32_t> refs{0};
  bool exposed = false;         // a data event named it (only its I/O thread reads/writes this)
  SlabPool* pool = nullptr;
};

class SlabPool {
 public:
  SlabPool() = default;
  // The pool outlives its host: JS may collect a slab's ArrayBuffer after the host is gone. The
  // host calls shutdown() instead of deleting; the pool deletes itself when its last slab is freed.
  void shutdown();
  SlabPool(const SlabPool&) = delete;
  SlabPool& operator=(const SlabPool&) = delete;

  // A slab with refs == 1, or nullptr when memory is exhausted.
  Slab* acquire();
  static void ref(Slab* s) { s->refs.fetch_add(1, std::memory_order_relaxed); }
  static void unref(Slab* s) {
    if (s->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) s->pool->recycle(s);
  }
  // Slabs alive (in use or pooled) and bytes they hold: read by counters, never on the hot path.
  size_t live() const { return live_.load(std::memory_order_relaxed); }

 private:
  ~SlabPool() = default;
  void recycle(Slab* s);
  std::mutex mu_;
  bool shutdown_ = false;
  std::vector<Slab*> free_;
  std::atomic<uint32_t> next_id_{1};
  std::atomic<size_t> live_{0};
};

}  // namespace l2n::io
