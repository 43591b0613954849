// One I/O thread: an epoll loop that owns its listeners, its connections and their engines, so no
// engine needs a lock. Loop iteration order (local work before new remote work, as the Swarm's poll
// order): commands from JS, then timers, then socket events, then flush every connection touched in
// this iteration (one write per connection per iteration: cork), then publish the batch of records.
// Inline mode (ioThreads 0) runs the very same iteration on the JS thread: see start_inline().
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "io/boundary.h"
#include "io/limits.h"
#include "io/log.h"
#include "io/loop.h"
#include "io/slab.h"
#include "io/socket.h"

namespace l2n::io {

class Host;
class Connection;
class QuicIo;

struct ListenerState {
  uint32_t id;
  int fd;
};

class IoThread {
 public:
  IoThread(Host& host, uint32_t index);
  ~IoThread();
  bool start();
  void stop();  // from the JS thread: ask to exit and join (inline: close everything now)

  // ---- inline mode (ioThreads 0): the same loop, driven from the JS thread ----------------------
  // No std::thread: the binding polls loop().fd() in Node's libuv loop and calls run_once() when
  // it is readable, when its timer reaches next_deadline(), and after each submit(). Nothing here
  // blocks. Records are published as usual; the binding drains and delivers them synchronously.
  bool start_inline();
  bool is_inline() const { return inline_; }
  // One loop iteration without waiting: queued commands, due timers, deferred reads, the ready
  // sockets (when `poll_sockets`; a submit skips that syscall), one flush per dirty connection,
  // publish. When work is left over (read budget spent), the wake-up eventfd is written so the
  // epoll fd stays readable and libuv calls us again on its next iteration.
  void run_once(bool poll_sockets);
  uint64_t next_deadline() const { return loop_.next_deadline(); }
  bool has_records() const { return outbox_size_.load(std::memory_order_relaxed) != 0; }

  // From the JS thread (or another I/O thread for kAdopt): queue commands and wake once.
  bool post(std::vector<Command>&& cmds);
  bool post(Command&& cmd);
  // From the JS thread: move the outbox out (records, blob offsets rebased onto `into`).
  void drain_into(Batch& into);

  // ---- used by Connection (on this thread) --------------------------------------------------
  Host& host() { return host_; }
  uint32_t index() const { return index_; }
  Loop& loop() { return loop_; }
  Batch& batch() { return batch_; }
  uint64_t now() const { return now_; }
  void mark_dirty(Connection* c);
  // The slab reads go into; replaced when it has less than kMinReadSpace + `need` left.
  Slab* read_slab(size_t need, size_t& offset);
  void advance_read_slab(size_t new_cursor) { slab_cursor_ = new_cursor; }
  // Marks `s` exposed to JS (first data event naming it): adds a kSlab record and a JS reference.
  void expose(Slab* s);
  bool protocol_supported(std::string_view p) const {
    return protocols_.count(std::string(p)) != 0;
  }
  double* conn_counters(uint32_t slot);
  double* proto_counters(uint32_t proto_index);
  void arm_timer(Connection* c, uint64_t deadline);
  // Outbox above kMaxOutboxRecords records or kMaxOutboxSlabs slabs: stop reading sockets until JS drains.
  bool outbox_full() const {
    return outbox_size_.load(std::memory_order_relaxed) >= kMaxOutboxRecords ||
           outbox_slabs_.load(std::memory_order_relaxed) >= kMaxOutboxSlabs;
  }
  // A connection that stopped reading because of outbox_full; resumed after a drain.
  void defer_read(Connection* c);
  // Called by Connection when it is finished: the fd is closed, records are out.
  void connection_done(Connection* c);

  // ---- native logs (io/log.h): call through L2N_LOG, which checks log_enabled first ----------
  bool log_enabled(LogComponent c, LogLevel l) const;
  void log(LogComponent c, LogLevel l, uint32_t conn, uint32_t code, const char* fmt, ...)
      __attribute__((format(printf, 6, 7)));

  // ---- used by QuicIo (on this thread): ids and counter slots shared with TCP connections ------
  uint32_t new_inbound_id();
  bool acquire_slot(uint32_t& slot);  // false: kMaxConnectionsPerThread slots in use
  void free_slot(uint32_t slot) { free_slots_.push_back(slot); }
  // The connection closed after JS learnt of it: the slot is reused after kReleaseConn.
  void hold_slot(uint32_t conn_id, uint32_t slot) { closed_slots_[conn_id] = slot; }

 private:
  void run();
  // Steps 1-6 of an iteration (see the file comment) after the wait returned `n` events.
  void iterate(epoll_event* events, int n);
  bool busy() const;
  void handle_command(Command& cmd);
  void handle_listener(ListenerState& l);
  void adopt(int fd, uint32_t listen_id, bool outbound, uint32_t conn_id, const SockAddr* dial_addr,
             std::string expected_peer);
  void publish();
  void retire_slab();
  Connection* find(uint32_t conn_id);
  void shutdown_all();

  Host& host_;
  uint32_t index_;
  Loop loop_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  bool inline_ = false;          // driven by the JS thread (start_inline), no std::thread
  bool inline_stopped_ = false;  // shutdown_all() already ran on the JS thread
  std::vector<epoll_event> events_;  // inline mode's epoll_wait buffer (kEpollBatch)

  uint64_t spin_ns_ = 0;
  int spare_fd_ = -1;  // released to accept-and-drop when out of descriptors (EMFILE)
  bool notified_js_ = false;
  std::atomic<bool> inbox_pending_{false};
  std::mutex inbox_mu_;
  std::vector<Command> inbox_;
  std::vector<Command> work_;

  std::mutex outbox_mu_;
  Batch outbox_;
  std::atomic<size_t> outbox_size_{0};
  std::atomic<size_t> outbox_slabs_{0};  // outbox_.slabs.size(): slabs first named by undrained records
  Batch batch_;

  uint64_t now_ = 0;
  std::unordered_map<uint32_t, std::unique_ptr<ListenerState>> listeners_;
  std::unordered_map<uint32_t, Connection*> conns_;
  std::vector<Connection*> dirty_;
  std::vector<Connection*> deferred_reads_;
  std::vector<Connection*> flushing_;  // dirty_ being flushed (swapped, capacity reused)
  std::vector<Connection*> resuming_;  // deferred_reads_ being resumed
  std::vector<Connection*> graveyard_;
  std::unordered_set<std::string> protocols_;
  uint32_t next_conn_seq_ = 1;
  uint32_t next_slot_ = 0;
  std::vector<uint32_t> free_slots_;
  std::unordered_set<uint32_t> held_slots_;  // conn id -> slot kept until kReleaseConn
  std::unordered_map<uint32_t, uint32_t> closed_slots_;

  Slab* slab_ = nullptr;
  size_t slab_cursor_ = 0;
  uint32_t log_bytes_ = 0;     // log text in batch_ since the last publish (kMaxLogBytesPerBatch)
  uint32_t log_dropped_ = 0;   // lines dropped since the last publish
  std::unique_ptr<QuicIo> quic_;  // created by the first QUIC command (native/io/quic_io.h)
  QuicIo& quic();
};

}  // namespace l2n::io
