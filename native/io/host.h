// The I/O context of one addon instance: its threads, the slab pool, the counter tables and the
// node's Noise identity. Created and driven by the binding (native/binding/host.cpp) from the JS
// thread; everything else in native/io runs on the I/O threads (or, in inline mode, on the JS
// thread too: HostConfig::threads == 0).
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "io/boundary.h"
#include "io/limits.h"
#include "io/log.h"
#include "io/slab.h"
#include "l2n/quic.h"

namespace l2n::io {

class IoThread;

// Counter tables. Shared with JS (external ArrayBuffers whose finalizers hold a reference), so they
// outlive the Host if JS still has views on them after close().
struct CounterBlock {
  double* conn = nullptr;
  size_t conn_len = 0;
  double* proto = nullptr;
  size_t proto_len = 0;
  CounterBlock(size_t conn_n, size_t proto_n);
  ~CounterBlock();
  CounterBlock(const CounterBlock&) = delete;
  CounterBlock& operator=(const CounterBlock&) = delete;
};

struct HostConfig {
  // I/O threads; 0 = inline mode: one IoThread whose loop runs on the JS thread (IoThread::
  // start_inline; the binding drives it from Node's libuv loop). Ids, slots and counters are laid
  // out as for one thread.
  uint32_t threads = 1;
  uint8_t static_secret[32] = {0};  // X25519: the node's Noise static key
  uint8_t static_public[32] = {0};
  std::vector<uint8_t> payload;     // our NoiseHandshakePayload protobuf, built by TS
  uint32_t max_stream_window = 16 * 1024 * 1024;  // yamux Config default (see l2n/yamux.h)
  uint64_t stream_negotiation_timeout_ns = kStreamNegotiationTimeoutNs;
  quic::EndpointConfig quic;        // QUIC endpoints' settings (defaults and reasons: l2n/quic.h)
  // TCP security protocols: a dialer proposes them in this order, a listener accepts any of them
  // ("/noise", "/tls/1.0.0"; TS validates and picks the default). "/tls/1.0.0" uses the certificate
  // of set_quic_certificate (one libp2p TLS certificate per host).
  std::vector<std::string> security = {"/noise"};
};

class Host {
 public:
  // `notify` is called from an I/O thread when its outbox goes from empty to non-empty; the
  // binding turns it into one uv_async_send (coalesced by libuv).
  Host(HostConfig cfg, std::function<void()> notify);
  ~Host();
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  bool start();
  // Stops and joins the threads, closing every socket. Idempotent.
  void stop();

  // Routes commands to their threads and wakes each thread once. Returns an err code (0 = ok).
  // Inline: runs the commands at once (IoThread::run_once without polling sockets), flushing every
  // connection they touched; the records they made wait in the outbox for the binding.
  uint32_t submit(std::vector<Command>& cmds);

  // ---- inline mode (config threads == 0); JS thread only ----------------------------------------
  bool is_inline() const { return inline_; }
  int inline_fd() const;                 // the loop's epoll fd, for a uv_poll_t
  void inline_run(bool poll_sockets);    // one non-blocking iteration (IoThread::run_once)
  uint64_t inline_next_deadline() const; // CLOCK_MONOTONIC ns (io::now_ns), UINT64_MAX: none
  bool inline_has_records() const;       // records published and not yet drained
  void inline_kick();                    // makes the epoll fd readable: libuv calls back soon

  // Moves every thread's outbox into `into` (records, blob, slabs; blob offsets adjusted).
  void drain(Batch& into);

  const HostConfig& config() const { return cfg_; }
  // Our payload lists /yamux/1.0.0 in stream_muxers (early muxer negotiation needs both sides to).
  bool advertises_yamux() const { return advertises_yamux_; }
  SlabPool& slabs() { return *slabs_; }
  double* connection_counters() { return counters_->conn; }
  size_t connection_counters_length() const { return counters_->conn_len; }
  double* protocol_counters() { return counters_->proto; }
  size_t protocol_counters_length() const { return counters_->proto_len; }
  const std::shared_ptr<CounterBlock>& counter_block() const { return counters_; }

  // Protocol registry for per-protocol counters: name -> index (< kMaxProtocols), assigned on first
  // use, shared by all threads. Rare (once per stream negotiation), so a mutex is fine.
  uint32_t protocol_index(const std::string& name);

  // Round-robin thread for a new connection (dial or accept).
  uint32_t next_thread() { return rr_.fetch_add(1, std::memory_order_relaxed) % cfg_.threads; }
  IoThread& thread(uint32_t i) { return *threads_[i]; }
  uint32_t thread_count() const { return cfg_.threads; }
  void notify() { notify_(); }

  // Native log levels per component (io/log.h), written by the JS thread when the LIBP2P_LOG filter
  // changes, read by the I/O threads before each log line (relaxed: a line or two logged under the
  // old level while the change propagates is fine).
  void set_log_level(LogComponent c, LogLevel l) {
    auto i = static_cast<uint32_t>(c);
    if (i < kLogComponents) log_levels_[i].store(static_cast<uint32_t>(l), std::memory_order_relaxed);
  }
  bool log_enabled(LogComponent c, LogLevel l) const {
    return static_cast<uint32_t>(l) <= log_levels_[static_cast<uint32_t>(c)].load(std::memory_order_relaxed);
  }

  // Our libp2p TLS certificate for QUIC (built by the binding once TS has signed it); endpoints
  // take it when they are created. Null until set: QUIC commands then fail with kQuicNoCertificate.
  void set_quic_certificate(std::shared_ptr<const tls::Certificate> cert);
  std::shared_ptr<const tls::Certificate> quic_certificate();

 private:
  HostConfig cfg_;
  std::function<void()> notify_;
  std::vector<std::unique_ptr<IoThread>> threads_;
  SlabPool* slabs_;  // self-deleting after shutdown (JS may hold slabs longer than the host)
  std::shared_ptr<CounterBlock> counters_;
  std::atomic<uint32_t> rr_{0};
  std::atomic<uint32_t> log_levels_[kLogComponents] = {};  // all off until JS says otherwise
  std::mutex proto_mu_;
  std::unordered_map<std::string, uint32_t> proto_index_;
  // Dial ids (chosen by JS) -> thread. Only the JS thread touches it (submit).
  std::unordered_map<uint32_t, uint32_t> dial_thread_;
  bool advertises_yamux_ = false;
  std::mutex quic_mu_;
  std::shared_ptr<const tls::Certificate> quic_cert_;
  bool started_ = false;
  bool stopped_ = false;
  bool inline_ = false;
};

}  // namespace l2n::io
