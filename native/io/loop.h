// One epoll loop per I/O thread: sockets (edge-triggered), an eventfd that other threads write to
// wake it (new commands, shutdown), and timers. Timers are a min-heap of (deadline, key, generation)
// with lazy deletion: re-arming pushes a new entry and bumps the generation, stale entries are
// skipped when they surface. Deadlines come from the engines' next_deadline() and the handshake
// timeout; the loop sleeps exactly until the earliest one. Time is CLOCK_MONOTONIC nanoseconds.
#pragma once
#include <sys/epoll.h>

#include <cstdint>
#include <queue>
#include <vector>

namespace l2n::io {

uint64_t now_ns();

class Loop {
 public:
  Loop();
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;
  bool ok() const { return epfd_ >= 0 && wakefd_ >= 0; }
  // The epoll descriptor itself: readable while any registered socket (or the wake-up eventfd) is
  // ready. Inline mode (IoThread::start_inline) has Node's libuv loop poll it.
  int fd() const { return epfd_; }

  // `tag` comes back in Event::data.u64. Edge-triggered read+write (+ EPOLLRDHUP).
  bool add(int fd, uint64_t tag, uint32_t events);
  void remove(int fd);
  // Thread-safe: wakes wait() from any thread (one eventfd write; coalesced by the kernel).
  void wake();
  // Waits for socket events or the earliest timer; fills `out` and returns the count. A wake-up
  // appears as an event with data.u64 == kWakeTag.
  int wait(epoll_event* out, int max, uint64_t now, bool poll_only);

  void arm_timer(uint64_t deadline_ns, uint64_t key, uint32_t generation);
  // Pops every timer due at `now`; the caller checks the generation against its own.
  template <class F> void run_timers(uint64_t now, F&& fire) {
    while (!timers_.empty() && timers_.top().deadline <= now) {
      Timer t = timers_.top();
      timers_.pop();
      fire(t.key, t.generation);
    }
  }

  // The earliest armed deadline (possibly a stale entry: firing it is harmless), UINT64_MAX if none.
  uint64_t next_deadline() const { return timers_.empty() ? UINT64_MAX : timers_.top().deadline; }

  static constexpr uint64_t kWakeTag = ~0ull;

 private:
  struct Timer {
    uint64_t deadline;
    uint64_t key;
    uint32_t generation;
    bool operator>(const Timer& o) const { return deadline > o.deadline; }
  };
  int epfd_ = -1;
  int wakefd_ = -1;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
};

}  // namespace l2n::io
