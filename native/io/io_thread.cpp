#include "io/io_thread.h"

#include <fcntl.h>
#include <pthread.h>
#include <cerrno>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>

#include "core/setup_trace.h"
#include "io/connection.h"
#include "io/host.h"
#include "io/quic_io.h"
#include "l2n/errors.h"

namespace l2n::io {

namespace {
constexpr uint64_t kListenerTag = 1ull << 32;
constexpr uint32_t kConnEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
// accept() backlog: the kernel's default somaxconn on Debian 12.
constexpr int kListenBacklog = 4096;
}  // namespace

IoThread::IoThread(Host& host, uint32_t index) : host_(host), index_(index) {
  const char* spin = getenv("LIBP2P_NATIVE_SPIN_US");
  spin_ns_ = spin != nullptr ? static_cast<uint64_t>(atoll(spin)) * 1000 : kDefaultSpinNs;
  spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

IoThread::~IoThread() {
  stop();
  quic_.reset();
  if (spare_fd_ >= 0) ::close(spare_fd_);
}

bool IoThread::start() {
  if (!loop_.ok()) return false;
  thread_ = std::thread([this] {
    char name[16];
    std::snprintf(name, sizeof(name), "l2n-io-%u", index_);  // visible in perf/top/gdb
    pthread_setname_np(pthread_self(), name);
    run();
  });
  return true;
}

bool IoThread::start_inline() {
  if (!loop_.ok()) return false;
  inline_ = true;
  events_.resize(kEpollBatch);
  return true;
}

void IoThread::run_once(bool poll_sockets) {
  if (inline_stopped_) return;
  now_ = now_ns();
  int n = poll_sockets ? loop_.wait(events_.data(), kEpollBatch, now_, true) : 0;
  if (n < 0) n = 0;
  iterate(events_.data(), n);
  // Edge-triggered sockets cut short by the read budget report nothing new: keep the epoll fd
  // readable (a write to our own eventfd, no thread wake-up) so libuv comes back at once.
  if (busy()) loop_.wake();
}

void IoThread::stop() {
  if (inline_) {
    if (inline_stopped_) return;
    inline_stopped_ = true;
    shutdown_all();
    return;
  }
  if (!thread_.joinable()) return;
  stop_.store(true, std::memory_order_release);
  loop_.wake();
  thread_.join();
}

bool IoThread::post(std::vector<Command>&& cmds) {
  bool wake;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    if (inbox_.size() + cmds.size() > kMaxPendingCommands) return false;
    wake = inbox_.empty();
    inbox_pending_.store(true, std::memory_order_release);
    if (wake) {
      inbox_.swap(cmds);
    } else {
      for (auto& c : cmds) inbox_.push_back(std::move(c));
    }
  }
  cmds.clear();
  if (wake && !inline_) loop_.wake();  // inline: the submitter runs run_once() itself
  return true;
}

bool IoThread::post(Command&& cmd) {
  std::vector<Command> v;
  v.push_back(std::move(cmd));
  return post(std::move(v));
}

void IoThread::drain_into(Batch& into) {
  bool was_full;
  {
    std::lock_guard<std::mutex> lock(outbox_mu_);
    if (outbox_.records.empty()) return;
    was_full = outbox_.records.size() >= kMaxOutboxRecords || outbox_.slabs.size() >= kMaxOutboxSlabs;
    uint32_t base = static_cast<uint32_t>(into.blob.size());
    for (Record& r : outbox_.records) {
      if (r.blob_len > 0) r.blob_off += base;
      into.records.push_back(r);
    }
    into.blob.insert(into.blob.end(), outbox_.blob.begin(), outbox_.blob.end());
    into.slabs.insert(into.slabs.end(), outbox_.slabs.begin(), outbox_.slabs.end());
    outbox_.clear();
    outbox_size_.store(0, std::memory_order_relaxed);
    outbox_slabs_.store(0, std::memory_order_relaxed);
  }
  if (was_full) loop_.wake();  // deferred reads resume
}

bool IoThread::log_enabled(LogComponent c, LogLevel l) const { return host_.log_enabled(c, l); }

void IoThread::log(LogComponent c, LogLevel l, uint32_t conn, uint32_t code, const char* fmt, ...) {
  char line[kMaxLogLine];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  if (n < 0) return;
  uint32_t len = std::min<uint32_t>(static_cast<uint32_t>(n), kMaxLogLine - 1);  // truncated
  if (log_bytes_ + len > kMaxLogBytesPerBatch) {
    log_dropped_++;
    return;
  }
  log_bytes_ += len;
  Record& r = batch_.add(Ev::kLog, conn, 0, static_cast<uint32_t>(c), static_cast<uint32_t>(l), code);
  batch_.attach(r, line, len);
}

void IoThread::publish() {
  if (log_dropped_ > 0) {
    batch_.add(Ev::kLogDropped, 0, 0, log_dropped_);
    log_dropped_ = 0;
  }
  log_bytes_ = 0;
  if (batch_.empty()) return;
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(outbox_mu_);
    was_empty = outbox_.records.empty();
    if (was_empty) {
      std::swap(outbox_, batch_);
    } else {
      uint32_t base = static_cast<uint32_t>(outbox_.blob.size());
      for (Record& r : batch_.records) {
        if (r.blob_len > 0) r.blob_off += base;
        outbox_.records.push_back(r);
      }
      outbox_.blob.insert(outbox_.blob.end(), batch_.blob.begin(), batch_.blob.end());
      outbox_.slabs.insert(outbox_.slabs.end(), batch_.slabs.begin(), batch_.slabs.end());
    }
    outbox_size_.store(outbox_.records.size(), std::memory_order_relaxed);
    outbox_slabs_.store(outbox_.slabs.size(), std::memory_order_relaxed);
  }
  batch_.clear();
  notified_js_ = true;
  trace::point("publish", was_empty ? 1 : 0);
  if (was_empty) host_.notify();  // empty -> non-empty: one wake-up of the JS thread
}

void IoThread::mark_dirty(Connection* c) {
  if (c->dirty || c->closed()) return;
  c->dirty = true;
  dirty_.push_back(c);
}

void IoThread::defer_read(Connection* c) {
  if (c->read_deferred) return;
  c->read_deferred = true;
  deferred_reads_.push_back(c);
}

void IoThread::arm_timer(Connection* c, uint64_t deadline) {
  // An earlier entry already in the heap fires first and re-arms: skip (keeps the heap small).
  if (deadline >= c->armed_deadline) return;
  c->armed_deadline = deadline;
  loop_.arm_timer(deadline, c->id(), ++c->timer_gen);
}

Slab* IoThread::read_slab(size_t need, size_t& offset) {
  if (slab_ == nullptr || kSlabSize - slab_cursor_ < kMinReadSpace + need) {
    retire_slab();
    slab_ = host_.slabs().acquire();
    slab_cursor_ = 0;
    if (slab_ == nullptr) return nullptr;
  }
  offset = slab_cursor_;
  return slab_;
}

void IoThread::retire_slab() {
  if (slab_ == nullptr) return;
  if (slab_->exposed) batch_.add(Ev::kSlabRetired, 0, 0, slab_->id);
  SlabPool::unref(slab_);
  slab_ = nullptr;
}

void IoThread::expose(Slab* s) {
  s->exposed = true;
  SlabPool::ref(s);  // JS's reference, dropped by the ArrayBuffer's finalizer
  batch_.slabs.push_back(s);
  batch_.add(Ev::kSlab, 0, 0, s->id);
}

double* IoThread::conn_counters(uint32_t slot) {
  return host_.connection_counters() + static_cast<size_t>(slot) * kCountersPerConnection;
}

double* IoThread::proto_counters(uint32_t proto) {
  if (proto >= kMaxProtocols) return nullptr;
  return host_.protocol_counters() + (static_cast<size_t>(index_) * kMaxProtocols + proto) * kCountersPerProtocol;
}

Connection* IoThread::find(uint32_t id) {
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : it->second;
}

void IoThread::connection_done(Connection* c) {
  conns_.erase(c->id());
  if (c->opened()) {
    closed_slots_[c->id()] = c->slot();  // JS reads the final counters, then sends kReleaseConn
  } else {
    free_slots_.push_back(c->slot());
  }
  graveyard_.push_back(c);
}

QuicIo& IoThread::quic() {
  if (!quic_) quic_ = std::make_unique<QuicIo>(*this);
  return *quic_;
}

uint32_t IoThread::new_inbound_id() {
  return kNativeIdBit | ((next_conn_seq_++ & ((1u << (31 - kThreadBits)) - 1)) << kThreadBits) | index_;
}

bool IoThread::acquire_slot(uint32_t& slot) {
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
    return true;
  }
  if (next_slot_ >= kMaxConnectionsPerThread) return false;
  slot = index_ * kMaxConnectionsPerThread + next_slot_++;
  return true;
}

void IoThread::adopt(int fd, uint32_t listen_id, bool outbound, uint32_t conn_id, const SockAddr* dial_addr,
                     std::string expected_peer) {
  if (conns_.size() >= kMaxConnectionsPerThread) {
    ::close(fd);
    L2N_LOG(*this, LogComponent::kTcp, LogLevel::kWarn, conn_id, err::kTooManyConnections,
            "connection refused: this thread already serves %u connections", kMaxConnectionsPerThread);
    batch_.add(Ev::kConnFailed, conn_id, 0, err::kTooManyConnections, 0, listen_id);
    return;
  }
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    if (next_slot_ >= kMaxConnectionsPerThread) {
      ::close(fd);
      batch_.add(Ev::kConnFailed, conn_id, 0, err::kTooManyConnections, 0, listen_id);
      return;
    }
    slot = index_ * kMaxConnectionsPerThread + next_slot_++;
  }
  if (!outbound) {
    conn_id = kNativeIdBit | ((next_conn_seq_++ & ((1u << (31 - kThreadBits)) - 1)) << kThreadBits) | index_;
  }
  auto* c = new Connection(*this, conn_id, fd, outbound, listen_id, slot, std::move(expected_peer));
  conns_[conn_id] = c;
  if (!loop_.add(fd, conn_id, kConnEvents)) {
    c->close_now(err::kSocketError);
    return;
  }
  if (!outbound) c->start();
}

void IoThread::handle_listener(ListenerState& l) {
  for (;;) {
    SockAddr peer;
    int fd = tcp_accept(l.fd, peer);
    if (fd < 0) {
      if ((errno == EMFILE || errno == ENFILE) && spare_fd_ >= 0) {
        // Out of descriptors: the level-triggered listener would wake us forever. Use the spare
        // descriptor to accept and drop the connection, so the backlog drains (shed load).
        // (Linux reports EMFILE before looking at the queue: stop once nothing is pending.)
        L2N_LOG(*this, LogComponent::kTcp, LogLevel::kWarn, 0, err::kSocketError,
                "listener %u: out of file descriptors (errno %d), dropping an inbound connection", l.id, errno);
        ::close(spare_fd_);
        int shed = ::accept(l.fd, nullptr, nullptr);
        if (shed >= 0) ::close(shed);
        spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (shed < 0) return;
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        L2N_LOG(*this, LogComponent::kTcp, LogLevel::kWarn, 0, err::kSocketError, "listener %u: accept failed (errno %d)",
                l.id, errno);
      return;
    }
    uint32_t t = host_.next_thread();
    if (t == index_) {
      adopt(fd, l.id, false, 0, nullptr, {});
    } else {
      Command cmd(Op::kAdopt);
      cmd.a = static_cast<uint32_t>(fd);
      cmd.b = l.id;
      if (!host_.thread(t).post(std::move(cmd))) {
        ::close(fd);
        L2N_LOG(*this, LogComponent::kIo, LogLevel::kWarn, 0, err::kTooManyPendingCommands,
                "listener %u: thread %u's command queue is full, dropping an inbound connection", l.id, t);
      }
    }
  }
}

void IoThread::handle_command(Command& cmd) {
  switch (cmd.op) {
    case Op::kListen: {
      SockAddr addr;
      if (!make_addr(cmd.text, static_cast<uint16_t>(cmd.b), addr)) {
        batch_.add(Ev::kListenFailed, cmd.conn, 0, err::kBadAddress);
        return;
      }
      if (listeners_.size() >= kMaxListeners) {
        batch_.add(Ev::kListenFailed, cmd.conn, 0, err::kTooManyConnections);
        return;
      }
      int fd = tcp_listen(addr, kListenBacklog);
      if (fd < 0) {
        L2N_LOG(*this, LogComponent::kTcp, LogLevel::kWarn, 0, static_cast<uint32_t>(-fd), "listener %u: listen on %s:%u failed",
                cmd.conn, cmd.text.c_str(), cmd.b);
        batch_.add(Ev::kListenFailed, cmd.conn, 0, static_cast<uint32_t>(-fd));
        return;
      }
      auto l = std::make_unique<ListenerState>(ListenerState{cmd.conn, fd});
      loop_.add(fd, kListenerTag | cmd.conn, EPOLLIN);
      SockAddr bound;
      local_addr(fd, bound);
      int fam;
      std::string host;
      uint16_t port;
      describe_addr(bound, fam, host, port);
      Record& r = batch_.add(Ev::kListening, cmd.conn, 0, port, static_cast<uint32_t>(fam));
      batch_.attach(r, host.data(), host.size());
      listeners_[cmd.conn] = std::move(l);
      return;
    }
    case Op::kCloseListener: {
      auto it = listeners_.find(cmd.conn);
      if (it == listeners_.end()) {
        if (quic_) quic_->close_listener(cmd.conn);
        return;
      }
      loop_.remove(it->second->fd);
      ::close(it->second->fd);
      listeners_.erase(it);
      batch_.add(Ev::kListenerClosed, cmd.conn);
      return;
    }
    case Op::kDial: {
      SockAddr addr;
      if (!make_addr(cmd.text, static_cast<uint16_t>(cmd.b), addr)) {
        batch_.add(Ev::kConnFailed, cmd.conn, 0, err::kBadAddress);
        return;
      }
      int fd = tcp_connect(addr);
      if (fd < 0) {
        batch_.add(Ev::kConnFailed, cmd.conn, 0, static_cast<uint32_t>(-fd));
        return;
      }
      adopt(fd, 0, true, cmd.conn, &addr, std::move(cmd.text2));
      return;
    }
    case Op::kQuicListen:
      quic().listen(cmd);
      return;
    case Op::kQuicDial:
      quic().dial(cmd);
      return;
    case Op::kAdopt:
      adopt(static_cast<int>(cmd.a), cmd.b, false, 0, nullptr, {});
      return;
    case Op::kSetProtocols: {
      protocols_.clear();
      for (auto& p : split_protocol_list(cmd.text)) protocols_.insert(p);
      return;
    }
    case Op::kReleaseConn: {
      auto it = closed_slots_.find(cmd.conn);
      if (it != closed_slots_.end()) {
        free_slots_.push_back(it->second);
        closed_slots_.erase(it);
      }
      return;
    }
    default: {
      Connection* c = find(cmd.conn);
      if (c != nullptr) {
        c->on_command(cmd);
      } else if (quic_ && quic_->on_command(cmd)) {
        // a QUIC connection's command
      } else if (cmd.op == Op::kSend) {
        batch_.add(Ev::kWritten, cmd.conn, cmd.stream, cmd.len);  // lets JS release the buffer
      }
      return;
    }
  }
}

bool IoThread::busy() const {
  return !dirty_.empty() || ((!deferred_reads_.empty() || (quic_ && quic_->busy())) && !outbox_full());
}

void IoThread::run() {
  std::vector<epoll_event> events(kEpollBatch);
  while (!stop_.load(std::memory_order_acquire)) {
    now_ = now_ns();
    bool busy = this->busy();
    int n = 0;
    if (!busy && spin_ns_ > 0 && notified_js_) {
      // We just woke JS: its reply (a command) or the peer's next bytes usually follow within a
      // few tens of microseconds. Poll briefly instead of paying a sleep/wake-up on each side.
      uint64_t until = now_ + spin_ns_;
      do {
        n = loop_.wait(events.data(), kEpollBatch, now_, true);
        if (n != 0 || inbox_pending_.load(std::memory_order_acquire)) break;
        __builtin_ia32_pause();
      } while (now_ns() < until);
    }
    notified_js_ = false;
    if (n == 0 && !inbox_pending_.load(std::memory_order_acquire)) n = loop_.wait(events.data(), kEpollBatch, now_, busy);
    now_ = now_ns();
    iterate(events.data(), n);
  }
  shutdown_all();
}

void IoThread::iterate(epoll_event* events, int n) {
  // 1. commands from JS (local work first)
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    work_.swap(inbox_);
    inbox_pending_.store(false, std::memory_order_relaxed);
  }
  if (!work_.empty()) trace::point("cmds", work_.size());
  for (Command& cmd : work_) handle_command(cmd);
  work_.clear();
  // 2. timers
  loop_.run_timers(now_, [this](uint64_t key, uint32_t gen) {
    if (key & QuicIo::kTag) {
      if (quic_) quic_->on_timer(key, gen);
      return;
    }
    Connection* c = find(static_cast<uint32_t>(key));
    if (c == nullptr || gen != c->timer_gen) return;
    c->armed_deadline = UINT64_MAX;
    c->on_timer(now_);
  });
  // 3. reads deferred by the outbox limit or the read budget
  if (!deferred_reads_.empty() && !outbox_full()) {
    resuming_.swap(deferred_reads_);
    for (Connection* c : resuming_) {
      if (!c->closed()) c->resume_reading();
    }
    resuming_.clear();
  }
  if (quic_) quic_->resume_reads();
  // 4. socket events
  for (int i = 0; i < n; i++) {
    uint64_t tag = events[i].data.u64;
    if (tag == Loop::kWakeTag) continue;
    if (tag & QuicIo::kTag) {
      if (quic_) quic_->on_socket(tag, events[i].events);
      continue;
    }
    if (tag & kListenerTag) {
      auto it = listeners_.find(static_cast<uint32_t>(tag));
      if (it != listeners_.end()) handle_listener(*it->second);
      continue;
    }
    Connection* c = find(static_cast<uint32_t>(tag));
    if (c != nullptr) c->on_socket(events[i].events);
  }
  // 5. hand what arrived to JS first (its wake-up overlaps our writes), then one flush per
  //    touched connection (cork), then publish what the flushes produced (kWritten, ...)
  publish();
  if (!dirty_.empty()) {
    flushing_.swap(dirty_);  // both vectors keep their capacity: no allocation per iteration
    for (Connection* c : flushing_) {
      if (!c->closed()) c->flush();
      else c->dirty = false;
    }
    flushing_.clear();
  }
  if (quic_) quic_->flush();
  // 6. publish records, then free connections closed in this iteration
  publish();
  if (!graveyard_.empty()) {
    auto dead = [](Connection* c) { return c->closed(); };
    dirty_.erase(std::remove_if(dirty_.begin(), dirty_.end(), dead), dirty_.end());
    deferred_reads_.erase(std::remove_if(deferred_reads_.begin(), deferred_reads_.end(), dead), deferred_reads_.end());
    for (Connection* c : graveyard_) delete c;
    graveyard_.clear();
  }
}

void IoThread::shutdown_all() {
  if (quic_) quic_->shutdown();
  std::vector<Connection*> all;
  for (auto& [id, c] : conns_) all.push_back(c);
  for (Connection* c : all) c->close_now(err::kShutdown);
  for (auto& [id, l] : listeners_) {
    loop_.remove(l->fd);
    ::close(l->fd);
  }
  listeners_.clear();
  retire_slab();
  publish();
  for (Connection* c : graveyard_) delete c;
  graveyard_.clear();
  dirty_.clear();
  deferred_reads_.clear();
  // Commands never run: accepted fds handed to us must still be closed.
  std::lock_guard<std::mutex> lock(inbox_mu_);
  for (Command& cmd : inbox_)
    if (cmd.op == Op::kAdopt) ::close(static_cast<int>(cmd.a));
  inbox_.clear();
}

}  // namespace l2n::io
