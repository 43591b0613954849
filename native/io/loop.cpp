#include "io/loop.h"

#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

namespace l2n::io {

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

Loop::Loop() {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  wakefd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epfd_ >= 0 && wakefd_ >= 0) {
    epoll_event ev{};
    ev.events = EPOLLIN;  // level-triggered: drained in wait()
    ev.data.u64 = kWakeTag;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev);
  }
}

Loop::~Loop() {
  if (wakefd_ >= 0) close(wakefd_);
  if (epfd_ >= 0) close(epfd_);
}

bool Loop::add(int fd, uint64_t tag, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  return epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

void Loop::remove(int fd) { epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr); }

void Loop::wake() {
  uint64_t one = 1;
  ssize_t r = write(wakefd_, &one, sizeof(one));
  (void)r;  // EAGAIN means the counter is already non-zero: the loop will wake anyway
}

void Loop::arm_timer(uint64_t deadline_ns, uint64_t key, uint32_t generation) {
  timers_.push(Timer{deadline_ns, key, generation});
}

int Loop::wait(epoll_event* out, int max, uint64_t now, bool poll_only) {
  int timeout_ms = poll_only ? 0 : -1;
  if (!timers_.empty()) {
    uint64_t d = timers_.top().deadline;
    // Round up so we never wake before the deadline and spin.
    if (!poll_only) timeout_ms = d <= now ? 0 : static_cast<int>((d - now + 999999) / 1000000);
  }
  int n = epoll_wait(epfd_, out, max, timeout_ms);
  if (n < 0) return errno == EINTR ? 0 : -1;
  for (int i = 0; i < n; i++) {
    if (out[i].data.u64 == kWakeTag) {
      uint64_t v;
      ssize_t r = read(wakefd_, &v, sizeof(v));
      (void)r;
    }
  }
  return n;
}

}  // namespace l2n::io
