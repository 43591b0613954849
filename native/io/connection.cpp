#include "io/connection.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <ctime>

#include "io/host.h"
#include "io/io_thread.h"
#include "io/limits.h"
#include "l2n/alloc.h"
#include "l2n/errors.h"

namespace l2n::io {

namespace {
constexpr std::string_view kNoise = "/noise";
constexpr std::string_view kTls = "/tls/1.0.0";  // libp2p/specs tls/tls.md
constexpr std::string_view kYamux = "/yamux/1.0.0";
constexpr size_t kTag = noise::kTagLength;
constexpr size_t kMaxPlain = noise::kMaxPlaintextLength;

// Counter fields per connection (kCountersPerConnection doubles; mirrored in src/native/protocol.ts).
enum : uint32_t { kBytesIn, kBytesOut, kFramesIn, kFramesOut, kErrors, kStreamsOpened };
// Per protocol.
enum : uint32_t { kProtoBytesIn, kProtoBytesOut, kProtoStreams, kProtoErrors };

inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

void put16(std::vector<uint8_t>& b, size_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void put_str(std::vector<uint8_t>& b, const std::string& s) {
  put16(b, s.size());
  b.insert(b.end(), s.begin(), s.end());
}
}  // namespace

Connection::Connection(IoThread& th, uint32_t id, int fd, bool outbound, uint32_t listen_id, uint32_t slot,
                       std::string expected_peer)
    : th_(th), id_(id), fd_(fd), outbound_(outbound), listen_id_(listen_id), slot_(slot),
      expected_peer_(std::move(expected_peer)), phase_(outbound ? Phase::kConnecting : Phase::kSecurity) {
  counters_ = th_.conn_counters(slot_);
  for (uint32_t i = 0; i < kCountersPerConnection; i++) std::atomic_ref<double>(counters_[i]).store(0, std::memory_order_relaxed);
  handshake_deadline_ = th_.now() + kHandshakeTimeoutNs;
  rearm_timer();
}

Connection::~Connection() {
  if (tail_slab_ != nullptr) SlabPool::unref(tail_slab_);
  mem::free(out_, out_cap_);
}

void Connection::count(uint32_t field, double v) {
  std::atomic_ref<double> c(counters_[field]);
  c.store(c.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
}

void Connection::count_proto(uint32_t proto, uint32_t field, double v) {
  double* p = th_.proto_counters(proto);
  if (p == nullptr) return;
  std::atomic_ref<double> c(p[field]);
  c.store(c.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
}

void Connection::rearm_timer() {
  uint64_t deadline = opened_ ? UINT64_MAX : handshake_deadline_;
  if (closing_) deadline = std::min(deadline, close_deadline_);
  if (!negotiating_.empty()) deadline = std::min(deadline, negotiating_.front().first);
  if (mux_) deadline = std::min(deadline, mux_->next_deadline());
  if (deadline != UINT64_MAX) th_.arm_timer(this, deadline);
}

// ---- lifecycle ---------------------------------------------------------------------------------

void Connection::start() {
  phase_ = Phase::kSecurity;
  // The endpoints are read now, while the socket is surely connected: by the time the connection
  // is announced the remote may have closed it already (getpeername fails with ENOTCONN), and JS
  // needs both addresses (a js-libp2p dialer that closes at once after a PeerId mismatch did that).
  SockAddr ra, la;
  if (!peer_addr(fd_, ra)) return fail(err::kEof);
  describe_addr(ra, family_, remote_host_, remote_port_);
  if (local_addr(fd_, la)) describe_addr(la, family_, local_host_, local_port_);
  const std::vector<std::string>* offer = &th_.host().config().security;
  if (outbound_) {
    // One protocol: optimistic, "/multistream/1.0.0\n/noise\n" and Noise message 1 (or
    // "/tls/1.0.0\n" and the ClientHello) in one write. Several: proposed in turn (one round trip
    // for the echo, as js-libp2p's and go-libp2p's dialers always pay), the handshake after it.
    bool optimistic = offer->size() == 1;
    sec_dialer_ = std::make_unique<mss::Dialer>(*offer, optimistic);
    scratch_.clear();
    sec_dialer_->start(scratch_);
    if (optimistic && !begin_security(offer->front(), scratch_)) return;
    write_raw(scratch_.data(), scratch_.size());
  } else {
    sec_listener_ = std::make_unique<mss::Listener>([offer](std::string_view p) {
      return std::find(offer->begin(), offer->end(), p) != offer->end();
    });
  }
  th_.mark_dirty(this);
}

// The security protocol is agreed (or proposed optimistically): make its engine and append its
// first bytes (Noise message 1, the ClientHello; nothing for a responder/server) to out.
bool Connection::begin_security(std::string_view proto, std::vector<uint8_t>& out) {
  const HostConfig& hc = th_.host().config();
  if (proto == kNoise) {
    security_ = Security::kNoise;
    noise::HandshakeConfig cfg;
    cfg.role = outbound_ ? noise::Role::kInitiator : noise::Role::kResponder;
    std::memcpy(cfg.static_secret, hc.static_secret, 32);
    std::memcpy(cfg.static_public, hc.static_public, 32);
    cfg.payload = hc.payload;
    cfg.expected_remote_peer_id.assign(expected_peer_.begin(), expected_peer_.end());
    hs_ = std::make_unique<noise::Handshake>(cfg);
    hs_->start(out);  // responder: produces nothing, but the call order requires it
    if (hs_->error() != noise::Error::kNone) {
      fail(err::from_engine(err::kNoiseBase, hs_->error()));
      return false;
    }
    return true;
  }
  if (proto == kTls) {
    security_ = Security::kTls;
    tls::SessionConfig cfg;
    cfg.is_server = !outbound_;
    cfg.cert = th_.host().quic_certificate();  // the host's one libp2p TLS certificate (QUIC's too)
    if (!cfg.cert) {
      fail(err::kQuicNoCertificate);
      return false;
    }
    cfg.expected_peer_id.assign(expected_peer_.begin(), expected_peer_.end());
    cfg.unix_now_s = static_cast<int64_t>(::time(nullptr));  // certificate validity (wall clock)
    // Early muxer negotiation (connections spec): ALPN offers /yamux/1.0.0 before "libp2p".
    if (th_.host().advertises_yamux()) cfg.muxers.emplace_back(kYamux);
    tls_ = std::make_unique<tls::Session>(cfg);
    if (!tls_->start()) {
      tls_fail();
      return false;
    }
    tls_->poll_output(out);  // client: the ClientHello, after the multistream bytes already in out
    // From now on records go straight into the output buffer (no copy through the engine's).
    tls_->set_output_sink([](void* ctx, const uint8_t* p, size_t n) {
      auto* c = static_cast<Connection*>(ctx);
      if (c->phase_ != Phase::kClosed) c->write_raw(p, n);
    }, this);
    return true;
  }
  fail(err::from_engine(err::kMultistreamBase, mss::Error::kUnsupportedProtocol));  // not in our set
  return false;
}

void Connection::close_now(uint32_t code) {
  if (phase_ == Phase::kClosed) return;
  phase_ = Phase::kClosed;
  if (code != err::kLocalClose && code != err::kLocalAbort && code != err::kShutdown && code != err::kEof) count(kErrors, 1);
  th_.loop().remove(fd_);
  ::close(fd_);
  fd_ = -1;
  if (tail_slab_ != nullptr) {
    SlabPool::unref(tail_slab_);
    tail_slab_ = nullptr;
  }
  mem::free(out_, out_cap_);
  out_ = nullptr;
  out_cap_ = out_len_ = out_sent_ = 0;
  // Report bytes already encrypted before forgetting the streams (JS releases those buffers either way).
  for (StreamState* st : written_dirty_) report_written(*st);
  written_dirty_.clear();
  log_close(code);
  if (opened_) {
    th_.batch().add(Ev::kConnClosed, id_, 0, code);
  } else {
    Record& r = th_.batch().add(Ev::kConnFailed, id_, 0, code, 0, listen_id_);
    if (!remote_peer_.empty()) th_.batch().attach(r, remote_peer_.data(), remote_peer_.size());
  }
  sendlist_.clear();
  by_handle_.clear();
  by_yid_.clear();
  th_.connection_done(this);
}

void Connection::on_timer(uint64_t now) {
  if (phase_ == Phase::kClosed) return;
  if (!opened_ && now >= handshake_deadline_) return fail(err::kHandshakeTimeout);
  if (closing_ && now >= close_deadline_) return close_now(err::kLocalClose);  // peer never took our output
  // Streams still negotiating their protocol after kStreamNegotiationTimeoutNs are reset.
  while (!negotiating_.empty() && negotiating_.front().first <= now) {
    uint32_t yid = negotiating_.front().second;
    negotiating_.pop_front();
    StreamState* st = by_yid(yid);
    if (st == nullptr || (!st->listener && !(st->dialer && !st->announced))) continue;
    if (st->outbound) th_.batch().add(Ev::kStreamOpenFailed, id_, st->handle, err::kStreamNegotiationTimeout);
    count(kErrors, 1);
    mux_->reset_stream(yid);
    forget(*st, false);
    th_.mark_dirty(this);
  }
  if (mux_) {
    mux_->handle_timeout(now);
    th_.mark_dirty(this);
  }
  rearm_timer();
}

void Connection::on_socket(uint32_t events) {
  if (phase_ == Phase::kConnecting) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    uint32_t code = connect_result(fd_);
    if (code != err::kNone) return fail(code);
    start();
    if (phase_ == Phase::kClosed) return;
  }
  if (events & EPOLLRDHUP) rdhup_ = true;
  if (events & EPOLLOUT) {
    writable_ = true;
    th_.mark_dirty(this);
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    readable_ = true;
    read_input();
  }
}

void Connection::resume_reading() {
  read_deferred = false;
  if (readable_ && phase_ != Phase::kClosed) read_input();
}

// ---- receive path ------------------------------------------------------------------------------

void Connection::read_input() {
  for (int i = 0; i < kMaxReadsPerEvent && phase_ != Phase::kClosed; i++) {
    if (th_.outbox_full()) {
      th_.defer_read(this);
      return;
    }
    // A peer that sends (pings, window-exhausting opens, ...) but does not read our replies would
    // grow our output without bound: stop reading it until the socket takes our output.
    if (out_len_ - out_sent_ >= kMaxOutputBuffer) {
      input_blocked_ = true;
      return;
    }
    size_t off = 0;
    Slab* s = th_.read_slab(tail_len_, off);
    if (s == nullptr) return fail(err::kOutOfMemory);
    size_t start;
    if (tail_len_ > 0 && tail_slab_ == s && tail_off_ + tail_len_ == off) {
      start = tail_off_;  // the unfinished message is right before the read position: read after it
    } else if (tail_len_ > 0) {
      std::memcpy(s->data + off, tail_slab_->data + tail_off_, tail_len_);  // one carry-over copy
      start = off;
      off += tail_len_;
    } else {
      start = off;
    }
    if (tail_slab_ != nullptr) {
      SlabPool::unref(tail_slab_);
      tail_slab_ = nullptr;
    }
    size_t pending = off - start;
    tail_len_ = 0;
    size_t space = kSlabSize - off;
    ssize_t n = ::read(fd_, s->data + off, space);
    if (n <= 0) {
      bool again = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
      if (n < 0 && errno == EINTR) again = true;
      // Keep the unfinished bytes (they may have moved to s).
      if (pending > 0) {
        SlabPool::ref(s);
        tail_slab_ = s;
        tail_off_ = static_cast<uint32_t>(start);
        tail_len_ = static_cast<uint32_t>(pending);
        th_.advance_read_slab(off);
      }
      if (again) {
        readable_ = false;
        return;
      }
      if (n == 0) return fail(opened_ ? err::kEof : err::kEof);
      return fail(errno == ECONNRESET || errno == EPIPE ? err::kConnectionReset : err::kSocketError);
    }
    count(kBytesIn, static_cast<double>(n));
    size_t end = off + static_cast<size_t>(n);
    th_.advance_read_slab(end);
    cur_slab_ = s;
    size_t consumed = process(s->data + start, end - start);
    cur_slab_ = nullptr;
    if (phase_ == Phase::kClosed) return;
    size_t remaining = end - start - consumed;
    if (remaining > 0) {
      SlabPool::ref(s);
      tail_slab_ = s;
      tail_off_ = static_cast<uint32_t>(start + consumed);
      tail_len_ = static_cast<uint32_t>(remaining);
    }
    th_.mark_dirty(this);
    // A short read drained the socket; a new edge comes with new data. After RDHUP, read on to
    // see the EOF (no further edge would announce it).
    if (static_cast<size_t>(n) < space && !rdhup_) {
      readable_ = false;
      return;
    }
  }
  if (readable_ && phase_ != Phase::kClosed) th_.defer_read(this);  // budget used: continue next iteration
}

size_t Connection::process(uint8_t* data, size_t len) {
  size_t p = 0;
  while (p < len && phase_ != Phase::kClosed) {
    if (phase_ == Phase::kSecurity) {
      scratch_.clear();
      if (outbound_) {
        p += sec_dialer_->feed(data + p, len - p, scratch_);
        if (!scratch_.empty()) write_raw(scratch_.data(), scratch_.size());
        if (sec_dialer_->status() == mss::Status::kFailed)
          return fail(err::from_engine(err::kMultistreamBase, sec_dialer_->error())), p;
        if (!sec_dialer_->confirmed()) break;
        std::string chosen = sec_dialer_->selected();
        sec_dialer_.reset();
        phase_ = Phase::kHandshake;
        if (security_ == Security::kNone) {  // proposals in turn: the handshake starts now
          scratch_.clear();
          if (!begin_security(chosen, scratch_)) return p;
          if (!scratch_.empty()) write_raw(scratch_.data(), scratch_.size());
        }
      } else {
        p += sec_listener_->feed(data + p, len - p, scratch_);
        if (!scratch_.empty()) write_raw(scratch_.data(), scratch_.size());
        if (sec_listener_->status() == mss::Status::kFailed) {
          write_socket();  // best effort: our `na` tells the dialer why before the close
          if (phase_ == Phase::kClosed) return p;
          return fail(err::from_engine(err::kMultistreamBase, sec_listener_->error())), p;
        }
        if (sec_listener_->status() != mss::Status::kDone) break;
        std::string chosen = sec_listener_->selected();
        sec_listener_.reset();
        phase_ = Phase::kHandshake;
        scratch_.clear();
        if (!begin_security(chosen, scratch_)) return p;
        if (!scratch_.empty()) write_raw(scratch_.data(), scratch_.size());
      }
      continue;
    }
    if (security_ == Security::kTls) {
      p += process_tls(data + p, len - p);
      continue;
    }
    // Noise framing: u16be length || message. Whole messages only.
    if (len - p < 2) break;
    size_t mlen = be16(data + p);
    if (len - p < 2 + mlen) break;
    if (phase_ == Phase::kHandshake) {
      scratch_.clear();
      hs_->feed(data + p, 2 + mlen, scratch_);
      p += 2 + mlen;
      if (!scratch_.empty()) write_raw(scratch_.data(), scratch_.size());
      if (hs_->error() != noise::Error::kNone) {
        const auto& rid = hs_->remote().peer_id;
        remote_peer_.assign(rid.begin(), rid.end());
        return fail(err::from_engine(err::kNoiseBase, hs_->error())), p;
      }
      if (hs_->done()) on_handshake_done();
      continue;
    }
    // Transport phase: decrypt in place; plaintext is contiguous at data + p + 2.
    if (mlen < kTag) return fail(err::from_engine(err::kNoiseBase, noise::Error::kMessageTooShort)), p;
    uint8_t* msg = data + p + 2;
    noise::Error de = rx_->decrypt(msg, mlen, msg);
    if (de != noise::Error::kNone) return fail(err::from_engine(err::kNoiseBase, de)), p;
    p += 2 + mlen;
    on_plaintext(msg, mlen - kTag);
  }
  return p;
}

void Connection::on_handshake_done() {
  tx_.emplace(hs_->take_send());
  rx_.emplace(hs_->take_recv());
  const noise::RemoteIdentity& rid = hs_->remote();
  remote_peer_.assign(rid.peer_id.begin(), rid.peer_id.end());
  early_muxer_ = false;
  if (th_.host().advertises_yamux()) {
    for (const auto& m : rid.stream_muxers)
      if (m == kYamux) early_muxer_ = true;
  }
  hs_.reset();
  start_muxer();
}

// The secure channel is up (remote_peer_ and early_muxer_ set): Yamux at once, or after its
// multistream-select round inside the channel.
void Connection::start_muxer() {
  phase_ = Phase::kOpen;
  if (early_muxer_) {
    open_connection();
  } else if (outbound_) {
    // Optimistic: propose /yamux/1.0.0 and start Yamux at once; the echo is consumed on arrival.
    mux_dialer_ = std::make_unique<mss::Dialer>(std::vector<std::string>{std::string(kYamux)}, true);
    scratch_.clear();
    mux_dialer_->start(scratch_);
    append_plain(scratch_.data(), scratch_.size());
    open_connection();
  } else {
    mux_listener_ = std::make_unique<mss::Listener>([](std::string_view p) { return p == kYamux; });
  }
  th_.mark_dirty(this);
}

// ---- /tls/1.0.0 ----------------------------------------------------------------------------------

// Ciphertext [data, data + len) sits in cur_slab_. The engine borrows it (no copy), decrypts into
// the thread's read slab after it, and copies only an unfinished record when released. The
// ciphertext's slab is held meanwhile: the read slab may be replaced and must not reuse it.
// Consumes everything.
size_t Connection::process_tls(const uint8_t* data, size_t len) {
  Slab* in_slab = cur_slab_;
  SlabPool::ref(in_slab);
  bool was_done = tls_->done();
  // Handshake messages it produces (our Finished before any application record) and alerts go
  // straight to the output buffer (the output sink set in begin_security).
  bool ok = tls_->feed_borrowed(data, len);
  if (ok && !was_done && tls_->done()) on_tls_done();
  if (ok && phase_ != Phase::kClosed && tls_->done()) drain_tls();
  bool kept = tls_->release_input();
  if (phase_ != Phase::kClosed && (!ok || !kept)) tls_fail();
  cur_slab_ = in_slab;
  SlabPool::unref(in_slab);
  return len;
}

// Decrypts every complete record into the read slab and hands the plaintext on. False once closed.
bool Connection::drain_tls() {
  for (;;) {
    size_t off = 0;
    Slab* s = th_.read_slab(0, off);  // at least kMinReadSpace (> one record) from off
    if (s == nullptr) {
      fail(err::kOutOfMemory);
      return false;
    }
    size_t n = tls_->read(s->data + off, kSlabSize - off);
    if (n == 0) break;
    th_.advance_read_slab(off + n);
    cur_slab_ = s;
    on_plaintext(s->data + off, n);
    if (phase_ == Phase::kClosed) return false;
  }
  if (tls_->error() != tls::SessionError::kNone) {
    tls_fail();
    return false;
  }
  tls_flush_output();
  return true;
}

void Connection::on_tls_done() {
  const std::vector<uint8_t>& id = tls_->remote().peer_id;
  remote_peer_.assign(id.begin(), id.end());
  early_muxer_ = tls_->selected_muxer() == kYamux;  // only offered when advertises_yamux()
  start_muxer();
}

// Closes with the session's typed error; its alert (if any) goes out first, best effort.
void Connection::tls_fail() {
  tls::SessionError e = tls_->error();
  tls_flush_output();
  write_socket();
  if (phase_ == Phase::kClosed) return;
  if (e == tls::SessionError::kClosed) return fail(err::kEof);  // close_notify: the remote ended it
  if (e == tls::SessionError::kCertificate) {
    tls::Error ce = tls_->certificate_error();
    if (ce == tls::Error::kPeerIdMismatch) {
      const std::vector<uint8_t>& id = tls_->remote().peer_id;
      remote_peer_.assign(id.begin(), id.end());
    }
    return fail(err::from_engine(err::kTlsBase, ce));
  }
  fail(err::from_engine(err::kTlsSessionBase, e));
}

void Connection::tls_flush_output() {
  tls_out_.clear();
  tls_->poll_output(tls_out_);  // swaps buffers when tls_out_ is empty: no copy
  if (!tls_out_.empty()) write_raw(tls_out_.data(), tls_out_.size());
}

void Connection::tls_encrypt(const uint8_t* p, size_t n) {
  if (!tls_->write(p, n)) return tls_fail();
  tls_flush_output();
}

// Small plaintext (headers, control frames, small sends) gathers into one record, as Noise's open
// message does; a full record's worth goes out at once.
void Connection::tls_stage(const uint8_t* p, size_t n) {
  while (n > 0 && phase_ != Phase::kClosed) {
    size_t take = std::min(n, tls::kMaxRecordPlaintext - tls_plain_.size());
    tls_plain_.insert(tls_plain_.end(), p, p + take);
    p += take;
    n -= take;
    if (tls_plain_.size() == tls::kMaxRecordPlaintext) seal_tls();
  }
}

void Connection::seal_tls() {
  if (tls_plain_.empty()) return;
  tls_encrypt(tls_plain_.data(), tls_plain_.size());
  tls_plain_.clear();
}

void Connection::open_connection() {
  yamux::Config cfg;
  cfg.max_stream_window = th_.host().config().max_stream_window;
  cfg.max_streams = kMaxStreamsPerConnection;
  mux_ = std::make_unique<yamux::Session>(cfg, outbound_);
  opened_ = true;
  std::vector<uint8_t>& b = th_.batch().blob;
  Record& r = th_.batch().add(Ev::kConnOpen, id_, 0, slot_, outbound_ ? 1 : 0, listen_id_);
  r.blob_off = static_cast<uint32_t>(b.size());
  put_str(b, remote_peer_);
  put_str(b, remote_host_);
  put_str(b, local_host_);
  put16(b, remote_port_);
  put16(b, local_port_);
  b.push_back(static_cast<uint8_t>(family_));
  b.push_back(early_muxer_ ? 1 : 0);
  b.push_back(security_ == Security::kTls ? 1 : 0);  // the security protocol (0 /noise, 1 /tls/1.0.0)
  r.blob_len = static_cast<uint32_t>(b.size() - r.blob_off);
  L2N_LOG(th_, LogComponent::kTcp, LogLevel::kDebug, id_, 0, "connection upgraded (%s %s:%u, %s + yamux%s)",
          outbound_ ? "outbound to" : "inbound from", remote_host_.c_str(), remote_port_, security_ == Security::kTls ? "tls" : "noise",
          early_muxer_ ? ", early muxer negotiation" : "");
  rearm_timer();
}

// One line per connection end. A code from an engine is a protocol violation (by the remote, or a
// failed handshake): logged at warn under the engine's component; other ends at debug.
void Connection::log_close(uint32_t code) {
  LogComponent comp = LogComponent::kTcp;
  LogLevel level = LogLevel::kDebug;
  const char* what = "connection error";
  if (code >= err::kNoiseBase && code < err::kNoiseBase + 100) {
    comp = LogComponent::kNoise;
    level = LogLevel::kWarn;
    what = opened_ ? "noise transport error" : "noise handshake failed";
  } else if (code >= err::kYamuxBase && code < err::kYamuxBase + 100) {
    comp = LogComponent::kYamux;
    level = LogLevel::kWarn;
    what = "yamux protocol violation";
  } else if (code >= err::kMultistreamBase && code < err::kMultistreamBase + 100) {
    comp = LogComponent::kTcp;  // multistream-select is the TCP upgrade's negotiation (security, muxer)
    level = LogLevel::kWarn;
    what = "multistream-select negotiation failed";
  } else if ((code >= err::kTlsBase && code < err::kTlsBase + 100) ||
             (code >= err::kTlsSessionBase && code < err::kTlsSessionBase + 100)) {
    comp = LogComponent::kTcp;  // /tls/1.0.0 over TCP (no TLS component of its own)
    level = LogLevel::kWarn;
    what = opened_ ? "tls error" : "tls handshake failed";
  } else if (code == err::kLocalClose || code == err::kLocalAbort || code == err::kShutdown) {
    what = "closed locally";
  } else if (code == err::kEof) {
    what = "closed by the remote";
  } else if (code == err::kHandshakeTimeout) {
    what = "handshake timed out";
  }
  L2N_LOG(th_, comp, level, id_, code, "%s %s: %s (code %u)", opened_ ? "connection closed" : "connection failed",
          opened_ ? "after upgrade" : "before upgrade", what, code);
}

void Connection::on_plaintext(uint8_t* p, size_t n) {
  if (mux_listener_) {
    scratch_.clear();
    size_t c = mux_listener_->feed(p, n, scratch_);
    if (!scratch_.empty()) append_plain(scratch_.data(), scratch_.size());
    if (mux_listener_->status() == mss::Status::kFailed)
      return fail(err::from_engine(err::kMultistreamBase, mux_listener_->error()));
    if (mux_listener_->status() != mss::Status::kDone) return;
    mux_listener_.reset();
    open_connection();
    p += c;
    n -= c;
  } else if (mux_dialer_) {
    scratch_.clear();
    size_t c = mux_dialer_->feed(p, n, scratch_);
    if (mux_dialer_->status() == mss::Status::kFailed)
      return fail(err::from_engine(err::kMultistreamBase, mux_dialer_->error()));
    p += c;
    n -= c;
    if (!mux_dialer_->confirmed()) return;
    mux_dialer_.reset();
  }
  if (n == 0 || !mux_) return;
  mux_events_.clear();
  bool ok = mux_->handle_input(p, n, th_.now(), [this](const yamux::Event& e) { mux_events_.push_back(e); });
  handle_mux_events();
  if (phase_ == Phase::kClosed) return;
  if (!ok) {
    // The engine queued a go-away: try to put it on the wire before closing.
    scratch_.clear();
    mux_->poll_control(scratch_);
    if (!scratch_.empty()) append_plain(scratch_.data(), scratch_.size());
    if (phase_ != Phase::kClosed) {
      seal_open();
      write_socket();
    }
    return fail(err::from_engine(err::kYamuxBase, mux_->error()));
  }
}

void Connection::handle_mux_events() {
  for (const yamux::Event& e : mux_events_) {
    if (phase_ == Phase::kClosed) return;
    switch (e.type) {
      case yamux::EventType::kStreamOpened: {
        auto st = std::make_unique<StreamState>();
        st->yid = e.stream_id;
        st->handle = kNativeIdBit | e.stream_id;
        IoThread* th = &th_;
        st->listener = std::make_unique<mss::Listener>([th](std::string_view p) { return th->protocol_supported(p); });
        by_yid_[e.stream_id] = std::move(st);
        negotiating_.emplace_back(th_.now() + th_.host().config().stream_negotiation_timeout_ns, e.stream_id);
        count(kStreamsOpened, 1);
        break;
      }
      case yamux::EventType::kData: {
        count(kFramesIn, 1);
        StreamState* st = by_yid(e.stream_id);
        if (st == nullptr) {
          mux_->consume(e.stream_id, e.len, th_.now());
          break;
        }
        on_stream_data(*st, e.data, e.len);
        break;
      }
      case yamux::EventType::kRemoteFin: {
        StreamState* st = by_yid(e.stream_id);
        if (st == nullptr) break;
        st->remote_fin = true;
        if (st->announced) {
          th_.batch().add(Ev::kRemoteFin, id_, st->handle);
          if (st->fin_requested && !st->fin_sent) schedule(*st);  // a FIN held for the confirmation
          maybe_forget(*st);
        } else if (st->outbound) {
          th_.batch().add(Ev::kStreamOpenFailed, id_, st->handle, err::kStreamRemoteReset);
          mux_->reset_stream(st->yid);
          forget(*st, false);
        } else {
          forget(*st, false);  // closed before negotiation finished: JS never saw it
        }
        break;
      }
      case yamux::EventType::kRemoteReset: {
        StreamState* st = by_yid(e.stream_id);
        if (st == nullptr) break;
        if (st->announced) {
          report_written(*st);
          th_.batch().add(Ev::kRemoteReset, id_, st->handle, err::kStreamRemoteReset);
        } else if (st->outbound) {
          th_.batch().add(Ev::kStreamOpenFailed, id_, st->handle, err::kStreamRemoteReset);
        }
        forget(*st, false);
        break;
      }
      case yamux::EventType::kSendWindow: {
        StreamState* st = by_yid(e.stream_id);
        if (st != nullptr && !st->sendq.empty()) schedule(*st);
        break;
      }
      case yamux::EventType::kPong:
      case yamux::EventType::kGoAway:
        break;
    }
  }
  mux_events_.clear();
  th_.mark_dirty(this);
}

void Connection::on_stream_data(StreamState& st, const uint8_t* p, uint32_t n) {
  if (st.announced && !st.dialer) return deliver(st, p, n);
  // Stream-level multistream negotiation; its bytes are ours: grant their window at once.
  std::vector<uint8_t> out;
  size_t c = 0;
  if (st.listener) {
    c = st.listener->feed(p, n, out);
    if (!out.empty()) queue_stream_bytes(st, std::move(out), false);
    mux_->consume(st.yid, static_cast<uint32_t>(c), th_.now());
    if (st.listener->status() == mss::Status::kFailed) {
      count(kErrors, 1);
      mux_->reset_stream(st.yid);
      forget(st, false);
      return;
    }
    if (st.listener->status() != mss::Status::kDone) return;
    const std::string& proto = st.listener->selected();
    st.proto = th_.host().protocol_index(proto);
    Record& r = th_.batch().add(Ev::kStreamInbound, id_, st.handle, st.proto);
    th_.batch().attach(r, proto.data(), proto.size());
    st.announced = true;
    count_proto(st.proto, kProtoStreams, 1);
    st.listener.reset();
  } else if (st.dialer) {
    c = st.dialer->feed(p, n, out);
    if (!out.empty()) queue_stream_bytes(st, std::move(out), false);
    mux_->consume(st.yid, static_cast<uint32_t>(c), th_.now());
    if (st.dialer->status() == mss::Status::kFailed) {
      uint32_t code = err::from_engine(err::kMultistreamBase, st.dialer->error());
      if (st.announced) {
        report_written(st);
        th_.batch().add(Ev::kRemoteReset, id_, st.handle, code);
      } else {
        th_.batch().add(Ev::kStreamOpenFailed, id_, st.handle, code);
      }
      if (st.proto != 0xffffffffu) count_proto(st.proto, kProtoErrors, 1);
      mux_->reset_stream(st.yid);
      forget(st, false);
      return;
    }
    if (st.dialer->status() != mss::Status::kDone) return;
    if (!st.announced) {
      const std::string& proto = st.dialer->selected();
      st.proto = th_.host().protocol_index(proto);
      Record& r = th_.batch().add(Ev::kStreamOpened, id_, st.handle, st.proto);
      th_.batch().attach(r, proto.data(), proto.size());
      st.announced = true;
      count_proto(st.proto, kProtoStreams, 1);
    }
    if (!st.dialer->confirmed()) return;
    st.dialer.reset();
    // Data (non-optimistic) or the FIN (optimistic) held back until the negotiation finished.
    if (!st.sendq.empty() || (st.fin_requested && !st.fin_sent)) schedule(st);
  }
  if (c < n) deliver(st, p + c, n - static_cast<uint32_t>(c));
}

void Connection::deliver(StreamState& st, const uint8_t* p, uint32_t n) {
  Slab* s = cur_slab_;
  if (!s->exposed) th_.expose(s);
  th_.batch().add(Ev::kData, id_, st.handle, s->id, static_cast<uint32_t>(p - s->data), n);
  count_proto(st.proto, kProtoBytesIn, n);
  if (st.paused) {
    st.unconsumed += n;
  } else {
    mux_->consume(st.yid, n, th_.now());
  }
}

// ---- streams -----------------------------------------------------------------------------------

StreamState* Connection::by_yid(uint32_t yid) {
  auto it = by_yid_.find(yid);
  return it == by_yid_.end() ? nullptr : it->second.get();
}

StreamState* Connection::by_handle(uint32_t handle) {
  if (handle & kNativeIdBit) return by_yid(handle & ~kNativeIdBit);
  auto it = by_handle_.find(handle);
  return it == by_handle_.end() ? nullptr : it->second;
}

void Connection::forget(StreamState& st, bool released_record) {
  if (released_record) th_.batch().add(Ev::kStreamReleased, id_, st.handle);
  for (auto it = sendlist_.begin(); it != sendlist_.end(); ++it) {
    if (*it == &st) {
      sendlist_.erase(it);
      break;
    }
  }
  // A stream may be listed more than once (one entry per pump round that wrote for it).
  written_dirty_.erase(std::remove(written_dirty_.begin(), written_dirty_.end(), &st), written_dirty_.end());
  if (st.outbound) by_handle_.erase(st.handle);
  by_yid_.erase(st.yid);  // frees st
}

void Connection::maybe_forget(StreamState& st) {
  if (st.fin_sent && st.remote_fin && st.sendq.empty()) {
    report_written(st);
    forget(st, true);
  }
}

void Connection::schedule(StreamState& st) {
  if (st.in_sendlist) return;
  st.in_sendlist = true;
  sendlist_.push_back(&st);
  th_.mark_dirty(this);
}

void Connection::queue_stream_bytes(StreamState& st, std::vector<uint8_t>&& bytes, bool front) {
  StreamState::Pending item{nullptr, static_cast<uint32_t>(bytes.size()), 0, false, std::move(bytes)};
  item.p = item.owned.data();  // a moved vector keeps its heap buffer, so p stays valid in the queue
  if (front) {
    st.sendq.push_front(std::move(item));
  } else {
    st.sendq.push_back(std::move(item));
  }
  schedule(st);
}

void Connection::report_written(StreamState& st) {
  if (st.written_unreported == 0) return;
  uint64_t n = st.written_unreported;
  st.written_unreported = 0;
  while (n > 0) {
    uint32_t part = n > 0xffffffffu ? 0xffffffffu : static_cast<uint32_t>(n);
    th_.batch().add(Ev::kWritten, id_, st.handle, part);
    n -= part;
  }
}

void Connection::on_command(Command& cmd) {
  if (phase_ == Phase::kClosed) return;
  switch (cmd.op) {
    case Op::kOpenStream: {
      if (!mux_) {
        th_.batch().add(Ev::kStreamOpenFailed, id_, cmd.stream, err::kStreamRefused);
        return;
      }
      std::vector<std::string> protos = split_protocol_list(cmd.text);
      yamux::Error why = yamux::Error::kNone;
      uint32_t yid = protos.empty() ? 0 : mux_->open_stream(&why);
      if (yid == 0) {
        th_.batch().add(Ev::kStreamOpenFailed, id_, cmd.stream,
                        protos.empty() ? err::kBadCommand : err::from_engine(err::kYamuxBase, why));
        return;
      }
      auto st = std::make_unique<StreamState>();
      st->yid = yid;
      st->handle = cmd.stream;
      st->outbound = true;
      bool optimistic = protos.size() == 1;
      st->dialer = std::make_unique<mss::Dialer>(protos, optimistic);
      std::vector<uint8_t> out;
      st->dialer->start(out);
      StreamState* raw = st.get();
      by_yid_[yid] = std::move(st);
      by_handle_[cmd.stream] = raw;
      count(kStreamsOpened, 1);
      if (raw->dialer->status() == mss::Status::kFailed) {
        th_.batch().add(Ev::kStreamOpenFailed, id_, cmd.stream,
                        err::from_engine(err::kMultistreamBase, raw->dialer->error()));
        mux_->reset_stream(yid);
        forget(*raw, false);
        return;
      }
      queue_stream_bytes(*raw, std::move(out), false);
      if (!optimistic) negotiating_.emplace_back(th_.now() + th_.host().config().stream_negotiation_timeout_ns, yid);
      if (optimistic && raw->dialer->status() == mss::Status::kDone) {
        const std::string& proto = raw->dialer->selected();
        raw->proto = th_.host().protocol_index(proto);
        Record& r = th_.batch().add(Ev::kStreamOpened, id_, raw->handle, raw->proto);
        th_.batch().attach(r, proto.data(), proto.size());
        raw->announced = true;
        count_proto(raw->proto, kProtoStreams, 1);
      }
      return;
    }
    case Op::kSend: {
      StreamState* st = by_handle(cmd.stream);
      if (st == nullptr || st->fin_requested) {
        // Stream gone (reset meanwhile): the bytes count as written so JS releases the buffer.
        th_.batch().add(Ev::kWritten, id_, cmd.stream, cmd.len);
        return;
      }
      st->sendq.push_back(StreamState::Pending{cmd.data, cmd.len, 0, true, {}});
      // An optimistic dialer may send data right after its proposal; a non-optimistic one is only
      // announced (and given data) after negotiation, so data never precedes the selection.
      schedule(*st);
      return;
    }
    case Op::kCloseWrite: {
      StreamState* st = by_handle(cmd.stream);
      if (st == nullptr) {
        th_.batch().add(Ev::kWriteClosed, id_, cmd.stream);
        return;
      }
      st->fin_requested = true;
      schedule(*st);
      return;
    }
    case Op::kReset: {
      StreamState* st = by_handle(cmd.stream);
      if (st == nullptr) {
        th_.batch().add(Ev::kStreamReleased, id_, cmd.stream);
        return;
      }
      mux_->reset_stream(st->yid);
      report_written(*st);
      forget(*st, true);
      th_.mark_dirty(this);
      return;
    }
    case Op::kPause: {
      StreamState* st = by_handle(cmd.stream);
      if (st != nullptr) st->paused = true;
      return;
    }
    case Op::kResume: {
      StreamState* st = by_handle(cmd.stream);
      if (st == nullptr) return;
      st->paused = false;
      if (st->unconsumed > 0) {
        mux_->consume(st->yid, static_cast<uint32_t>(st->unconsumed), th_.now());
        st->unconsumed = 0;
        th_.mark_dirty(this);
      }
      return;
    }
    case Op::kCloseConn: {
      if (cmd.a == 0 || !mux_) return close_now(cmd.a == 0 ? err::kLocalAbort : err::kLocalClose);
      mux_->go_away(0);
      closing_ = true;
      close_deadline_ = th_.now() + kGracefulCloseTimeoutNs;
      th_.mark_dirty(this);
      rearm_timer();
      return;
    }
    default:
      return;
  }
}

// ---- send path ---------------------------------------------------------------------------------

bool Connection::ensure(size_t extra, size_t min_cap) {
  if (out_len_ + extra <= out_cap_) return true;
  // Drop what the socket already took before growing.
  if (out_sent_ > 0 && !open_msg_) {
    std::memmove(out_, out_ + out_sent_, out_len_ - out_sent_);
    out_len_ -= out_sent_;
    out_sent_ = 0;
    if (out_len_ + extra <= out_cap_) return true;
  }
  size_t cap = std::max(out_cap_ == 0 ? kInitialOutputBuffer : out_cap_, min_cap);
  while (cap < out_len_ + extra) cap *= 2;
  void* q = mem::grow(out_, out_cap_, out_len_, cap);
  if (q == nullptr) return false;
  out_ = static_cast<uint8_t*>(q);
  out_cap_ = cap;
  return true;
}

void Connection::write_raw(const uint8_t* p, size_t n) {
  if (!ensure(n)) return fail(err::kOutOfMemory);
  std::memcpy(out_ + out_len_, p, n);
  out_len_ += n;
  th_.mark_dirty(this);
}

void Connection::append_plain(const uint8_t* p, size_t n) {
  if (tls_) return tls_stage(p, n);
  while (n > 0 && phase_ != Phase::kClosed) {
    if (!open_msg_) {
      if (!ensure(2 + kTag + std::min(n, kMaxPlain))) return fail(err::kOutOfMemory);
      open_msg_ = true;
      open_pos_ = out_len_;
      out_len_ += 2;
    }
    size_t used = out_len_ - open_pos_ - 2;
    size_t take = std::min(n, kMaxPlain - used);
    if (!ensure(take + kTag)) return fail(err::kOutOfMemory);
    std::memcpy(out_ + out_len_, p, take);
    out_len_ += take;
    p += take;
    n -= take;
    if (used + take == kMaxPlain) seal_open();
  }
}

void Connection::seal_open() {
  if (tls_) return seal_tls();
  if (!open_msg_) return;
  open_msg_ = false;
  size_t plain = out_len_ - open_pos_ - 2;
  // In place: the plaintext already sits right after room for the length prefix.
  noise::Error e = tx_->encrypt_frame(out_ + open_pos_ + 2, plain, out_ + open_pos_);
  if (e != noise::Error::kNone) return fail(err::from_engine(err::kNoiseBase, e));
  out_len_ += kTag;
}

void Connection::append_direct(const uint8_t* p, size_t n) {
  if (tls_) {
    // Complete the gathered record with the first bytes, encrypt whole records straight from the
    // JS buffer, and gather the tail with what follows (the next frame's header).
    size_t fill = tls_plain_.empty() ? 0 : std::min(n, tls::kMaxRecordPlaintext - tls_plain_.size());
    tls_stage(p, fill);
    p += fill;
    n -= fill;
    size_t whole = n - n % tls::kMaxRecordPlaintext;
    if (whole > 0 && phase_ != Phase::kClosed) tls_encrypt(p, whole);
    if (phase_ != Phase::kClosed) tls_stage(p + whole, n - whole);
    return;
  }
  seal_open();
  size_t messages = (n + kMaxPlain - 1) / kMaxPlain;
  // A full-size frame means a bulk sender, which fills the buffer to kMaxOutputBuffer in this
  // pump: size it for that at once. Grown by doubling from 16 KiB instead, a sender whose buffer
  // drained (and was freed) re-copied what it had encrypted at each growth on the way back up to
  // 2 MiB (memcpy was 2.5% of the sending I/O thread in a 1 GiB perf profile; now none).
  size_t min_cap = n >= kMaxDataFrame ? kBulkOutputBuffer : 0;
  if (!ensure(n + messages * (2 + kTag), min_cap)) return fail(err::kOutOfMemory);
  while (n > 0) {
    if (n < kCopySendThreshold) {
      // A short tail rides in the open message with whatever follows (the next frame's header),
      // rather than costing a message, a tag and a receiver data event of its own.
      append_plain(p, n);
      return;
    }
    size_t take = std::min(n, kMaxPlain);
    // Encrypt straight from the JS buffer into the output buffer: the one pass over the bytes.
    noise::Error e = tx_->encrypt_frame(p, take, out_ + out_len_);
    if (e != noise::Error::kNone) return fail(err::from_engine(err::kNoiseBase, e));
    out_len_ += take + noise::kFrameOverhead;
    p += take;
    n -= take;
  }
}

// Small sends queued back to back on a stream (a chatty protocol writing a few bytes at a time)
// become ONE Yamux frame: one header, one data event at the receiver, bytes copied into the open
// Noise message. Returns false when the front item alone does not fit (caller sends it as usual).
bool Connection::coalesce_small(StreamState& st, uint32_t window, bool hold_js) {
  uint32_t limit = std::min(window, kMaxCoalescedFrame);
  uint32_t total = 0;
  size_t k = 0;
  for (auto it = st.sendq.begin(); it != st.sendq.end(); ++it) {
    if (it->js && hold_js) break;
    uint32_t a = it->len - it->off;
    if (a >= kCopySendThreshold || total + a > limit) break;
    total += a;
    k++;
  }
  if (k < 2) return false;  // a single item takes the ordinary path
  uint8_t hdr[yamux::kHeaderLength];
  if (!mux_->write_data_header(st.yid, total, false, hdr)) return false;  // FIN: see pump_streams
  append_plain(hdr, sizeof(hdr));
  for (size_t i = 0; i < k && phase_ != Phase::kClosed; i++) {
    StreamState::Pending& item = st.sendq.front();
    uint32_t a = item.len - item.off;
    append_plain(item.p + item.off, a);
    if (item.js) {
      st.written_unreported += a;
      count_proto(st.proto, kProtoBytesOut, a);
    }
    st.sendq.pop_front();
  }
  count(kFramesOut, 1);
  return true;
}

void Connection::pump_streams() {
  size_t rounds = sendlist_.size();
  while (!sendlist_.empty() && out_len_ - out_sent_ < kMaxOutputBuffer && phase_ != Phase::kClosed) {
    StreamState& st = *sendlist_.front();
    sendlist_.pop_front();
    st.in_sendlist = false;
    // A non-optimistic dialer holds JS data until the selection is confirmed (only its own bytes go).
    bool hold_js = st.dialer && !st.dialer->confirmed() && st.dialer->status() != mss::Status::kDone;
    bool progressed = false;
    while (!st.sendq.empty() && out_len_ - out_sent_ < kMaxOutputBuffer) {
      StreamState::Pending& item = st.sendq.front();
      if (item.js && hold_js) break;
      uint32_t w = mux_->send_window(st.yid);
      if (w == 0) break;
      if (item.len - item.off < kCopySendThreshold && coalesce_small(st, w, hold_js)) {
        if (phase_ == Phase::kClosed) return;
        progressed = true;
        continue;
      }
      uint32_t n = std::min({item.len - item.off, w, kMaxDataFrame});
      uint8_t hdr[yamux::kHeaderLength];
      // Never FIN on a data frame, though the yamux spec allows it: js-libp2p's Yamux handles a
      // frame's flags before its data and drops the data of a frame carrying FIN. The FIN goes in
      // a frame of its own after the data (below, close_stream), as go-yamux and js-libp2p send it.
      if (!mux_->write_data_header(st.yid, n, false, hdr)) break;
      append_plain(hdr, sizeof(hdr));
      if (n < kCopySendThreshold) {
        append_plain(item.p + item.off, n);
      } else {
        append_direct(item.p + item.off, n);
      }
      if (phase_ == Phase::kClosed) return;
      count(kFramesOut, 1);
      progressed = true;
      item.off += n;
      if (item.js) {
        st.written_unreported += n;
        count_proto(st.proto, kProtoBytesOut, n);
      }
      if (item.off == item.len) st.sendq.pop_front();
    }
    if (progressed && st.written_unreported > 0) written_dirty_.push_back(&st);
    // An optimistic dialer's FIN waits for the listener's confirmation of the protocol (as in
    // rust-libp2p's multistream-select): js-libp2p handles a FIN that arrives before its handler
    // runs and that handler then never sees the end. Data may still go ahead of the confirmation.
    // A remote FIN means no confirmation can come any more: nothing to wait for then.
    bool fin_held = st.dialer && !st.dialer->confirmed() && !st.remote_fin;
    if (st.sendq.empty() && st.fin_requested && !st.fin_sent && !fin_held) {
      mux_->close_stream(st.yid);
      st.fin_sent = true;
      th_.batch().add(Ev::kWriteClosed, id_, st.handle);
    }
    if (st.sendq.empty() && st.fin_sent && st.remote_fin) {
      report_written(st);
      forget(st, true);
    } else if (!st.sendq.empty() && mux_->send_window(st.yid) > 0 &&
               !(st.sendq.front().js && st.dialer && !st.dialer->confirmed() && st.dialer->status() != mss::Status::kDone)) {
      schedule(st);  // more to send: back of the round-robin
    }
    if (rounds-- == 0 && !progressed) break;
  }
}

void Connection::write_socket() {
  while (out_sent_ < out_len_ && writable_) {
    // send(MSG_NOSIGNAL), not write(): a peer that closed gives EPIPE here instead of SIGPIPE,
    // which would kill an embedder that (unlike Node) does not ignore it.
    ssize_t n = ::send(fd_, out_ + out_sent_, out_len_ - out_sent_, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        writable_ = false;
        break;
      }
      if (errno == EINTR) continue;
      return fail(errno == EPIPE || errno == ECONNRESET ? err::kConnectionReset : err::kSocketError);
    }
    out_sent_ += static_cast<size_t>(n);
    count(kBytesOut, static_cast<double>(n));
  }
  if (input_blocked_ && out_len_ - out_sent_ < kMaxOutputBuffer) {
    input_blocked_ = false;
    if (readable_) th_.defer_read(this);  // resume on the next loop iteration
  }
  if (out_sent_ == out_len_ && !open_msg_) {
    out_sent_ = out_len_ = 0;
    // Freed whenever it drains, whatever its size: an idle connection then holds no output
    // buffer (16 KiB each was most of the native memory of 10,000 idle connections:
    // bench/swarm/idle-memory.ts), and a busy one gets it back from the allocator's cache.
    if (out_cap_ != 0 && sendlist_.empty()) {
      mem::free(out_, out_cap_);
      out_ = nullptr;
      out_cap_ = 0;
    }
  }
}

void Connection::flush() {
  dirty = false;
  if (phase_ == Phase::kClosed || phase_ == Phase::kConnecting) return;
  // Bounded rounds of encrypt + write, so one busy connection cannot starve the others.
  for (int round = 0; round < 4 && phase_ != Phase::kClosed; round++) {
    if (mux_ && !mux_dialer_ && !mux_listener_) {
      scratch_.clear();
      mux_->poll_control(scratch_);
      if (!scratch_.empty()) append_plain(scratch_.data(), scratch_.size());
      pump_streams();
      if (phase_ == Phase::kClosed) return;
      scratch_.clear();
      mux_->poll_control(scratch_);  // FINs queued by close_stream, window updates
      if (!scratch_.empty()) append_plain(scratch_.data(), scratch_.size());
    } else if (mux_ && mux_dialer_) {
      // Optimistic muxer selection: Yamux frames may follow our proposal at once.
      scratch_.clear();
      mux_->poll_control(scratch_);
      if (!scratch_.empty()) append_plain(scratch_.data(), scratch_.size());
      pump_streams();
      if (phase_ == Phase::kClosed) return;
      scratch_.clear();
      mux_->poll_control(scratch_);  // FINs queued by close_stream
      if (!scratch_.empty()) append_plain(scratch_.data(), scratch_.size());
    }
    if (phase_ == Phase::kClosed) return;
    if (tx_ || tls_) seal_open();
    write_socket();
    if (phase_ == Phase::kClosed) return;
    if (!writable_ || sendlist_.empty()) break;
  }
  for (StreamState* st : written_dirty_) report_written(*st);
  written_dirty_.clear();
  if (closing_ && out_sent_ == out_len_) return close_now(err::kLocalClose);
  if (writable_ && !sendlist_.empty()) th_.mark_dirty(this);  // more to do next iteration
  rearm_timer();
}

}  // namespace l2n::io
