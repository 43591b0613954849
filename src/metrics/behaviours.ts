/**
 * Per-behaviour recorders for ping, identify and request-response (issue 3, item 7), like
 * rust-libp2p's `misc/metrics/src/{ping,identify}.rs`: each takes its behaviour's events (routed
 * by `Metrics` in src/metrics/index.ts from the Swarm's `behaviour` events) and never touches a
 * stream. Labels are closed sets: outcomes from `errorOutcome`, the event kinds below, and the
 * request-response member name (a key of the code's `combine({...})`). No peer ids.
 */
import { Counter, Histogram, type Registry, type RegistryContentType } from 'prom-client'
import { StreamUpgradeError } from '../core/handler.ts'
import type { PingEvent } from '../protocols/ping/behaviour.ts'
import type { IdentifyEvent } from '../protocols/identify/behaviour.ts'
import type { RequestResponseEvent } from '../protocols/request-response/behaviour.ts'

/**
 * Ping RTTs: 0.1 ms (loopback, same host) to 20 s (ping's timeout, src/protocols/ping): LAN, one
 * continent (~20-80 ms), across the world (~150-300 ms) and congested links each get buckets.
 */
export const PING_RTT_BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20]
/** Request handling times: 0.1 ms (in-process handler) to 10 s (request-response's default timeout). */
export const REQUEST_DURATION_BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
/**
 * Inbound requests whose start time is kept until their `responseSent`/`inboundFailure`. The
 * behaviour bounds concurrent inbound requests per connection (DEFAULT_MAX_CONCURRENT_INBOUND);
 * beyond this many across all connections a request is still counted, just not timed.
 */
export const MAX_TIMED_INBOUND_REQUESTS = 65_536

/** The closed set of failure outcomes. */
export type ErrorOutcome = 'timeout' | 'closed' | 'unsupported' | 'limit' | 'protocol' | 'error'

/** Maps an error from a behaviour event to an outcome label. */
export function errorOutcome (error: Error): ErrorOutcome {
  if (error instanceof StreamUpgradeError) {
    switch (error.kind) {
      case 'timeout': return 'timeout'
      case 'unsupported': return 'unsupported'
      case 'closed': return 'closed'
      case 'io': return 'error'
    }
  }
  const code = (error as { code?: unknown }).code
  switch (code) {
    case 'ERR_TIMEOUT': return 'timeout'
    case 'ERR_CONNECTION_CLOSED': case 'ERR_STREAM_CLOSED': case 'ERR_STREAM_RESET': return 'closed'
    case 'ERR_UNSUPPORTED_PROTOCOL': return 'unsupported'
    case 'ERR_LIMIT_EXCEEDED': return 'limit'
  }
  if (typeof code === 'string' && (code === 'ERR_PROTOCOL_VIOLATION' || code.startsWith('ERR_MSS_'))) return 'protocol'
  return 'error'
}

export interface RecorderOptions {
  /** The caller's registry (never the global one); Prometheus or OpenMetrics content type. */
  registry: Registry<RegistryContentType>
  /** Metric name prefix; defaults: `libp2p_ping`, `libp2p_identify`, `libp2p_request_response`. */
  prefix?: string
}

export class PingMetrics {
  private readonly rtt: Histogram
  private readonly failures: Counter<'outcome'>

  constructor (options: RecorderOptions) {
    const p = options.prefix ?? 'libp2p_ping'
    const registers = [options.registry]
    this.rtt = new Histogram({ name: `${p}_rtt_seconds`, help: 'Ping round-trip times', buckets: PING_RTT_BUCKETS, registers })
    this.failures = new Counter({ name: `${p}_failures_total`, help: 'Pings that failed, by outcome (timeout, closed, unsupported: the remote does not speak ping, ...)', labelNames: ['outcome'], registers })
  }

  onEvent (e: PingEvent): void {
    const r = e.result
    if (r.type === 'success') this.rtt.observe(r.rttMs / 1000)
    else if (r.type === 'unsupported') this.failures.inc({ outcome: 'unsupported' })
    else this.failures.inc({ outcome: errorOutcome(r.error) })
  }
}

/** Identify event kinds, as label values. */
const IDENTIFY_KIND: Record<IdentifyEvent['type'], string> = {
  received: 'received',
  pushReceived: 'push_received',
  sent: 'sent',
  pushed: 'pushed',
  error: 'error'
}

export class IdentifyMetrics {
  private readonly exchanges: Counter<'kind'>
  private readonly errors: Counter<'outcome'>
  private readonly protocols: Histogram

  constructor (options: RecorderOptions) {
    const p = options.prefix ?? 'libp2p_identify'
    const registers = [options.registry]
    this.exchanges = new Counter({ name: `${p}_exchanges_total`, help: 'Identify exchanges by kind: received (we identified a peer), push_received, sent (we answered), pushed, error', labelNames: ['kind'], registers })
    this.errors = new Counter({ name: `${p}_errors_total`, help: 'Identify exchanges that failed, by outcome', labelNames: ['outcome'], registers })
    // rust-libp2p's identify metrics record the remote's protocol count too.
    this.protocols = new Histogram({ name: `${p}_remote_protocols`, help: 'Protocols a remote listed in its identify message', buckets: [1, 2, 4, 8, 16, 32, 64, 128], registers })
  }

  onEvent (e: IdentifyEvent): void {
    this.exchanges.inc({ kind: IDENTIFY_KIND[e.type] })
    if (e.type === 'error') this.errors.inc({ outcome: errorOutcome(e.error) })
    else if (e.type === 'received' || e.type === 'pushReceived') this.protocols.observe(e.info.protocols.length)
  }
}

/**
 * One recorder for every request-response member: the `behaviour` label is the member's name.
 * Outcomes of both directions are counted; the inbound duration is the time from the `request`
 * event to `responseSent` (our handling time, as the remote sees it minus the network); the
 * outbound duration is the events' own `durationMs` (`sendRequest` to `response` or
 * `outboundFailure` on the Swarm's clock, dialing included), by outcome.
 */
export class RequestResponseMetrics {
  private readonly outcomes: Counter<'behaviour' | 'direction' | 'outcome'>
  private readonly inboundDuration: Histogram<'behaviour' | 'outcome'>
  private readonly outboundDuration: Histogram<'behaviour' | 'outcome'>
  private readonly started = new Map<string, number>()
  private readonly clock: () => number

  constructor (options: RecorderOptions & { clock?: () => number }) {
    const p = options.prefix ?? 'libp2p_request_response'
    const registers = [options.registry]
    this.clock = options.clock ?? (() => performance.now())
    this.outcomes = new Counter({ name: `${p}_requests_total`, help: 'Requests finished, by behaviour, direction (inbound, outbound) and outcome (ok or failure cause)', labelNames: ['behaviour', 'direction', 'outcome'], registers })
    this.inboundDuration = new Histogram({ name: `${p}_inbound_duration_seconds`, help: 'Inbound request received to response sent (or failed)', labelNames: ['behaviour', 'outcome'], buckets: REQUEST_DURATION_BUCKETS, registers })
    this.outboundDuration = new Histogram({ name: `${p}_outbound_duration_seconds`, help: 'Outbound request sent (sendRequest) to response or failure, dialing included', labelNames: ['behaviour', 'outcome'], buckets: REQUEST_DURATION_BUCKETS, registers })
  }

  onEvent (behaviour: string, e: RequestResponseEvent<unknown, unknown>): void {
    switch (e.type) {
      case 'request':
        if (this.started.size < MAX_TIMED_INBOUND_REQUESTS) this.started.set(`${behaviour}\0${e.requestId}`, this.clock())
        return
      case 'response': this.outbound(behaviour, 'ok', e.durationMs); return
      case 'outboundFailure': this.outbound(behaviour, errorOutcome(e.error), e.durationMs); return
      case 'responseSent': this.inbound(behaviour, e.requestId, 'ok'); return
      case 'inboundFailure': this.inbound(behaviour, e.requestId, errorOutcome(e.error))
    }
  }

  private outbound (behaviour: string, outcome: ErrorOutcome | 'ok', durationMs: number): void {
    this.outcomes.inc({ behaviour, direction: 'outbound', outcome })
    // A finite, non-negative figure only (an event built by hand may carry anything).
    if (Number.isFinite(durationMs) && durationMs >= 0) this.outboundDuration.observe({ behaviour, outcome }, durationMs / 1000)
  }

  private inbound (behaviour: string, requestId: number | undefined, outcome: string): void {
    this.outcomes.inc({ behaviour, direction: 'inbound', outcome })
    if (requestId === undefined) return
    const key = `${behaviour}\0${requestId}`
    const start = this.started.get(key)
    if (start === undefined) return
    this.started.delete(key)
    this.inboundDuration.observe({ behaviour, outcome }, Math.max(0, this.clock() - start) / 1000)
  }
}
