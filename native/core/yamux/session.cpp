// Yamux session state machine (see l2n/yamux.h for the protocol, call order and errors).
//
// Implementation notes
// - Receive windows: `window` is the most the remote may have in flight plus what the application
//   has not consumed yet. After consume(), the credit that would bring (remote credit + unconsumed)
//   back to `window` is granted once it reaches half a window (fewer, larger updates, as go and
//   rust yamux do).
// - Growth (auto-tuning, in the spirit of rust-yamux and of TCP receive-buffer auto-tuning): each
//   stream measures how long its reader takes to consume one window's worth. Under 2 RTT means the
//   window, not the reader, limits throughput: the window doubles (and the extra credit goes out
//   with the next update), up to Config::max_stream_window and within the session growth budget.
//   With no RTT sample yet, windows do not grow; the RTT used is at least
//   Config::min_growth_rtt_ns (a ping on loopback underestimates how long an update takes to act).
// - RTT: our own pings (SYN with a counter as opaque value, answered with ACK), smoothed with the
//   RFC 6298 gain of 1/8.
#include "l2n/yamux.h"

#include <algorithm>

namespace l2n::yamux {

namespace {
constexpr uint64_t kEmpty = 0;
constexpr size_t kMinTableSize = 16;  // 16 slots = 128 bytes: most connections carry few streams
inline size_t slot_hash(uint32_t id, size_t mask) {
  return static_cast<size_t>((static_cast<uint64_t>(id) * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}
}  // namespace

Session::Session(const Config& cfg, bool is_client) : cfg_(cfg), is_client_(is_client), next_local_id_(is_client ? 1 : 2) {
  cfg_.max_stream_window = std::max(cfg_.max_stream_window, kInitialWindow);
  table_.assign(kMinTableSize, kEmpty);
}

// ---- stream table ----

const Session::Stream* Session::find(uint32_t id) const {
  if (id == cache_id_ && id != 0) return &streams_[cache_slot_];
  const size_t mask = table_.size() - 1;
  for (size_t i = slot_hash(id, mask);; i = (i + 1) & mask) {
    const uint64_t e = table_[i];
    if (e == kEmpty) return nullptr;
    if (static_cast<uint32_t>(e >> 32) == id) return &streams_[static_cast<uint32_t>(e) - 1];
  }
}

Session::Stream* Session::find(uint32_t id) {
  const Stream* s = static_cast<const Session*>(this)->find(id);
  if (s != nullptr) {
    cache_id_ = id;
    cache_slot_ = static_cast<uint32_t>(s - streams_.data());
  }
  return const_cast<Stream*>(s);
}

Session::Stream* Session::create(uint32_t id, bool inbound) {
  // Keep the table at most half full.
  if ((num_streams_ + 1) * 2 > table_.size()) {
    std::vector<uint64_t> old(table_.size() * 2, kEmpty);
    old.swap(table_);
    const size_t mask = table_.size() - 1;
    for (uint64_t e : old) {
      if (e == kEmpty) continue;
      size_t i = slot_hash(static_cast<uint32_t>(e >> 32), mask);
      while (table_[i] != kEmpty) i = (i + 1) & mask;
      table_[i] = e;
    }
  }
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
    streams_[slot] = Stream{};
  } else {
    slot = static_cast<uint32_t>(streams_.size());
    streams_.emplace_back();
  }
  const size_t mask = table_.size() - 1;
  size_t i = slot_hash(id, mask);
  while (table_[i] != kEmpty) i = (i + 1) & mask;
  table_[i] = static_cast<uint64_t>(id) << 32 | (slot + 1);
  num_streams_++;
  Stream& s = streams_[slot];
  s.id = id;
  s.inbound = inbound;
  s.syn_pending = !inbound;
  s.ack_pending = inbound;
  if (inbound) pending_inbound_++;
  return &s;
}

void Session::remove(Stream* s) {
  const uint32_t id = s->id;
  const uint32_t slot = static_cast<uint32_t>(s - streams_.data());
  if (s->ack_pending) pending_inbound_--;
  window_growth_ -= s->window - kInitialWindow;
  if (body_stream_ == id && body_left_ != 0) {  // reset by the application while its body arrives
    body_deliver_ = false;
    body_fin_ = false;
  }
  if (cache_id_ == id) cache_id_ = 0;
  s->id = 0;
  free_slots_.push_back(slot);
  num_streams_--;
  // Backward-shift deletion keeps probe chains intact without tombstones.
  const size_t mask = table_.size() - 1;
  size_t i = slot_hash(id, mask);
  while (static_cast<uint32_t>(table_[i] >> 32) != id) i = (i + 1) & mask;
  for (size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
    const uint64_t e = table_[j];
    if (e == kEmpty) break;
    const size_t home = slot_hash(static_cast<uint32_t>(e >> 32), mask);
    // Move e into the hole at i if its home is not cyclically within (i, j].
    if (((j - home) & mask) >= ((j - i) & mask)) {
      table_[i] = e;
      i = j;
    }
  }
  table_[i] = kEmpty;
}

// ---- output helpers ----

void Session::queue(FrameType t, uint16_t flags, uint32_t id, uint32_t len) {
  const size_t at = control_.size();
  control_.resize(at + kHeaderLength);
  encode_header(Header{kVersion, static_cast<uint8_t>(t), flags, id, len}, control_.data() + at);
}

uint16_t Session::take_open_flags(Stream& s) {
  uint16_t f = 0;
  if (s.syn_pending) { f |= kFlagSyn; s.syn_pending = false; }
  if (s.ack_pending) { f |= kFlagAck; s.ack_pending = false; pending_inbound_--; }
  return f;
}

bool Session::fail(Error e) {
  error_ = e;
  queue(FrameType::kGoAway, 0, 0, e == Error::kTooManyStreams ? kGoAwayInternalError : kGoAwayProtocolError);
  return false;
}

// ---- input ----

bool Session::on_header(const uint8_t* raw, uint64_t now_ns, FrameStart& fs) {
  const Header h = decode_header(raw);
  const Error e = check_header(h);
  if (e != Error::kNone) return fail(e);
  switch (static_cast<FrameType>(h.type)) {
    case FrameType::kPing:
      return on_ping(h, now_ns, fs);
    case FrameType::kGoAway:
      remote_go_away_ = true;
      fs.pre[fs.npre++] = Event{EventType::kGoAway, 0, nullptr, 0, h.length};
      return true;
    default:
      return on_stream_frame(h, now_ns, fs);
  }
}

bool Session::on_ping(const Header& h, uint64_t now_ns, FrameStart& fs) {
  if (h.flags & kFlagSyn) {
    queue(FrameType::kPing, kFlagAck, 0, h.length);  // echo the opaque value
    return true;
  }
  if (ping_outstanding_ && h.length == ping_opaque_) {  // an unmatched pong is ignored
    ping_outstanding_ = false;
    const uint64_t sample = std::max<uint64_t>(now_ns - ping_sent_ns_, 1);
    rtt_ns_ = rtt_ns_ == 0 ? sample : (7 * rtt_ns_ + sample) / 8;
    if (cfg_.rtt_probe_interval_ns != 0) next_probe_ns_ = now_ns + cfg_.rtt_probe_interval_ns;
    fs.pre[fs.npre++] = Event{EventType::kPong, 0, nullptr, 0, h.length};
  }
  return true;
}

bool Session::on_stream_frame(const Header& h, uint64_t now_ns, FrameStart& fs) {
  const uint32_t id = h.stream_id;
  const bool data = h.type == static_cast<uint8_t>(FrameType::kData);
  if (id == 0) return fail(Error::kBadStreamId);
  Stream* s = find(id);
  if (h.flags & kFlagSyn) {
    if (s != nullptr || !is_remote_id(id)) return fail(Error::kBadStreamId);
    max_remote_id_ = std::max(max_remote_id_, id);
    if (data && h.length > kInitialWindow) return fail(Error::kWindowExceeded);
    if (local_go_away_ || pending_inbound_ >= cfg_.max_pending_inbound) {
      if (!(h.flags & kFlagRst)) queue(FrameType::kWindowUpdate, kFlagRst, id, 0);  // refuse, carry on
      fs.body = data ? h.length : 0;
      return true;
    }
    if (num_streams_ >= cfg_.max_streams) return fail(Error::kTooManyStreams);
    s = create(id, true);
    s->send_window = kInitialWindow + (data ? 0 : h.length);
    fs.pre[fs.npre++] = Event{EventType::kStreamOpened, id, nullptr, 0, 0};
  } else if (s == nullptr) {
    // Never opened: a protocol error. Closed earlier: frames still in flight, skipped.
    const bool never = is_remote_id(id) ? id > max_remote_id_ : id >= next_local_id_;
    if (never) return fail(Error::kBadStreamId);
    fs.body = data ? h.length : 0;
    return true;
  }
  // ACK on an outbound stream needs no state: the stream is usable from open_stream() on.
  if (h.flags & kFlagRst) {
    fs.pre[fs.npre++] = Event{EventType::kRemoteReset, id, nullptr, 0, 0};
    remove(s);
    fs.body = data ? h.length : 0;  // whatever it carried is dropped with the stream
    return true;
  }
  if (data) {
    if (h.length != 0) {
      if (s->remote_fin) return fail(Error::kStreamClosed);
      if (h.length > s->recv_window) return fail(Error::kWindowExceeded);
      s->recv_window -= h.length;
      s->unconsumed += h.length;
      if (!s->epoch_started) {
        s->epoch_started = true;
        s->epoch_start_ns = now_ns;
      }
      fs.body = h.length;
      fs.deliver = true;
      fs.stream_id = id;
    }
  } else if (h.length != 0) {
    if (!(h.flags & kFlagSyn)) s->send_window += h.length;
    if (!s->local_fin) {  // after our FIN the credit is of no use: no event
      const uint64_t w = std::min<uint64_t>(s->send_window, std::numeric_limits<uint32_t>::max());
      fs.pre[fs.npre++] = Event{EventType::kSendWindow, id, nullptr, static_cast<uint32_t>(w), 0};
    }
  }
  if ((h.flags & kFlagFin) && !s->remote_fin) {  // a repeated FIN is ignored
    s->remote_fin = true;
    if (fs.deliver) fs.fin_after = true;
    else fs.pre[fs.npre++] = Event{EventType::kRemoteFin, id, nullptr, 0, 0};
    if (s->local_fin) remove(s);
  }
  return true;
}

// ---- commands ----

uint32_t Session::open_stream(Error* why) {
  Error e = Error::kNone;
  if (error_ != Error::kNone) e = error_;
  else if (remote_go_away_) e = Error::kRemoteGoAway;
  else if (num_streams_ >= cfg_.max_streams) e = Error::kTooManyStreams;
  else if (next_local_id_ > std::numeric_limits<uint32_t>::max()) e = Error::kStreamIdsExhausted;
  if (why != nullptr) *why = e;
  if (e != Error::kNone) return 0;
  const uint32_t id = static_cast<uint32_t>(next_local_id_);
  next_local_id_ += 2;
  create(id, false);
  return id;
}

void Session::accept_stream(uint32_t id) {
  Stream* s = find(id);
  if (s == nullptr || !s->ack_pending || error_ != Error::kNone) return;
  queue(FrameType::kWindowUpdate, take_open_flags(*s), id, 0);
}

uint32_t Session::send_window(uint32_t id) const {
  const Stream* s = find(id);
  if (s == nullptr || s->local_fin) return 0;
  return static_cast<uint32_t>(std::min<uint64_t>(s->send_window, std::numeric_limits<uint32_t>::max()));
}

uint32_t Session::receive_window(uint32_t id) const {
  const Stream* s = find(id);
  return s == nullptr ? 0 : s->window;
}

bool Session::write_data_header(uint32_t id, uint32_t n, bool fin, uint8_t out[kHeaderLength]) {
  Stream* s = find(id);
  if (s == nullptr || s->local_fin || n > s->send_window || error_ != Error::kNone) return false;
  const uint16_t flags = take_open_flags(*s) | (fin ? kFlagFin : 0);
  s->send_window -= n;
  encode_header(Header{kVersion, static_cast<uint8_t>(FrameType::kData), flags, id, n}, out);
  if (fin) {
    s->local_fin = true;
    if (s->remote_fin) remove(s);
  }
  return true;
}

void Session::close_stream(uint32_t id) {
  Stream* s = find(id);
  if (s == nullptr || s->local_fin || error_ != Error::kNone) return;
  queue(FrameType::kWindowUpdate, take_open_flags(*s) | kFlagFin, id, 0);
  s->local_fin = true;
  if (s->remote_fin) remove(s);
}

void Session::reset_stream(uint32_t id) {
  Stream* s = find(id);
  if (s == nullptr) return;
  // A stream whose SYN never left is unknown to the remote: nothing to send.
  if (!s->syn_pending && error_ == Error::kNone) queue(FrameType::kWindowUpdate, kFlagRst, id, 0);
  remove(s);
}

void Session::consume(uint32_t id, uint32_t n, uint64_t now_ns) {
  Stream* s = find(id);
  if (s == nullptr || error_ != Error::kNone) return;
  n = std::min(n, s->unconsumed);
  s->unconsumed -= n;
  if (s->remote_fin) return;  // the remote sends nothing more: no credit needed
  s->consumed_epoch += n;
  if (s->consumed_epoch >= s->window) {
    // A window's worth consumed: grow if that took under 2 RTT (see the notes at the top).
    const uint64_t rtt = std::max(rtt_ns_, cfg_.min_growth_rtt_ns);
    if (rtt_ns_ != 0 && now_ns - s->epoch_start_ns < 2 * rtt && s->window < cfg_.max_stream_window) {
      const uint64_t budget = cfg_.max_session_window_growth - std::min(window_growth_, cfg_.max_session_window_growth);
      const uint64_t extra = std::min<uint64_t>({s->window, cfg_.max_stream_window - s->window, budget});
      s->window += static_cast<uint32_t>(extra);
      window_growth_ += extra;
    }
    s->epoch_start_ns = now_ns;
    s->consumed_epoch = 0;
  }
  const uint64_t held = static_cast<uint64_t>(s->recv_window) + s->unconsumed;
  const uint32_t delta = held < s->window ? static_cast<uint32_t>(s->window - held) : 0;
  if (delta < s->window / 2 && !s->ack_pending) return;  // batch small updates (an ACK goes at once)
  queue(FrameType::kWindowUpdate, take_open_flags(*s), id, delta);
  s->recv_window += delta;
}

void Session::ping(uint64_t now_ns) {
  if (ping_outstanding_ || error_ != Error::kNone) return;
  ping_outstanding_ = true;
  ping_opaque_++;
  ping_sent_ns_ = now_ns;
  queue(FrameType::kPing, kFlagSyn, 0, ping_opaque_);
}

void Session::go_away(uint32_t code) {
  if (local_go_away_ || error_ != Error::kNone) return;
  local_go_away_ = true;
  queue(FrameType::kGoAway, 0, 0, code);
}

// ---- outputs and timers ----

size_t Session::poll_control(std::vector<uint8_t>& out) {
  const size_t n = control_.size();
  out.insert(out.end(), control_.begin(), control_.end());
  control_.clear();
  return n;
}

uint64_t Session::next_deadline() const {
  if (error_ != Error::kNone || cfg_.rtt_probe_interval_ns == 0 || ping_outstanding_) return std::numeric_limits<uint64_t>::max();
  return next_probe_ns_;
}

void Session::handle_timeout(uint64_t now_ns) {
  if (now_ns >= next_deadline()) ping(now_ns);
}

}  // namespace l2n::yamux
