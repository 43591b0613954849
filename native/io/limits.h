// Every bound of the I/O layer, with where its value comes from ("bound everything", rust-libp2p).
#pragma once
#include <cstddef>
#include <cstdint>

namespace l2n::io {

// ---- threads -----------------------------------------------------------------------------------
// Upper bound on I/O threads: connection ids carry the thread index in 6 bits (see ids below);
// far above the core counts this stack targets.
inline constexpr uint32_t kMaxThreads = 64;
// Connections one thread serves. Each costs a counter slot (kCountersPerConnection doubles) and,
// when busy, an output buffer; 16384 x 1 MiB worst case output is bounded separately below.
inline constexpr uint32_t kMaxConnectionsPerThread = 16384;
// Listeners per host: a node listens on a handful of addresses.
inline constexpr uint32_t kMaxListeners = 64;
// After waking the JS thread, an I/O thread polls (epoll_wait(0) + its inbox) this long before
// sleeping: a request/response exchange then skips a sleep and wake-up on each side
// (env LIBP2P_NATIVE_SPIN_US overrides; 0 disables). Costs at most this much CPU per batch sent to
// JS when nothing follows; bulk transfers never spin (they always have work).
inline constexpr uint64_t kDefaultSpinNs = 0;
// epoll_wait batch: events handled per wake-up before looking at commands again; 256 keeps one
// loop iteration short (fairness between sockets and the JS command inbox).
inline constexpr int kEpollBatch = 256;

// ---- receive path ------------------------------------------------------------------------------
// Slab size: received bytes are read and decrypted in place into slabs that JS then views without a
// copy. 1 MiB = 16 maximum Noise messages, so at most one partial message per 16 is carried over
// into the next slab, and one slab covers a full 1 MiB read (the largest read, below).
inline constexpr size_t kSlabSize = 1024 * 1024;
// A read starts only if the slab has room for at least one whole maximum Noise message
// (2-byte prefix + 65535), so a message never needs more than one carry-over copy.
inline constexpr size_t kMinReadSpace = 2 + 65535;
// Free slabs kept for reuse per host: 64 MiB. A receiver at full speed has 33-53 slabs waiting for
// V8's GC (docs/buffer-ownership.md), so a pool of 8 made it fault in fresh pages for most reads:
// with 64, receiver peak RSS was 15-25 MiB lower and page faults per GiB 32.6k -> 10.7k (perf
// bench, both transports); after a burst the pool holds no more than glibc kept anyway with 8.
// Beyond it a returned slab is freed.
inline constexpr size_t kSlabPoolMax = 64;
// Reads per readiness event before yielding to other sockets (fairness; each read is up to the
// slab's free space, so 4 reads move up to 4 MiB).
inline constexpr int kMaxReadsPerEvent = 4;
// Handshake-phase input needs no buffer of ours: unfinished messages stay in the slab (tail) and
// the engines buffer at most one line / one handshake message (their own bounds).

// ---- send path ---------------------------------------------------------------------------------
// Output buffer (ciphertext waiting for the socket) per connection. Sends are encrypted into it
// only while it holds less than this; 1 MiB keeps the kernel fed for one loop iteration at
// 10 Gbit/s (1.25 GB/s * ~0.8 ms) without letting one connection hold much memory.
inline constexpr size_t kMaxOutputBuffer = 1024 * 1024;
// The buffer may exceed kMaxOutputBuffer by one data frame (kMaxDataFrame plus its records'
// overhead) and the control frames of one loop iteration: it is checked before each frame.
// Initial output buffer; small so idle connections stay cheap; grows by doubling.
inline constexpr size_t kInitialOutputBuffer = 16 * 1024;
// Sends smaller than this are copied next to their Yamux header into one Noise message (one AEAD
// call for many small frames, as uWS.js's cork()); larger ones are encrypted straight from the JS
// buffer with the header sealed in the preceding message. 8 KiB: the copy costs less than a second
// AEAD call and a 16-byte tag below that size.
inline constexpr size_t kCopySendThreshold = 8 * 1024;
// Consecutive small sends of one stream are merged into one data frame of at most this size:
// half a Noise message, so the merged frame usually shares its message with the next one.
inline constexpr uint32_t kMaxCoalescedFrame = 32 * 1024;
// Largest Yamux data frame we emit: 256 KiB (the initial window), so a frame never waits on more
// window than a fresh stream has, and the 12-byte header is amortised over 4 Noise messages.
inline constexpr uint32_t kMaxDataFrame = 256 * 1024;
// What the output buffer becomes at once when a full kMaxDataFrame is encrypted into it (a bulk
// sender): the most one pump can leave in it, so it never grows (re-copying its contents) during
// a transfer. Smaller sends keep the doubling from kInitialOutputBuffer.
// Pumping stops once kMaxOutputBuffer is pending; the last frame adds up to kMaxDataFrame plus its
// Noise overhead (5 x 18 bytes), the open message before it (<= 65,537 + 16), the short-tail
// message after it and the loop's control frames: 4 x 64 KiB covers those.
inline constexpr size_t kBulkOutputBuffer = kMaxOutputBuffer + kMaxDataFrame + 4 * 64 * 1024;
// Writes: a write of exactly 64 KiB leaves a 53-byte tail segment on this loopback (MSS 65483)
// and halves throughput. Our writes are never sized that way: they carry whole Noise records
// (up to 65,537 bytes each, plus a 30-byte header record per 256 KiB frame) batched up to
// kMaxOutputBuffer, so a write is either small (latency path) or hundreds of KiB.

// ---- connection pipeline -----------------------------------------------------------------------
// Upgrade (multistream /noise + Noise XX + muxer) must finish in this time: a DoS bound on
// half-open connections; 10 s covers a slow RSA peer across the world.
inline constexpr uint64_t kHandshakeTimeoutNs = 10ull * 1000 * 1000 * 1000;
// A graceful close (go-away, flush) gives the peer this long to take our remaining output before
// the socket is closed anyway: a peer that stopped reading cannot keep the connection alive.
inline constexpr uint64_t kGracefulCloseTimeoutNs = 5ull * 1000 * 1000 * 1000;
// A stream must finish its multistream-select negotiation within this time or it is reset: with
// max_pending_inbound (256) it bounds what a peer can pin by opening streams and never proposing.
inline constexpr uint64_t kStreamNegotiationTimeoutNs = 10ull * 1000 * 1000 * 1000;
// Stream handles the JS side may hold open per connection, both directions (= yamux max_streams).
inline constexpr uint32_t kMaxStreamsPerConnection = 1024;
// Protocols in the inbound protocol table and in one open-stream proposal.
inline constexpr uint32_t kMaxProtocols = 256;
inline constexpr size_t kMaxProtocolLength = 1024;  // multistream kMaxMessageLength

// ---- JS boundary -------------------------------------------------------------------------------
// Commands queued for one I/O thread and not yet taken by it. JS submits once per tick; a tick
// with more than this many commands is a runaway producer, and the submit call fails with
// kTooManyPendingCommands rather than growing without bound.
inline constexpr size_t kMaxPendingCommands = 1 << 20;
// Event records a thread may hold in its outbox before it stops reading sockets until JS drains
// (backpressure from the JS thread to the sockets): 64 Ki records = 2 MiB of records.
inline constexpr size_t kMaxOutboxRecords = 64 * 1024;
// Receive slabs first named in the outbox (received data JS has not taken yet): at most this many
// before the thread stops reading sockets until JS drains. Records alone bound nothing useful here:
// 64 Ki data records can name 4 GiB. 32 MiB is what V8 already lets a receiver hold awaiting GC
// (docs/buffer-ownership.md) and 25+ ms of traffic at 10 Gbit/s: a JS thread that has not run for
// that long is not keeping up, and its sockets should push back (TCP) rather than fill memory.
inline constexpr size_t kMaxOutboxSlabs = 32;

// ---- counters ----------------------------------------------------------------------------------
// Per connection: bytes in/out (wire), frames in/out (Yamux), errors. Doubles, exact to 2^53.
inline constexpr uint32_t kCountersPerConnection = 8;
// Per protocol: bytes in/out (stream payload), streams opened, errors.
inline constexpr uint32_t kCountersPerProtocol = 4;

// ---- ids ---------------------------------------------------------------------------------------
// Connection ids: JS picks dial ids below 2^31; native picks inbound ids with the top bit set and
// the owning thread in the low 6 bits. Stream handles likewise: JS below 2^31 (outbound), native
// top bit set (inbound).
inline constexpr uint32_t kNativeIdBit = 0x80000000u;
inline constexpr uint32_t kThreadBits = 6;

}  // namespace l2n::io
