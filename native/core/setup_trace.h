// Connection-setup trace (diagnostic, off by default): CLOCK_MONOTONIC timestamps at the steps of
// a QUIC connection setup, on the I/O thread and inside the TLS handshake, so one setup can be
// broken down step by step across both processes of a bench (CLOCK_MONOTONIC is system-wide, and
// JS's process.hrtime.bigint() reads the same clock). bench/perf/setup-trace.ts merges the files.
//
// Enabled by L2N_SETUP_TRACE=<path prefix> at process start: each process then fills
// <prefix>.<pid>.native, a file of fixed-size Points (below; unused ones are zero). Off, a point
// costs one load of a bool that never changes (engines otherwise read no clock: this is the one departure,
// and only when the variable is set).
#pragma once
#include <fcntl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace l2n::trace {

// Points kept per process: 300 setups x ~50 points fit with room to spare (2 MiB of file).
inline constexpr size_t kMaxPoints = 1 << 16;

// One point as stored in the file (32 bytes, little-endian as written by this machine).
struct Point {
  uint64_t ns;
  uint64_t arg;
  char name[16];  // NUL-padded
};

struct SetupTrace {
  bool on = false;
  std::atomic<size_t> next{0};
  Point* points = nullptr;

  // The file is mapped shared, so the points survive however the process ends (the bench kills
  // its peers with SIGKILL once they have reported).
  SetupTrace() {
    const char* prefix = std::getenv("L2N_SETUP_TRACE");
    if (prefix == nullptr || *prefix == 0) return;
    char path[512];
    std::snprintf(path, sizeof(path), "%s.%d.native", prefix, static_cast<int>(::getpid()));
    int fd = ::open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return;
    size_t bytes = kMaxPoints * sizeof(Point);
    if (::ftruncate(fd, static_cast<off_t>(bytes)) == 0) {
      void* m = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (m != MAP_FAILED) {
        points = static_cast<Point*>(m);
        on = true;
      }
    }
    ::close(fd);
  }
  static SetupTrace& instance() {
    static SetupTrace t;
    return t;
  }
};

inline bool enabled() {
  static const bool on = SetupTrace::instance().on;
  return on;
}

// `name`: a literal of at most 15 characters.
inline void point(const char* name, uint64_t arg = 0) {
  if (!enabled()) return;
  SetupTrace& t = SetupTrace::instance();
  size_t i = t.next.fetch_add(1, std::memory_order_relaxed);
  if (i >= kMaxPoints) return;
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  Point& p = t.points[i];
  p.arg = arg;
  std::strncpy(p.name, name, sizeof(p.name) - 1);
  p.ns = static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace l2n::trace
