// Native log lines, delivered through the TypeScript logger (src/log) as kLog records.
//
// JS tells native the enabled level of each native component (Host::set_log_level, at host creation
// and whenever the LIBP2P_LOG filter changes). L2N_LOG reads that level from an atomic first: when
// the line is off it costs one relaxed load and a compare (no formatting, no allocation; the
// arguments are not even evaluated). When on, the line is formatted into a bounded stack buffer and
// appended to the I/O thread's batch, so it crosses to JS with the other records of the iteration.
// Log lines belong to connection-level events (upgrade, close, protocol violations, listener and
// handshake failures), never to per-frame work.
//
// The component and level numbers are mirrored in src/native/protocol.ts (NativeLogComponents,
// NativeLogLevel; test/native/protocol.test.ts compares).
#pragma once
#include <cstdint>

namespace l2n::io {

// A small closed set: one component per native layer. JS names them `native:<name>`.
enum class LogComponent : uint32_t {
  kIo = 0,     // native:io    the I/O threads themselves (dropped lines, accept errors)
  kTcp = 1,    // native:tcp   TCP connections and listeners
  kNoise = 2,  // native:noise Noise handshakes and transport messages
  kYamux = 3,  // native:yamux Yamux sessions and multistream-select
  kQuic = 4,   // native:quic  QUIC endpoints and connections
};
inline constexpr uint32_t kLogComponents = 5;

// Levels use src/log's ranks: a line is on when its level <= the component's enabled level.
enum class LogLevel : uint32_t {
  kOff = 0,
  kError = 1,
  kWarn = 2,
  kInfo = 3,
  kDebug = 4,
  kTrace = 5,
};

// One formatted line, truncated beyond this (stack buffer in IoThread::log): a line carries an
// event and a few numbers, 256 bytes is several times the longest message written here.
inline constexpr uint32_t kMaxLogLine = 256;
// Log bytes (message text) one thread hands to JS per published batch; lines beyond it are counted
// and reported as one kLogDropped record. 16 KiB = 64 maximal lines: a burst of connection closes
// at debug level still arrives whole, while a storm (thousands of failing handshakes per loop
// iteration at trace) cannot make the batch, and JS's work per wake-up, grow without bound.
inline constexpr uint32_t kMaxLogBytesPerBatch = 16 * 1024;

}  // namespace l2n::io

// L2N_LOG(thread, LogComponent, LogLevel, conn id or 0, error code or 0, printf format, args...)
// `thread` is the IoThread& whose batch takes the line (the caller's own thread). The format
// arguments are evaluated only when the line is on.
#define L2N_LOG(thread, comp, lvl, conn, code, ...)                              \
  do {                                                                           \
    if ((thread).log_enabled((comp), (lvl))) (thread).log((comp), (lvl), (conn), (code), __VA_ARGS__); \
  } while (0)
