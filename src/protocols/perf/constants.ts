/** The perf protocol (libp2p/specs perf/perf.md). */
export const PERF_PROTOCOL = '/perf/1.0.0'
/** The client's request: the download size as a big-endian uint64 (perf spec). */
export const PERF_HEADER_LENGTH = 8
/**
 * Size of the reusable send buffer. 256 KiB: large enough that one send() per buffer costs little
 * next to moving the bytes (the js-libp2p lesson: many tiny writes dominate), and it matches the
 * Yamux initial window, so one buffer fills a fresh stream's window in one call.
 */
export const PERF_SEND_BUFFER_SIZE = 256 * 1024
/** The client reports intermediary progress once per second (test-plans perf binary contract). */
export const PERF_PROGRESS_INTERVAL_MS = 1000
