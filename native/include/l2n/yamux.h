// Yamux stream multiplexer engine: no I/O, no clock reads (time is `now_ns`), no threads.
//
// Spec: hashicorp/yamux spec.md, as used by libp2p (`/yamux/1.0.0`). Every frame starts with a
// 12-byte big-endian header: version (0), type (0 data, 1 window update, 2 ping, 3 go-away),
// flags (SYN 1, ACK 2, FIN 4, RST 8), stream id, length. For data frames `length` bytes of payload
// follow; for window updates it is the window delta, for pings an opaque value echoed back with
// ACK, for go-away an error code. Client stream ids are odd, server ids even, 0 is the session.
//
// Call order (quinn-proto / ngtcp2 style):
//   1. inputs:   handle_input(plaintext, now, sink)   -- events go to `sink` as they are parsed
//   2. commands: open_stream, accept_stream, write_data_header, close_stream, reset_stream,
//                consume, ping, go_away
//   3. outputs:  poll_control(out)                      -- queued control frames, in order
//   4. timers:   next_deadline(), handle_timeout(now)
// Wire order: the session's output is one ordered byte stream. A data frame is the header from
// write_data_header() followed by its n payload bytes; bytes from poll_control() may be put on the
// wire at any frame boundary, but a control frame queued by a command must go out after every data
// frame whose header was obtained before that command (e.g. a FIN from close_stream() after the
// last data). Appending control bytes when polled and data frames when written to one FIFO
// satisfies this.
//
// Errors: handle_input() returns false on a protocol error; error() says which (closed set below)
// and a go-away frame (protocol or internal error) is queued: the caller may flush poll_control()
// and must then close the connection with that error. Commands never fail fatally.
#pragma once
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

namespace l2n::yamux {

inline constexpr size_t kHeaderLength = 12;      // spec: 1+1+2+4+4 bytes
inline constexpr uint8_t kVersion = 0;           // spec: the only version
inline constexpr uint32_t kInitialWindow = 256 * 1024;  // spec: initial stream window, both directions

enum class FrameType : uint8_t { kData = 0, kWindowUpdate = 1, kPing = 2, kGoAway = 3 };
inline constexpr uint16_t kFlagSyn = 0x1;
inline constexpr uint16_t kFlagAck = 0x2;
inline constexpr uint16_t kFlagFin = 0x4;
inline constexpr uint16_t kFlagRst = 0x8;
inline constexpr uint16_t kKnownFlags = kFlagSyn | kFlagAck | kFlagFin | kFlagRst;
// Go-away codes (spec).
inline constexpr uint32_t kGoAwayNormal = 0;
inline constexpr uint32_t kGoAwayProtocolError = 1;
inline constexpr uint32_t kGoAwayInternalError = 2;

struct Config {
  // Largest receive window one stream may grow to. 16 MiB = BDP of 1.25 GB/s (10 Gbit/s) at a
  // 13 ms RTT, so long-RTT links are not window-bound. A stream only grows when its reader keeps
  // up (a window's worth consumed in < 2 RTT), so a slow reader never buffers more than 256 KiB.
  uint32_t max_stream_window = 16 * 1024 * 1024;
  // Sum of all streams' windows beyond kInitialWindow that growth may add: bounds what a reader
  // that was fast and then stalls can be made to buffer. 64 MiB = 4 streams at max_stream_window
  // (or 8 streams of 8 MiB), within the 100 MiB RSS target of a perf server.
  uint64_t max_session_window_growth = 64ull * 1024 * 1024;
  // Open streams per connection, both directions. DoS bound: worst-case buffered data without
  // growth is max_streams * kInitialWindow = 256 MiB; an inbound SYN beyond it closes the
  // connection (kTooManyStreams), as rust-yamux does.
  uint32_t max_streams = 1024;
  // Inbound streams not yet accepted by the application (accept_stream or any frame sent on them).
  // A SYN beyond it is refused with RST and the connection carries on (go/js yamux backlog rule).
  uint32_t max_pending_inbound = 256;
  // RTT probing for window growth: a ping is due at once (next_deadline() == 0 at start) and
  // again this long after each pong. 10 s: one 12-byte frame per 10 s per connection. 0 = never
  // (then windows grow only after pings sent with ping()).
  uint64_t rtt_probe_interval_ns = 10'000'000'000ull;
  // Smallest RTT the growth rule assumes. Our ping is answered by the remote's I/O thread, so on
  // loopback or a LAN it measures 30-200 us, while a window update really takes longer to turn
  // into data (both I/O threads must run, behind other sockets and the JS hand-off): with the raw
  // sample a 256 KiB window had to drain in < 2 samples (> 10 Gbit/s) to grow, so whether a
  // connection ever grew depended on how busy the machine was when its one ping went out, and the
  // same transfer ran at 8 or 12 Gbit/s (bench/swarm/perf-overhead.ts). 1 ms: a stream grows once
  // its reader takes a window in < 2 ms (> 1 Gbit/s); a slower reader still never grows.
  uint64_t min_growth_rtt_ns = 1'000'000;
};

enum class Error : uint8_t {
  kNone,
  kBadVersion,          // header version != 0
  kBadType,             // frame type > 3
  kBadFlags,            // unknown flag bits, SYN with ACK, or a ping with neither SYN nor ACK
  kWindowExceeded,      // data frame longer than the stream's remaining receive window
  kBadStreamId,         // id 0 on a stream frame, SYN with our parity or on an open stream,
                        // frame on a stream that was never opened
  kTooManyStreams,      // inbound SYN beyond Config::max_streams (open_stream: no slot, not fatal)
  kStreamIdsExhausted,  // open_stream only: the 32-bit id space of our parity is used up
  kRemoteGoAway,        // open_stream only: the remote sent go-away
  kStreamClosed,        // data on a stream after the remote's FIN
};

enum class EventType : uint8_t {
  kStreamOpened,  // inbound SYN accepted into the pending set: call accept_stream() (or just use it)
  kData,          // data/len point into handle_input's buffer (zero copy: valid while it is)
  kRemoteFin,     // the remote half-closed; after all its data
  kRemoteReset,   // the stream is gone (its id is unknown from now on)
  kSendWindow,    // len = the stream's send credit now (after a window update)
  kPong,          // code = opaque value of our ping; rtt_ns() is updated
  kGoAway,        // code = remote's go-away code; open_stream() fails from now on
};
struct Event {
  EventType type;
  uint32_t stream_id;
  const uint8_t* data;
  uint32_t len;
  uint32_t code;
};

// ---- Frame codec: pure, branch-free field access. ----
struct Header {
  uint8_t version;
  uint8_t type;
  uint16_t flags;
  uint32_t stream_id;
  uint32_t length;
  bool operator==(const Header&) const = default;
};

namespace detail {
inline uint32_t be32(uint32_t v) {
  if constexpr (std::endian::native == std::endian::little) return __builtin_bswap32(v);
  return v;
}
inline uint16_t be16(uint16_t v) {
  if constexpr (std::endian::native == std::endian::little) return __builtin_bswap16(v);
  return v;
}
}  // namespace detail

inline void encode_header(const Header& h, uint8_t* out) {
  const uint16_t flags = detail::be16(h.flags);
  const uint32_t id = detail::be32(h.stream_id), len = detail::be32(h.length);
  out[0] = h.version;
  out[1] = h.type;
  std::memcpy(out + 2, &flags, 2);
  std::memcpy(out + 4, &id, 4);
  std::memcpy(out + 8, &len, 4);
}
inline Header decode_header(const uint8_t* in) {
  uint16_t flags;
  uint32_t id, len;
  std::memcpy(&flags, in + 2, 2);
  std::memcpy(&id, in + 4, 4);
  std::memcpy(&len, in + 8, 4);
  return Header{in[0], in[1], detail::be16(flags), detail::be32(id), detail::be32(len)};
}
// Checks what a header alone can violate: version, type, flag bits and combinations.
inline Error check_header(const Header& h) {
  if (h.version != kVersion) return Error::kBadVersion;
  if (h.type > static_cast<uint8_t>(FrameType::kGoAway)) return Error::kBadType;
  if ((h.flags & ~kKnownFlags) != 0) return Error::kBadFlags;
  if ((h.flags & (kFlagSyn | kFlagAck)) == (kFlagSyn | kFlagAck)) return Error::kBadFlags;
  if (h.type == static_cast<uint8_t>(FrameType::kPing) && (h.flags & (kFlagSyn | kFlagAck)) == 0) return Error::kBadFlags;
  return Error::kNone;
}

class Session {
 public:
  Session(const Config&, bool is_client);

  // Parses plaintext. kData events point into `data` (zero copy); a frame split across calls is
  // delivered in pieces; only a partial 12-byte header is ever buffered. A data frame longer than
  // the stream's remaining window fails when its header is read. `on_event(const Event&)` may call
  // commands on this session (e.g. consume, reset_stream). Returns false on a protocol error
  // (error() says which; see the header comment): close the connection.
  template <class Sink>
  bool handle_input(const uint8_t* data, size_t len, uint64_t now_ns, Sink&& on_event);

  // Opens an outbound stream; its SYN rides on the first frame sent on it. Returns 0 when no
  // stream can be opened (*why: kTooManyStreams, kStreamIdsExhausted, kRemoteGoAway, or the
  // session's fatal error); the session stays usable.
  uint32_t open_stream(Error* why = nullptr);
  // Accepts a pending inbound stream: queues a window update with ACK. Writing, closing or
  // consuming on a pending stream accepts it too (the ACK rides on that frame).
  void accept_stream(uint32_t id);
  uint32_t send_window(uint32_t id) const;  // credit for data on `id` now (0: unknown or closed)
  // Writes the header of a data frame of n bytes (n <= send_window(id)); debits the window and
  // adds SYN/ACK as needed, FIN when `fin`. Returns false (writes nothing) when the stream is
  // unknown, already closed for writing, or n exceeds the window.
  bool write_data_header(uint32_t id, uint32_t n, bool fin, uint8_t out[kHeaderLength]);
  void close_stream(uint32_t id);  // queues FIN (a window update with FIN) unless already sent
  void reset_stream(uint32_t id);  // queues RST; the id is unknown from now on
  // The application took n bytes of `id` out of its buffers: may queue a window update, and
  // grows the stream's window when a window's worth was consumed within 2 RTT.
  void consume(uint32_t id, uint32_t n, uint64_t now_ns);
  void ping(uint64_t now_ns);    // queues a ping unless one is outstanding; kPong reports it
  void go_away(uint32_t code);   // queues go-away; inbound SYNs are refused with RST afterwards

  size_t poll_control(std::vector<uint8_t>& out);  // appends queued control frames; returns bytes
  uint64_t next_deadline() const;                  // UINT64_MAX when no timer is armed
  void handle_timeout(uint64_t now_ns);            // sends the due RTT probe

  Error error() const { return error_; }
  bool is_client() const { return is_client_; }
  uint64_t rtt_ns() const { return rtt_ns_; }         // smoothed RTT of our pings, 0 = unknown
  uint32_t receive_window(uint32_t id) const;         // the stream's current window size (grows)
  size_t num_streams() const { return num_streams_; }
  size_t num_pending_inbound() const { return pending_inbound_; }
  // Test hook only: lets tests reach the end of the id space without 2^31 opens.
  void debug_set_next_stream_id(uint32_t id) { next_local_id_ = id; }

 private:
  struct Stream {
    uint32_t id = 0;
    uint32_t recv_window = kInitialWindow;  // credit the remote still holds
    uint32_t unconsumed = 0;                // received, not yet consumed by the application
    uint32_t window = kInitialWindow;       // current window size (target credit + buffered)
    uint32_t consumed_epoch = 0;            // consumed since epoch_start_ns
    uint64_t send_window = kInitialWindow;  // our credit (64-bit: sum of remote updates)
    uint64_t epoch_start_ns = 0;
    bool inbound = false;
    bool syn_pending = false;   // outbound: SYN not yet sent
    bool ack_pending = false;   // inbound: not yet accepted (ACK not sent)
    bool local_fin = false;
    bool remote_fin = false;
    bool epoch_started = false;
  };
  struct FrameStart {  // what the input loop does after a header: events, then the body
    Event pre[3];
    uint8_t npre = 0;
    bool deliver = false;    // body bytes become kData events (else they are skipped)
    bool fin_after = false;  // kRemoteFin after the body
    uint32_t body = 0;
    uint32_t stream_id = 0;
  };

  bool on_header(const uint8_t* raw, uint64_t now_ns, FrameStart& fs);
  bool on_ping(const Header& h, uint64_t now_ns, FrameStart& fs);
  bool on_stream_frame(const Header& h, uint64_t now_ns, FrameStart& fs);
  bool fail(Error e);
  Stream* find(uint32_t id);
  const Stream* find(uint32_t id) const;
  Stream* create(uint32_t id, bool inbound);
  void remove(Stream* s);
  uint16_t take_open_flags(Stream& s);
  void queue(FrameType t, uint16_t flags, uint32_t id, uint32_t len);
  bool is_remote_id(uint32_t id) const { return (id & 1u) == (is_client_ ? 0u : 1u); }

  Config cfg_;
  bool is_client_;
  Error error_ = Error::kNone;
  // Input state: a partial header, or the rest of a data frame's body.
  uint8_t hdr_buf_[kHeaderLength];
  uint8_t hdr_len_ = 0;
  bool body_deliver_ = false;
  bool body_fin_ = false;
  uint32_t body_left_ = 0;
  uint32_t body_stream_ = 0;
  // Streams: slots in `streams_`, found through an open-addressing table keyed by id (no linear
  // scan per frame), with the last hit cached (bulk transfers hit one stream in a row).
  std::vector<Stream> streams_;
  std::vector<uint32_t> free_slots_;
  std::vector<uint64_t> table_;  // (id << 32 | slot + 1), 0 = empty; power-of-two size
  uint32_t cache_id_ = 0;
  uint32_t cache_slot_ = 0;
  size_t num_streams_ = 0;
  size_t pending_inbound_ = 0;
  uint64_t next_local_id_;
  uint32_t max_remote_id_ = 0;
  uint64_t window_growth_ = 0;  // sum over streams of (window - kInitialWindow)
  bool local_go_away_ = false;
  bool remote_go_away_ = false;
  // Pings: one outstanding at a time.
  bool ping_outstanding_ = false;
  uint32_t ping_opaque_ = 0;
  uint64_t ping_sent_ns_ = 0;
  uint64_t rtt_ns_ = 0;
  uint64_t next_probe_ns_ = 0;
  std::vector<uint8_t> control_;
};

template <class Sink>
bool Session::handle_input(const uint8_t* data, size_t len, uint64_t now_ns, Sink&& on_event) {
  if (error_ != Error::kNone) return false;
  const uint8_t* p = data;
  const uint8_t* const end = data + len;
  while (p != end) {
    if (body_left_ != 0) {
      const size_t avail = static_cast<size_t>(end - p);
      const uint32_t n = avail < body_left_ ? static_cast<uint32_t>(avail) : body_left_;
      body_left_ -= n;
      if (body_deliver_) on_event(Event{EventType::kData, body_stream_, p, n, 0});
      p += n;
      if (body_left_ == 0 && body_fin_) {
        body_fin_ = false;
        on_event(Event{EventType::kRemoteFin, body_stream_, nullptr, 0, 0});
      }
      continue;
    }
    const uint8_t* h;
    if (hdr_len_ == 0 && static_cast<size_t>(end - p) >= kHeaderLength) {
      h = p;  // fast path: the whole header is in the caller's buffer
      p += kHeaderLength;
    } else {
      const size_t want = kHeaderLength - hdr_len_, avail = static_cast<size_t>(end - p);
      const size_t n = avail < want ? avail : want;
      std::memcpy(hdr_buf_ + hdr_len_, p, n);
      hdr_len_ = static_cast<uint8_t>(hdr_len_ + n);
      p += n;
      if (hdr_len_ < kHeaderLength) break;
      hdr_len_ = 0;
      h = hdr_buf_;
    }
    FrameStart fs;
    if (!on_header(h, now_ns, fs)) return false;
    body_left_ = fs.body;
    body_deliver_ = fs.deliver;
    body_fin_ = fs.fin_after;
    body_stream_ = fs.stream_id;
    for (uint8_t i = 0; i < fs.npre; i++) on_event(static_cast<const Event&>(fs.pre[i]));
    if (error_ != Error::kNone) return false;
  }
  return error_ == Error::kNone;
}

}  // namespace l2n::yamux
