/**
 * A memory-based connection limit as a behaviour (rust-libp2p's `memory-connection-limits`):
 * new connections (pending inbound and outbound) are denied while the process uses more than a
 * threshold — resident set size in bytes, or V8 heap use as a fraction of the heap limit.
 * Existing connections are not touched.
 *
 * Sampling `process.memoryUsage()` costs a few microseconds, so it is refreshed at most every
 * `MEMORY_SAMPLE_INTERVAL_MS` (rust-libp2p refreshes its sample every 100 ms for the same reason).
 */
import { getHeapStatistics } from 'node:v8'
import { performance } from 'node:perf_hooks'
import {
  ConnectionDenied,
  type EstablishedInboundInfo, type EstablishedOutboundInfo, type NetworkBehaviour, type PendingInboundInfo, type PendingOutboundInfo
} from '../behaviour.ts'
import { DummyHandler } from '../handler.ts'
import { InvalidArgumentError, LimitExceededError } from '../errors.ts'

/** How often memory is sampled at most (ms); rust-libp2p's memory-connection-limits uses 100 ms. */
export const MEMORY_SAMPLE_INTERVAL_MS = 100

export interface MemoryLimitsConfig {
  /** Deny new connections above this resident set size (bytes). */
  maxRssBytes?: number
  /** Deny new connections above this fraction (0..1] of V8's heap size limit. */
  maxHeapFraction?: number
  /** For tests: returns { rss, heapUsed, heapLimit } in bytes. */
  sample?: () => MemorySample
  /** For tests: monotonic ms. */
  clock?: () => number
}

export interface MemorySample { rss: number, heapUsed: number, heapLimit: number }

export class MemoryLimitExceededError extends LimitExceededError {
  constructor (what: string, value: number, max: number) {
    super(`memoryLimits.${what}`, `${value} exceeds ${max}`)
  }
}

function defaultSample (): MemorySample {
  const m = process.memoryUsage()
  return { rss: m.rss, heapUsed: m.heapUsed, heapLimit: getHeapStatistics().heap_size_limit }
}

export class MemoryLimits implements NetworkBehaviour<never, DummyHandler> {
  private readonly config: MemoryLimitsConfig
  private readonly sampleFn: () => MemorySample
  private readonly clock: () => number
  private last: MemorySample | undefined
  private lastAt = -Infinity

  constructor (config: MemoryLimitsConfig) {
    if (config.maxRssBytes === undefined && config.maxHeapFraction === undefined) {
      throw new InvalidArgumentError('MemoryLimits needs maxRssBytes or maxHeapFraction')
    }
    if (config.maxHeapFraction !== undefined && !(config.maxHeapFraction > 0 && config.maxHeapFraction <= 1)) {
      throw new InvalidArgumentError('maxHeapFraction must be in (0, 1]')
    }
    this.config = config
    this.sampleFn = config.sample ?? defaultSample
    this.clock = config.clock ?? (() => performance.now())
  }

  private current (): MemorySample {
    const now = this.clock()
    if (this.last === undefined || now - this.lastAt >= MEMORY_SAMPLE_INTERVAL_MS) {
      this.last = this.sampleFn()
      this.lastAt = now
    }
    return this.last
  }

  private check (): ConnectionDenied | undefined {
    const s = this.current()
    const { maxRssBytes, maxHeapFraction } = this.config
    let err: MemoryLimitExceededError | undefined
    if (maxRssBytes !== undefined && s.rss > maxRssBytes) err = new MemoryLimitExceededError('maxRssBytes', s.rss, maxRssBytes)
    else if (maxHeapFraction !== undefined && s.heapUsed > maxHeapFraction * s.heapLimit) {
      err = new MemoryLimitExceededError('maxHeapFraction', s.heapUsed, Math.floor(maxHeapFraction * s.heapLimit))
    }
    return err === undefined ? undefined : new ConnectionDenied('memory-limits', err.message, { cause: err })
  }

  handlePendingInboundConnection (_info: PendingInboundInfo): ConnectionDenied | undefined {
    return this.check()
  }

  handleEstablishedInboundConnection (_info: EstablishedInboundInfo): DummyHandler {
    return new DummyHandler()
  }

  handlePendingOutboundConnection (_info: PendingOutboundInfo): ConnectionDenied | undefined {
    return this.check()
  }

  handleEstablishedOutboundConnection (_info: EstablishedOutboundInfo): DummyHandler {
    return new DummyHandler()
  }

  onSwarmEvent (): void {}
  onConnectionHandlerEvent (): void {}
  poll (): undefined { return undefined }
}
