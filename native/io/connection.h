// One TCP connection and its upgrade pipeline, driven by its I/O thread:
//
//   TCP connect/accept
//   -> multistream-select of the security protocol, HostConfig::security in order ("/noise",
//      "/tls/1.0.0"): a dialer with one protocol is optimistic (proposal and Noise message 1 or the
//      TLS ClientHello in one write); with several it proposes them in turn; a listener accepts any
//      of its set
//   -> Noise XX or TLS 1.3          (remote identity verified by the engine, PeerId checked)
//   -> muxer: early negotiation when both Noise payloads list /yamux/1.0.0 or TLS ALPN settled on
//             it (no round trip), else multistream-select "/yamux/1.0.0" inside the secure channel
//             (dialer optimistic)
//   -> Yamux session; per stream: multistream-select against the protocol table (inbound) or the
//      caller's proposals (outbound, optimistic with one protocol).
//
// Receive path: read() into the thread's current slab; each complete Noise message is decrypted in
// place (plaintext contiguous at message + 2); the plaintext goes to Yamux, whose data events point
// into the slab and become (slab, offset, length) records. An unfinished message (tail) stays where
// it is while nothing else was read after it, else it is copied once to the next read position.
//
// Send path: JS buffers are read in place. Small frames (< kCopySendThreshold) are copied next to
// their header into one open Noise message (many frames, one AEAD call); large ones are encrypted
// straight from the JS buffer into the output buffer, the header riding in the preceding message.
// A kWritten record reports the bytes once encrypted: native never reads them again.
//
// With TLS (tls::Session over memory buffers) the engine borrows the ciphertext in the slab and
// decrypts into the thread's read slab after it; small frames are gathered into one record
// (tls_plain_), large ones are encrypted from the JS buffer in whole records, and records go
// straight into the output buffer (the engine's output sink).
//
// Any protocol error closes only this connection, with an l2n::err code in the record.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "io/boundary.h"
#include "io/fifo.h"
#include "io/slab.h"
#include "io/socket.h"
#include "l2n/multistream.h"
#include "l2n/noise.h"
#include "l2n/tls.h"
#include "l2n/yamux.h"

namespace l2n::io {

class IoThread;

struct StreamState {
  struct Pending {
    const uint8_t* p;
    uint32_t len;
    uint32_t off;
    bool js;                    // a JS buffer (counted in kWritten) or our own negotiation bytes
    std::vector<uint8_t> owned; // negotiation bytes (p points here)
  };
  uint32_t handle = 0;
  uint32_t yid = 0;
  bool outbound = false;
  std::unique_ptr<mss::Dialer> dialer;
  std::unique_ptr<mss::Listener> listener;
  bool announced = false;       // JS knows the stream (kStreamOpened / kStreamInbound sent)
  uint32_t proto = 0xffffffffu; // index for per-protocol counters
  bool paused = false;
  uint64_t unconsumed = 0;      // delivered while paused: window granted on resume
  Fifo<Pending> sendq;
  bool in_sendlist = false;
  bool fin_requested = false;
  bool fin_sent = false;
  bool remote_fin = false;
  uint64_t written_unreported = 0;
};

class Connection {
 public:
  enum class Phase : uint8_t { kConnecting, kSecurity, kHandshake, kOpen, kClosed };

  Connection(IoThread& th, uint32_t id, int fd, bool outbound, uint32_t listen_id, uint32_t slot,
             std::string expected_peer);
  ~Connection();

  uint32_t id() const { return id_; }
  uint32_t slot() const { return slot_; }
  int fd() const { return fd_; }
  bool closed() const { return phase_ == Phase::kClosed; }
  bool opened() const { return opened_; }
  // The secure channel's protocol, once multistream-select agreed on one.
  enum class Security : uint8_t { kNone, kNoise, kTls };
  Security security() const { return security_; }

  // Inbound: right after accept. Outbound: after the non-blocking connect completed.
  void start();
  void on_socket(uint32_t events);
  void on_timer(uint64_t now);
  void on_command(Command& cmd);
  // Called once per loop iteration for connections marked dirty: encrypt queued sends and
  // control frames, write, report kWritten.
  void flush();
  void resume_reading();
  void close_now(uint32_t code);

  bool dirty = false;
  bool read_deferred = false;
  uint64_t armed_deadline = UINT64_MAX;  // earliest timer entry in the loop's heap (IoThread::arm_timer)
  uint32_t timer_gen = 0;

 private:
  // input
  void read_input();
  size_t process(uint8_t* data, size_t len);
  void on_handshake_done();
  // security stage
  bool begin_security(std::string_view proto, std::vector<uint8_t>& out);
  void start_muxer();
  size_t process_tls(const uint8_t* data, size_t len);
  bool drain_tls();
  void on_tls_done();
  void tls_fail();
  void tls_flush_output();
  void tls_stage(const uint8_t* p, size_t n);
  void tls_encrypt(const uint8_t* p, size_t n);
  void seal_tls();
  void on_plaintext(uint8_t* p, size_t n);
  void handle_mux_events();
  void on_stream_data(StreamState& st, const uint8_t* p, uint32_t n);
  void deliver(StreamState& st, const uint8_t* p, uint32_t n);
  void open_connection();
  void log_close(uint32_t code);  // one L2N_LOG line per connection end (io/log.h)
  // output
  // Room for `extra` more bytes; a buffer that must grow becomes at least min_cap bytes.
  bool ensure(size_t extra, size_t min_cap = 0);
  void write_raw(const uint8_t* p, size_t n);
  void append_plain(const uint8_t* p, size_t n);
  void seal_open();
  void append_direct(const uint8_t* p, size_t n);
  void pump_streams();
  bool coalesce_small(StreamState& st, uint32_t window, bool hold_js);
  void write_socket();
  void queue_stream_bytes(StreamState& st, std::vector<uint8_t>&& bytes, bool front);
  void schedule(StreamState& st);
  void report_written(StreamState& st);
  // streams
  StreamState* by_handle(uint32_t handle);
  StreamState* by_yid(uint32_t yid);
  void forget(StreamState& st, bool released_record);
  void maybe_forget(StreamState& st);
  void fail(uint32_t code) { close_now(code); }
  void count(uint32_t field, double v);
  void count_proto(uint32_t proto, uint32_t field, double v);
  void rearm_timer();

  IoThread& th_;
  uint32_t id_;
  int fd_;
  bool outbound_;
  uint32_t listen_id_;
  uint32_t slot_;
  std::string expected_peer_;
  Phase phase_;
  // The endpoints as read when the socket was connected (start()): announced with kConnOpen.
  std::string remote_host_, local_host_;
  uint16_t remote_port_ = 0, local_port_ = 0;
  int family_ = 4;
  bool opened_ = false;
  bool early_muxer_ = false;
  bool closing_ = false;   // graceful close: close once output is written
  uint64_t close_deadline_ = 0;
  bool input_blocked_ = false;  // output backlog >= kMaxOutputBuffer: not reading until it drains
  bool writable_ = true;
  bool readable_ = false;
  bool rdhup_ = false;
  uint64_t handshake_deadline_ = 0;
  double* counters_;

  // engines
  std::unique_ptr<mss::Dialer> sec_dialer_;
  std::unique_ptr<mss::Listener> sec_listener_;
  Security security_ = Security::kNone;
  std::unique_ptr<noise::Handshake> hs_;
  std::unique_ptr<tls::Session> tls_;   // /tls/1.0.0: handshake and record layer
  std::vector<uint8_t> tls_plain_;      // small plaintext gathered into one record (< kMaxRecordPlaintext)
  std::vector<uint8_t> tls_out_;        // engine output polled before the sink was set (and alerts, defensively)
  std::optional<noise::CipherState> tx_;
  std::optional<noise::CipherState> rx_;
  std::unique_ptr<mss::Dialer> mux_dialer_;      // muxer negotiation when not early
  std::unique_ptr<mss::Listener> mux_listener_;
  std::unique_ptr<yamux::Session> mux_;
  std::vector<uint8_t> scratch_;
  std::vector<yamux::Event> mux_events_;
  std::string remote_peer_;

  // input tail: an unfinished message, kept in the slab it arrived in
  Slab* tail_slab_ = nullptr;
  uint32_t tail_off_ = 0;
  uint32_t tail_len_ = 0;
  Slab* cur_slab_ = nullptr;  // slab holding the bytes being processed (for data records)

  // output: [sent, len) is ciphertext waiting for the socket; an open Noise message may sit at the end
  uint8_t* out_ = nullptr;
  size_t out_cap_ = 0;
  size_t out_len_ = 0;
  size_t out_sent_ = 0;
  bool open_msg_ = false;
  size_t open_pos_ = 0;    // offset of the open message's 2-byte length prefix

  // streams
  std::unordered_map<uint32_t, std::unique_ptr<StreamState>> by_yid_;
  std::unordered_map<uint32_t, StreamState*> by_handle_;  // outbound handles (inbound: kNativeIdBit|yid)
  Fifo<StreamState*> sendlist_;
  // (deadline, yamux id) of streams negotiating their protocol, in creation order (constant
  // timeout, so the front is the earliest); entries of streams done meanwhile are skipped.
  Fifo<std::pair<uint64_t, uint32_t>> negotiating_;
  std::vector<StreamState*> written_dirty_;
};

}  // namespace l2n::io
