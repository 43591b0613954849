/**
 * Limits of the in-memory transport. It stands in for TCP+Noise+Yamux in tests, so its limits
 * mirror the native stack's defaults (docs/design/native-core.md) to make tests meet the same
 * bounds they will meet in production.
 */
import { DEFAULT_WRITE_HIGH_WATER_MARK } from '../../core/stream.ts'

/** Multiaddr protocol name of the transport (`/memory/<name>`, multicodec 0x0309 = 777). */
export const MEMORY_PROTOCOL = 'memory'

/** Open streams per connection, both directions together: Yamux `max_streams` default (1024). */
export const MAX_STREAMS_PER_CONNECTION = 1024

/** `send()` returns false at this many undelivered bytes: the shared Stream default (4 MiB). */
export const WRITE_HIGH_WATER_MARK = DEFAULT_WRITE_HIGH_WATER_MARK

/** 'drain' fires once undelivered bytes fall to half the high-water mark, as Node's streams do. */
export const WRITE_LOW_WATER_MARK_RATIO = 0.5

/**
 * A graceful `close()` waits this long for open streams to finish before resetting them. 5 s is
 * js-libp2p's default connection close timeout.
 */
export const CLOSE_TIMEOUT_MS = 5000
