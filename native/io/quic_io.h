// QUIC on an I/O thread: the UDP sockets of this thread's QUIC endpoints (one per listener, one
// per address family for dials), their l2n::quic::Endpoint engines, and the translation between
// engine events and the JS boundary records (io/boundary.h) — the same records as TCP, so QUIC
// streams reach TypeScript through the same Stream type and batching.
//
// Mechanisms (msquic's split: this file is platform glue, the protocol is native/core/quic):
//   * receive: recvmmsg batches of kRecvBatch datagrams, at most kMaxRecvBatchesPerEvent per
//     wake-up before yielding to timers and commands (edge-triggered: a deferred endpoint is
//     re-read on the next iteration);
//   * send: the engine's GSO batches (Transmit) go out with one sendmmsg per flush, each batch as
//     one message with a UDP_SEGMENT control message when the kernel accepts it (probed once per
//     socket; EIO at send time, a device without checksum offload, turns it off for the socket),
//     otherwise one message per segment;
//   * timers: one loop timer per endpoint at the engine's next_deadline() (loss detection, ACK
//     delay, idle, keep-alive, handshake timeout, and pacing: the engine starts pacing after the
//     handshake with ngtcp2_conn_update_pkt_tx_time, so a paced connection simply returns an
//     empty Transmit and moves next_deadline() to its next send time);
//   * per-stream multistream-select with the native mss engines (one Dialer/Listener per stream);
//   * received stream data is copied once from the engine's lent buffer into the thread's slab
//     (the engine exposes decrypted data only during its callback), and contiguous pieces of one
//     stream in one slab become a single kData record per batch;
//   * sends are TRANSFERRED: a JS buffer is reported kWritten only when the peer acknowledged it
//     (kStreamAcked), since ngtcp2 may retransmit from it until then.
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "io/boundary.h"
#include "l2n/multistream.h"
#include "l2n/quic.h"

namespace l2n::io {

class IoThread;

// recvmmsg batch: 64 datagrams (as sendmmsg/GSO's 64 segments) is one full window burst of a
// 64 KiB GSO send from the peer per syscall.
inline constexpr size_t kQuicRecvBatch = 64;
// Receive buffer per datagram: larger than any QUIC packet we accept (kMaxUdpPayload 1452, and
// peers probing up to a 1500-byte Ethernet MTU). Truncated datagrams (MSG_TRUNC) are dropped.
inline constexpr size_t kQuicRecvBufferSize = 2048;
// With UDP GRO (Linux 5.0+, probed per socket) one receive returns a peer's whole GSO batch (up
// to 64 KiB of equal segments): 16 such buffers (1 MiB, as a TCP connection's output buffer) per
// recvmmsg, split into datagrams here. Without GRO the 64 x 2 KiB layout above is used.
inline constexpr size_t kQuicGroBatch = 16;
inline constexpr size_t kQuicGroBufferSize = 65536;
// Batches read per wake-up before timers and commands get their turn (64 * 8 = 512 datagrams,
// about 700 KiB: the same order as a TCP connection's kMaxReadsPerEvent * 64 KiB reads).
inline constexpr int kQuicMaxRecvBatchesPerEvent = 8;
// A receive batch whose handling took longer than this reads the socket again before its records
// are published, rather than leaving what arrived meanwhile to the next loop iteration. The case:
// a server's handshake flight takes 100-300 us (the client's certificate and CertificateVerify
// checks, bench/perf/setup-trace.ts), during which the client's first stream data arrives; read
// at once, the new connection and its first stream reach JS in one batch (one JS wake-up and one
// delivery instead of two). An empty recvmmsg costs ~1-2 us, small beside the batch it follows;
// ordinary batches (a few datagrams, under ~20 us) never pay it.
inline constexpr uint64_t kQuicRereadAfterNs = 50'000;
// GSO batches (Transmits) gathered per sendmmsg: 16 * 64 KiB = 1 MiB per flush, the size of one
// TCP connection's output buffer (kMaxOutputBuffer).
inline constexpr size_t kQuicSendBatch = 16;
// SO_RCVBUF / SO_SNDBUF requested (the kernel caps it at net.core.rmem_max/wmem_max): 4 MiB holds
// a 16 MiB-window burst's worth of datagrams for a few milliseconds of scheduling delay.
inline constexpr int kQuicSocketBuffer = 4 * 1024 * 1024;
// Stream opens waiting for the peer's stream credit (kStreamLimit): bounded per connection like
// Yamux's max_pending_inbound; more fail at once with kStreamRefused.
inline constexpr size_t kQuicMaxPendingOpens = 256;

class QuicIo {
 public:
  // Epoll and timer tags: bit 33 set, the endpoint index in the low 32 bits (TCP uses bit 32 for
  // listeners and plain connection ids below it).
  static constexpr uint64_t kTag = 1ull << 33;

  explicit QuicIo(IoThread& t);
  ~QuicIo();
  QuicIo(const QuicIo&) = delete;
  QuicIo& operator=(const QuicIo&) = delete;

  void listen(Command& cmd);               // Op::kQuicListen
  void dial(Command& cmd);                 // Op::kQuicDial
  bool close_listener(uint32_t listen_id); // false: not ours
  bool on_command(Command& cmd);           // connection/stream ops; false: not a QUIC connection
  void on_socket(uint64_t tag, uint32_t events);
  void on_timer(uint64_t tag, uint32_t gen);
  void flush();          // sends what dirty endpoints have to send, re-arms their timers
  bool busy() const { return !deferred_.empty(); }
  void resume_reads();   // endpoints whose reads were cut short (budget or full outbox)
  void shutdown();       // every connection closed with kShutdown, sockets closed

  struct Ep;
  struct Conn;
  struct Strm;

 private:
  friend struct Sink;
  Ep* new_endpoint(const std::string& host, uint16_t port, uint32_t listen_id, uint32_t& err_code);
  Ep* dial_endpoint(int family, uint32_t& err_code);
  void read(Ep& ep);
  void write(Ep& ep);
  bool send_pending(Ep& ep);
  void mark_dirty(Ep& ep);
  void arm(Ep& ep);
  void close_endpoint(Ep& ep);
  void on_event(Ep& ep, const quic::Event& ev);
  void on_handshake(Ep& ep, Conn& c, const quic::Event& ev);
  void on_conn_closed(Ep& ep, Conn& c, const quic::Event& ev);
  void on_stream_data(Conn& c, Strm& s, const uint8_t* data, size_t len, bool fin);
  void deliver(Conn& c, Strm& s, const uint8_t* data, size_t len);
  void send_owned(Conn& c, Strm& s, std::vector<uint8_t>&& bytes);
  Strm* new_stream(Conn& c, int64_t sid, uint32_t handle, bool outbound);
  void start_outbound(Conn& c, uint32_t handle, const std::string& protocols);
  void open_pending(Conn& c);
  void drop_stream(Conn& c, Strm& s);
  void kill_stream(Conn& c, Strm& s, Ev record, uint32_t code);
  quic::Connection* engine_conn(Conn& c);

  IoThread& th_;
  std::shared_ptr<const tls::Certificate> cert_;
  std::vector<std::unique_ptr<Ep>> eps_;  // index = tag low bits; nullptr once closed
  Ep* dial_ep_[2] = {nullptr, nullptr};   // IPv4, IPv6
  std::unordered_map<uint32_t, Conn*> conns_;  // by boundary id
  std::vector<Ep*> dirty_, flushing_, deferred_, resuming_;
  std::vector<uint8_t> scratch_;
};

}  // namespace l2n::io
