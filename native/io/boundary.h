// What crosses between the JS thread and the I/O threads, as plain structs (no napi here: the
// binding converts). JS -> native: Command, one vector per submit() call, routed per thread.
// native -> JS: Record, 8 x u32 each, appended to a thread's outbox and drained in one callback.
// The numeric values are mirrored in src/native/protocol.ts; keep both in step.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace l2n::io {

struct Slab;

// ---- commands (JS -> native). Word layout in the submit() Uint32Array: 8 words per command:
//      [op, conn, stream, a, b, c, d, e]; buffers by index into the submit() buffer list.
enum class Op : uint32_t {
  kListen = 1,         // conn=listen id, a=buf(host utf8), b=port, c=backlog
  kCloseListener = 2,  // conn=listen id
  kDial = 3,           // conn=new conn id (< 2^31), a=buf(host), b=port, c=buf(expected peer id multihash) or kNoBuf
  kOpenStream = 4,     // conn, stream=new handle (< 2^31), a=buf(protocols, '\n'-separated)
  kSend = 5,           // conn, stream, a=buf(data): transferred until an kWritten record covers it
  kCloseWrite = 6,     // conn, stream
  kReset = 7,          // conn, stream
  kPause = 8,          // conn, stream: stop granting window
  kResume = 9,         // conn, stream
  kCloseConn = 10,     // conn, a=1 graceful (go-away, flush), 0 abort
  kReleaseConn = 11,   // conn: JS has read its final counters; the counter slot may be reused
  kSetProtocols = 12,  // a=buf(protocols, '\n'-separated): the inbound protocol table
  kQuicListen = 13,    // as kListen, over UDP/QUIC (native/io/quic_io.h); c unused
  kQuicDial = 14,      // as kDial, over UDP/QUIC
  kAdopt = 100,        // internal: an accepted fd handed to another thread (a=fd, b=listen id)
};
inline constexpr uint32_t kNoBuf = 0xffffffffu;

// The '\n'-separated protocol lists of kOpenStream, kSetProtocols and the dial commands, as a
// vector (empty lines skipped).
inline std::vector<std::string> split_protocol_list(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    if (nl == std::string::npos) nl = s.size();
    if (nl > start) out.emplace_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}
inline constexpr uint32_t kCommandWords = 8;

struct Command {
  Command() = default;
  explicit Command(Op o) : op(o) {}
  Op op = Op::kListen;
  uint32_t conn = 0, stream = 0, a = 0, b = 0, c = 0;
  const uint8_t* data = nullptr;  // kSend: the JS buffer's bytes (transferred, not copied)
  uint32_t len = 0;
  std::string text;               // host, protocol lists, expected peer id (copied: small)
  std::string text2;
};

// ---- records (native -> JS): [type, conn, stream, a, b, c, blobOffset, blobLength]
enum class Ev : uint32_t {
  kListening = 1,       // conn=listen id, a=port, b=family; blob=host
  kListenFailed = 2,    // conn=listen id, a=code
  kListenerClosed = 3,  // conn=listen id
  kConnOpen = 4,        // conn, a=slot, b=direction (0 inbound, 1 outbound), c=listen id (inbound);
                        // blob = peer id multihash | remote host | local host (each u16be length-prefixed)
                        //        then u16be remote port, u16be local port, u8 family, u8 early-muxer
  kConnFailed = 5,      // conn (dial id or inbound id), a=code, c=listen id (inbound) ; blob=remote peer id if known
  kConnClosed = 6,      // conn, a=code
  kStreamInbound = 7,   // conn, stream=handle, a=protocol index; blob=protocol
  kStreamOpened = 8,    // conn, stream=handle, a=protocol index; blob=protocol
  kStreamOpenFailed = 9,// conn, stream, a=code
  kData = 10,           // conn, stream, a=slab id, b=offset, c=length
  kRemoteFin = 11,      // conn, stream
  kRemoteReset = 12,    // conn, stream, a=code: native holds no buffer of this stream any more
  kWritten = 13,        // conn, stream, a=bytes of JS buffers now encrypted (JS may release them)
  kWriteClosed = 14,    // conn, stream: FIN handed to the transport
  kStreamReleased = 15, // conn, stream: native forgot the stream (and holds none of its buffers)
  kSlab = 16,           // a=slab id: the next ArrayBuffer in the batch's slab list
  kSlabRetired = 17,    // a=slab id: no later record names it; JS may drop its map entry
  kLog = 18,            // conn (0: none), a=component, b=level (io/log.h), c=error code (0: none); blob=message
  kLogDropped = 19,     // a=log lines dropped by this thread since its last batch (kMaxLogBytesPerBatch)
};

struct Record {
  uint32_t type, conn, stream, a, b, c, blob_off, blob_len;
};
static_assert(sizeof(Record) == 32);

// A batch of records as one thread produces it during a loop iteration; merged into the thread's
// outbox under its lock once per iteration.
struct Batch {
  std::vector<Record> records;
  std::vector<uint8_t> blob;
  std::vector<Slab*> slabs;  // one per kSlab record, in order; each carries a JS reference
  void clear() { records.clear(); blob.clear(); slabs.clear(); }
  bool empty() const { return records.empty(); }
  Record& add(Ev t, uint32_t conn, uint32_t stream = 0, uint32_t a = 0, uint32_t b = 0, uint32_t c = 0) {
    records.push_back(Record{static_cast<uint32_t>(t), conn, stream, a, b, c, 0, 0});
    return records.back();
  }
  void attach(Record& r, const void* p, size_t n) {
    r.blob_off = static_cast<uint32_t>(blob.size());
    r.blob_len = static_cast<uint32_t>(n);
    blob.insert(blob.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
  }
};

}  // namespace l2n::io
