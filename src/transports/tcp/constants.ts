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
/** libp2p TLS 1.3 over TCP (libp2p/specs tls/tls.md). */
export const TLS = '/tls/1.0.0'
/** The security protocols by option name (TcpOptions.security). */
export const SECURITY_PROTOCOLS = { noise: NOISE, tls: TLS } as const
export type SecurityName = keyof typeof SECURITY_PROTOCOLS
/**
 * Default TcpOptions.security. A listener accepts both, so js-libp2p peers (which all run Noise;
 * TLS only when configured), go-libp2p (default [tls, noise]) and rust-libp2p peers connect.
 * A dialer proposes Noise first: every js-libp2p node speaks it, and it is our faster handshake
 * (no certificate checks); TLS second for peers configured TLS-only. Proposing two protocols costs
 * the dialer one round trip (it waits for the echo before its first handshake message, as
 * js-libp2p's and go-libp2p's dialers always do); `security: ['noise']` restores the one-write
 * optimistic dial.
 */
export const DEFAULT_SECURITY: readonly SecurityName[] = ['noise', 'tls']
