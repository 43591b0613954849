#include "io/host.h"

#include "io/io_thread.h"
#include "l2n/alloc.h"
#include "l2n/errors.h"
#include "l2n/noise.h"

namespace l2n::io {

CounterBlock::CounterBlock(size_t conn_n, size_t proto_n) : conn_len(conn_n), proto_len(proto_n) {
  conn = static_cast<double*>(mem::alloc(conn_len * sizeof(double)));
  proto = static_cast<double*>(mem::alloc(proto_len * sizeof(double)));
  if (conn != nullptr) __builtin_memset(conn, 0, conn_len * sizeof(double));
  if (proto != nullptr) __builtin_memset(proto, 0, proto_len * sizeof(double));
}

CounterBlock::~CounterBlock() {
  mem::free(conn, conn_len * sizeof(double));
  mem::free(proto, proto_len * sizeof(double));
}

Host::Host(HostConfig cfg, std::function<void()> notify)
    : cfg_(std::move(cfg)), notify_(std::move(notify)), slabs_(new SlabPool()) {
  inline_ = cfg_.threads == 0;
  if (cfg_.threads == 0) cfg_.threads = 1;
  if (cfg_.threads > kMaxThreads) cfg_.threads = kMaxThreads;
  counters_ = std::make_shared<CounterBlock>(static_cast<size_t>(cfg_.threads) * kMaxConnectionsPerThread * kCountersPerConnection,
                                             static_cast<size_t>(cfg_.threads) * kMaxProtocols * kCountersPerProtocol);
  noise::HandshakePayload parsed;
  if (noise::parse_handshake_payload(cfg_.payload.data(), cfg_.payload.size(), parsed) == noise::Error::kNone) {
    for (auto m : parsed.stream_muxers)
      if (m == "/yamux/1.0.0") advertises_yamux_ = true;
  }
}

Host::~Host() {
  stop();
  slabs_->shutdown();
}

bool Host::start() {
  if (started_) return true;
  if (counters_->conn == nullptr || counters_->proto == nullptr) return false;
  for (uint32_t i = 0; i < cfg_.threads; i++) threads_.push_back(std::make_unique<IoThread>(*this, i));
  for (auto& t : threads_)
    if (!(inline_ ? t->start_inline() : t->start())) return false;
  started_ = true;
  return true;
}

void Host::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& t : threads_) t->stop();
}

uint32_t Host::protocol_index(const std::string& name) {
  std::lock_guard<std::mutex> lock(proto_mu_);
  auto it = proto_index_.find(name);
  if (it != proto_index_.end()) return it->second;
  if (proto_index_.size() >= kMaxProtocols) return 0xffffffffu;  // counted nowhere: a closed label set
  uint32_t idx = static_cast<uint32_t>(proto_index_.size());
  proto_index_.emplace(name, idx);
  return idx;
}

uint32_t Host::submit(std::vector<Command>& cmds) {
  if (stopped_ || !started_) return err::kShutdown;
  std::vector<std::vector<Command>> per(cfg_.threads);
  for (Command& c : cmds) {
    uint32_t t = 0;
    switch (c.op) {
      case Op::kSetProtocols:
        for (uint32_t i = 0; i < cfg_.threads; i++) {
          if (i + 1 < cfg_.threads) {
            per[i].push_back(c);
          } else {
            per[i].push_back(std::move(c));
          }
        }
        continue;
      case Op::kListen:
      case Op::kQuicListen:
      case Op::kCloseListener:
        t = c.conn % cfg_.threads;
        break;
      case Op::kDial:
      case Op::kQuicDial:
        t = next_thread();
        dial_thread_[c.conn] = t;
        break;
      default:
        if (c.conn & kNativeIdBit) {
          t = c.conn & ((1u << kThreadBits) - 1);
        } else {
          auto it = dial_thread_.find(c.conn);
          if (it == dial_thread_.end()) t = 0;  // unknown id: thread 0 ignores it (or releases a buffer)
          else t = it->second;
          if (c.op == Op::kReleaseConn && it != dial_thread_.end()) dial_thread_.erase(it);
        }
        if (t >= cfg_.threads) t = 0;
        break;
    }
    per[t].push_back(std::move(c));
  }
  cmds.clear();
  uint32_t rc = err::kNone;
  for (uint32_t i = 0; i < cfg_.threads; i++) {
    if (!per[i].empty() && !threads_[i]->post(std::move(per[i]))) rc = err::kTooManyPendingCommands;
  }
  if (inline_) threads_[0]->run_once(false);
  return rc;
}

int Host::inline_fd() const { return threads_.empty() ? -1 : threads_[0]->loop().fd(); }

void Host::inline_run(bool poll_sockets) {
  if (inline_ && started_ && !stopped_) threads_[0]->run_once(poll_sockets);
}

uint64_t Host::inline_next_deadline() const {
  return inline_ && !threads_.empty() && !stopped_ ? threads_[0]->next_deadline() : UINT64_MAX;
}

bool Host::inline_has_records() const { return inline_ && !threads_.empty() && threads_[0]->has_records(); }

void Host::inline_kick() {
  if (inline_ && !threads_.empty() && !stopped_) threads_[0]->loop().wake();
}

void Host::set_quic_certificate(std::shared_ptr<const tls::Certificate> cert) {
  std::lock_guard<std::mutex> lock(quic_mu_);
  quic_cert_ = std::move(cert);
}

std::shared_ptr<const tls::Certificate> Host::quic_certificate() {
  std::lock_guard<std::mutex> lock(quic_mu_);
  return quic_cert_;
}

void Host::drain(Batch& into) {
  for (auto& t : threads_) t->drain_into(into);
}

}  // namespace l2n::io
