/** Limits and defaults of the native TCP transport (each with where its value comes from). */
import { DEFAULT_WRITE_HIGH_WATER_MARK } from '../../core/stream.ts'

/** I/O threads when neither the option nor LIBP2P_NATIVE_THREADS says otherwise (issue: default one). */
export const DEFAULT_IO_THREADS = 1
/** send() returns false above this many unwritten bytes (src/core/stream.ts: 4 MiB). */
export const WRITE_HIGH_WATER_MARK = DEFAULT_WRITE_HIGH_WATER_MARK
/**
 * 'drain' fires once unwritten bytes fall to this: a quarter of the high-water mark, so a writer
 * that resumes at drain refills 3 MiB before blocking again (few drain cycles per MiB) while the
 * native side still holds 1 MiB to encrypt (one output buffer, kMaxOutputBuffer).
 */
export const WRITE_LOW_WATER_MARK = WRITE_HIGH_WATER_MARK / 4
/** Yamux per-stream receive window ceiling (design: 16 MiB, BDP of 10 Gbit/s at 13 ms). */
export const DEFAULT_MAX_STREAM_WINDOW = 16 * 1024 * 1024
/**
 * Inbound streams a connection holds while it has no 'stream' listener (a remote such as
 * js-libp2p's identify opens one the moment its side is up, before our dial() has resolved):
 * Yamux's max_pending_inbound (native/include/l2n/yamux.h, 256), the number of streams a remote
 * may already keep waiting on us one layer down. Streams beyond it are reset.
 */
export const MAX_UNCLAIMED_INBOUND_STREAMS = 256
/** Graceful connection close waits this long for open streams to finish before closing anyway. */
export const CLOSE_TIMEOUT_MS = 5000
export const YAMUX = '/yamux/1.0.0'
export const NOISE = '/noise'
