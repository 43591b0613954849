/**
 * Defaults of the native QUIC transport, each with where its value comes from. The native engine
 * has the same defaults (native/include/l2n/quic.h, `Config`/`EndpointConfig`); they are repeated
 * here so that TypeScript users can read them, and passed explicitly only when the user sets one.
 */
import { DEFAULT_WRITE_HIGH_WATER_MARK } from '../../core/stream.ts'

/** I/O threads when neither the option nor LIBP2P_NATIVE_THREADS says otherwise (as TCP: one). */
export const DEFAULT_IO_THREADS = 1
/** Handshake deadline: rust-libp2p's 5 s, 15 times RFC 9002's 333 ms initial RTT (several lost flights fit). */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5_000
/** Idle timeout advertised to the peer (rust-libp2p: 10 s); the effective one is the smaller of both sides'. */
export const DEFAULT_IDLE_TIMEOUT_MS = 10_000
/** PING after this much silence: half the idle timeout, so one lost keep-alive is survivable; 0 disables. */
export const DEFAULT_KEEP_ALIVE_MS = 5_000
/** Bidirectional streams the peer may have open towards us at once (rust-libp2p: 256). */
export const DEFAULT_MAX_STREAMS = 256
/** Per-stream receive window at start: 1 MiB, about one RTT of 1 Gbit/s at 8 ms before auto-tuning. */
export const DEFAULT_INITIAL_STREAM_WINDOW = 1 << 20
/** Per-stream window ceiling: 16 MiB = 1.25 GB/s * 13 ms (Yamux's max_stream_window, same bound). */
export const DEFAULT_MAX_STREAM_WINDOW = 16 << 20
/** Connection window at start: 1.5 stream windows, so one full stream leaves room for others. */
export const DEFAULT_INITIAL_CONNECTION_WINDOW = 3 << 19
/** Connection window ceiling: 1.5 x 16 MiB; it bounds what a peer can make us buffer per connection. */
export const DEFAULT_MAX_CONNECTION_WINDOW = 24 << 20
/**
 * send() returns false above this many unacknowledged bytes (src/core/stream.ts: 4 MiB). For QUIC a
 * buffer is released when the peer ACKs it, so this also bounds what one stream keeps for retransmission.
 */
export const WRITE_HIGH_WATER_MARK = DEFAULT_WRITE_HIGH_WATER_MARK
/**
 * Inbound streams a connection holds while it has no 'stream' listener (a remote may open one the
 * moment its side is up, before our dial() resolved): the peer's stream limit we grant,
 * DEFAULT_MAX_STREAMS (256), so it can never have more waiting. Beyond it streams are reset.
 */
export const MAX_UNCLAIMED_INBOUND_STREAMS = DEFAULT_MAX_STREAMS
/** Graceful connection close waits this long for open streams to finish (as TCP). */
export const CLOSE_TIMEOUT_MS = 5000
/** What Connection.encryption / .muxer report: the libp2p TLS handshake inside QUIC, QUIC's own streams. */
export const QUIC_ENCRYPTION = '/tls/1.0.0'
export const QUIC_MUXER = '/quic-v1'
/** Bounds on numeric options: a window above 1 GiB or a timeout above an hour is a mistake. */
export const MAX_WINDOW = 1 << 30
export const MAX_TIMEOUT_MS = 3_600_000
