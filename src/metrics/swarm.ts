/**
 * Swarm metrics (issue 3, item 7), in the manner of rust-libp2p's `misc/metrics/src/swarm.rs` and
 * prom-client: counters and histograms are fed from SwarmEvents (docs/design/swarm.md, "Metrics
 * seam"), never from the hot path; gauges and byte totals are read at scrape time (`collect`).
 * Labels take closed sets of values only: direction (inbound, outbound), transport name (the
 * transports the code configured), close and error causes (the fixed lists below) and protocol
 * ids (the protocols this node speaks, capped by MAX_PROTOCOL_LABELS). No peer ids, no addresses.
 */
import { Counter, Gauge, Histogram, type Registry, type RegistryContentType } from 'prom-client'
import type { Endpoint } from '../core/behaviour.ts'
import { ConnectionDenied } from '../core/behaviour.ts'
import type { Connection, ConnectionCounters, Transport } from '../core/transport.ts'
import type { CloseCause, SwarmEvent } from '../core/swarm/events.ts'
import type { Swarm } from '../core/swarm/swarm.ts'

/** Where per-protocol byte totals come from: the native TCP transport's `protocolCounters()`. */
export interface ProtocolCounterSource {
  /** The transport name used as the `transport` label ('tcp'). */
  readonly name: string
  protocolCounters(): ReadonlyMap<string, { bytesIn: number, bytesOut: number }>
}

/**
 * A transport the Swarm builds from a factory is not reachable afterwards; `captureTransport`
 * (src/metrics/index.ts) hands one back. Either form is accepted; anything without
 * `protocolCounters()` is skipped at scrape time.
 */
export type ProtocolCounterInput = ProtocolCounterSource | Transport | { readonly transport: Transport | undefined }

export interface SwarmMetricsOptions {
  /** The caller's registry (never the global one); Prometheus or OpenMetrics content type. */
  registry: Registry<RegistryContentType>
  /** Metric name prefix; default `libp2p_swarm`. */
  prefix?: string
  /** Transports whose native per-protocol counters feed `<prefix>_protocol_bytes_total`. */
  protocolCounters?: readonly ProtocolCounterInput[]
}

/**
 * Upgrade (security + muxer) and dial durations: 1 ms (loopback Noise + Yamux, ~0.3 ms of CPU
 * plus a round trip) to 30 s (beyond the default 10 s dial timeout, to see timeouts land).
 */
export const CONNECTION_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

/**
 * Protocol ids kept as label values; later ones are summed under `other`. The native core keeps at
 * most this order of protocol slots (src/native: `maxProtocols`), and a node speaks a handful.
 */
export const MAX_PROTOCOL_LABELS = 64

/** The closed set of dial and incoming-connection error causes. */
export type ConnectionErrorCause =
  | 'denied' | 'peer_id_mismatch' | 'no_addresses' | 'no_transport' | 'dial_condition' | 'refused'
  | 'timeout' | 'aborted' | 'handshake' | 'limit' | 'closed' | 'transport'

/** Maps an error to its cause label; an AllAddressesFailedError takes the first address's cause. */
export function connectionErrorCause (error: Error, addressErrors: ReadonlyArray<{ error: Error }> = []): ConnectionErrorCause {
  if (error instanceof ConnectionDenied) return 'denied'
  const code = (error as { code?: unknown }).code
  switch (code) {
    case 'ERR_ALL_ADDRESSES_FAILED': {
      const first = addressErrors[0]?.error ?? (error.cause instanceof Error ? error.cause : undefined)
      return first === undefined ? 'transport' : connectionErrorCause(first)
    }
    case 'ERR_PEER_ID_MISMATCH': return 'peer_id_mismatch'
    case 'ERR_NO_ADDRESSES': return 'no_addresses'
    case 'ERR_NO_TRANSPORT': return 'no_transport'
    case 'ERR_DIAL_CONDITION': return 'dial_condition'
    case 'ERR_CONNECTION_REFUSED': return 'refused'
    case 'ERR_TIMEOUT': return 'timeout'
    case 'ERR_ABORTED': return 'aborted'
    case 'ERR_LIMIT_EXCEEDED': return 'limit'
    case 'ERR_CONNECTION_CLOSED': return 'closed'
  }
  if (typeof code === 'string' && (code === 'ERR_HANDSHAKE' || code.startsWith('ERR_NOISE_') || code.startsWith('ERR_TLS'))) return 'handshake'
  return 'transport'
}

/**
 * The Swarm's own closed set: `idle`, `local`, `shutdown`, `remote`. A remote close is not split
 * by its error: transports report even a graceful remote close with one (tcp: "connection closed
 * by the remote"), so the split would not separate failures from goodbyes.
 */
export function closeCauseLabel (cause: CloseCause): CloseCause['type'] {
  return cause.type
}

function directionOf (endpoint: Endpoint): 'inbound' | 'outbound' {
  return endpoint.role === 'dialer' ? 'outbound' : 'inbound'
}

interface Tracked { connection: Connection, transport: string, direction: 'inbound' | 'outbound' }
type Totals = Pick<ConnectionCounters, 'bytesIn' | 'bytesOut'>

/** What the connection gauges read at scrape time. */
export interface ConnectionView {
  /** Established connections now. */
  connections(): Iterable<{ direction: 'inbound' | 'outbound', transport: string }>
  /** Dials in progress now (0 for a node that never dials). */
  pendingDials(): number
  /** Bound listen addresses now. */
  listenAddresses(): number
}

/**
 * The connection-level figures, fed by calls from an event source: `SwarmMetrics` (below) calls
 * them from SwarmEvents; a node without a Swarm (the perf server's bare connections, src/cli/perf.ts)
 * calls them from its listener's and connections' events. Metric names are the same in both, so
 * one dashboard serves both.
 */
export class ConnectionMetrics {
  private readonly openedCounter: Counter<'direction' | 'transport'>
  private readonly closedCounter: Counter<'direction' | 'transport' | 'cause'>
  private readonly dials: Counter
  private readonly dialErrors: Counter<'cause'>
  private readonly incomingErrors: Counter<'cause'>
  private readonly upgradeDuration: Histogram<'direction' | 'transport'>
  private readonly dialDuration: Histogram<'transport'>
  /** Live connections (opened → closed), for byte totals at scrape time. */
  private readonly live = new Map<unknown, Tracked>()
  /** Bytes of connections already closed, per transport: the byte counters stay monotonic. */
  private readonly closedBytes = new Map<string, Totals>()

  constructor (view: ConnectionView, options: SwarmMetricsOptions) {
    const p = options.prefix ?? 'libp2p_swarm'
    const registers = [options.registry]
    const live = this.live
    const closedBytes = this.closedBytes
    const sources = options.protocolCounters ?? []
    this.openedCounter = new Counter({ name: `${p}_connections_opened_total`, help: 'Connections established, by direction and transport', labelNames: ['direction', 'transport'], registers })
    this.closedCounter = new Counter({ name: `${p}_connections_closed_total`, help: 'Connections closed, by direction, transport and cause (idle, local, shutdown, remote)', labelNames: ['direction', 'transport', 'cause'], registers })
    this.dials = new Counter({ name: `${p}_dials_total`, help: 'Dials started (one per dial, whatever its number of addresses)', registers })
    this.dialErrors = new Counter({ name: `${p}_dial_errors_total`, help: 'Outgoing connections that failed, by cause', labelNames: ['cause'], registers })
    this.incomingErrors = new Counter({ name: `${p}_incoming_connection_errors_total`, help: 'Incoming connections that failed or were denied, by cause', labelNames: ['cause'], registers })
    this.upgradeDuration = new Histogram({ name: `${p}_connection_upgrade_duration_seconds`, help: 'Transport connection to security and muxer ready (connection timeline)', labelNames: ['direction', 'transport'], buckets: CONNECTION_DURATION_BUCKETS, registers })
    this.dialDuration = new Histogram({ name: `${p}_dial_duration_seconds`, help: 'Dial start to established outbound connection, all addresses tried included', labelNames: ['transport'], buckets: CONNECTION_DURATION_BUCKETS, registers })
    new Gauge({
      name: `${p}_connections`,
      help: 'Established connections now, by direction and transport',
      labelNames: ['direction', 'transport'],
      registers,
      collect () {
        this.reset()
        const counts = new Map<string, { direction: string, transport: string, n: number }>()
        for (const { direction, transport } of view.connections()) {
          const key = `${direction}\0${transport}`
          const entry = counts.get(key)
          if (entry === undefined) counts.set(key, { direction, transport, n: 1 })
          else entry.n++
        }
        for (const { direction, transport, n } of counts.values()) this.set({ direction, transport }, n)
      }
    })
    new Gauge({ name: `${p}_pending_dials`, help: 'Dials in progress now', registers, collect () { this.set(view.pendingDials()) } })
    new Gauge({ name: `${p}_listen_addresses`, help: 'Bound listen addresses now', registers, collect () { this.set(view.listenAddresses()) } })
    new Counter({
      name: `${p}_transport_bytes_total`,
      help: 'Bytes received (in) and sent (out) on connections, by transport, from the transports\' per-connection counters (native memory for TCP)',
      labelNames: ['direction', 'transport'],
      registers,
      collect () {
        const totals = new Map<string, Totals>()
        for (const [transport, t] of closedBytes) totals.set(transport, { ...t })
        for (const { connection, transport } of live.values()) {
          const c = connection.counters()
          const t = totals.get(transport)
          if (t === undefined) totals.set(transport, { bytesIn: c.bytesIn, bytesOut: c.bytesOut })
          else { t.bytesIn += c.bytesIn; t.bytesOut += c.bytesOut }
        }
        this.reset()
        for (const [transport, t] of totals) {
          this.inc({ direction: 'in', transport }, t.bytesIn)
          this.inc({ direction: 'out', transport }, t.bytesOut)
        }
      }
    })
    if (sources.length > 0) {
      new Counter({
        name: `${p}_protocol_bytes_total`,
        help: 'Stream bytes received (in) and sent (out), by negotiated protocol and transport, from native per-protocol counters',
        labelNames: ['direction', 'protocol', 'transport'],
        registers,
        collect () {
          this.reset()
          for (const input of sources) {
            const source = resolveSource(input)
            if (source === undefined) continue
            let kept = 0
            const other = { bytesIn: 0, bytesOut: 0 }
            for (const [protocol, c] of source.protocolCounters()) {
              if (kept >= MAX_PROTOCOL_LABELS) { other.bytesIn += c.bytesIn; other.bytesOut += c.bytesOut; continue }
              kept++
              this.inc({ direction: 'in', protocol, transport: source.name }, c.bytesIn)
              this.inc({ direction: 'out', protocol, transport: source.name }, c.bytesOut)
            }
            if (kept >= MAX_PROTOCOL_LABELS) {
              this.inc({ direction: 'in', protocol: 'other', transport: source.name }, other.bytesIn)
              this.inc({ direction: 'out', protocol: 'other', transport: source.name }, other.bytesOut)
            }
          }
        }
      })
    }
  }

  /** A connection is up: counts it, times its upgrade (and its dial when `dialMs` is known). */
  opened (id: unknown, connection: Connection | undefined, direction: 'inbound' | 'outbound', transport: string, dialMs?: number): void {
    this.openedCounter.inc({ direction, transport })
    if (dialMs !== undefined) this.dialDuration.observe({ transport }, Math.max(0, dialMs) / 1000)
    // Undefined when the connection was already gone by the time its event was delivered.
    if (connection === undefined) return
    const { open, upgraded } = connection.timeline
    this.upgradeDuration.observe({ direction, transport }, Math.max(0, upgraded - open) / 1000)
    this.live.set(id, { connection, transport, direction })
  }

  /** Starts reading a connection's bytes without counting it as opened (it predates the recorder). */
  adopt (id: unknown, connection: Connection, direction: 'inbound' | 'outbound', transport: string): void {
    this.live.set(id, { connection, transport, direction })
  }

  /** A connection is gone: counts the close and keeps its final byte counts. */
  closed (id: unknown, direction: 'inbound' | 'outbound', cause: string, transport?: string): void {
    const tracked = this.live.get(id)
    this.closedCounter.inc({ direction, transport: tracked?.transport ?? transport ?? 'unknown', cause })
    if (tracked === undefined) return
    this.live.delete(id)
    // The transports keep a closed connection's final counters (tcp: finalCounters).
    const c = tracked.connection.counters()
    const t = this.closedBytes.get(tracked.transport)
    if (t === undefined) this.closedBytes.set(tracked.transport, { bytesIn: c.bytesIn, bytesOut: c.bytesOut })
    else { t.bytesIn += c.bytesIn; t.bytesOut += c.bytesOut }
  }

  dialStarted (): void { this.dials.inc() }

  dialFailed (error: Error, addressErrors: ReadonlyArray<{ error: Error }> = []): void {
    this.dialErrors.inc({ cause: connectionErrorCause(error, addressErrors) })
  }

  incomingFailed (error: Error): void {
    this.incomingErrors.inc({ cause: connectionErrorCause(error) })
  }
}

/**
 * The Swarm recorder: ConnectionMetrics fed from SwarmEvents, its gauges read from the Swarm.
 * Built by `Metrics` (src/metrics/index.ts), which routes events to it; usable alone:
 * `const m = new SwarmMetrics(swarm, { registry }); swarm.on('*', e => m.onEvent(e))`.
 */
export class SwarmMetrics extends ConnectionMetrics {
  private readonly swarm: Swarm<any>

  constructor (swarm: Swarm<any>, options: SwarmMetricsOptions) {
    super({
      * connections () { for (const c of swarm.connections()) yield { direction: directionOf(c.endpoint), transport: c.transport } },
      pendingDials: () => swarm.numPendingDials,
      listenAddresses: () => swarm.listenAddresses().length
    }, options)
    this.swarm = swarm
    // Connections already established when the recorder is attached: their bytes count from here.
    for (const c of swarm.connections()) this.adopt(c.connectionId, c.connection, directionOf(c.endpoint), c.transport)
  }

  onEvent (e: SwarmEvent<unknown>): void {
    switch (e.type) {
      case 'connectionEstablished': {
        const info = this.swarm.connections(e.peerId).find(c => c.connectionId === e.connectionId)
        this.opened(e.connectionId, info?.connection, directionOf(e.endpoint), e.transport, e.establishedInMs)
        return
      }
      case 'connectionClosed': this.closed(e.connectionId, directionOf(e.endpoint), closeCauseLabel(e.cause)); return
      case 'dialing': this.dialStarted(); return
      case 'outgoingConnectionError': this.dialFailed(e.error, e.addressErrors); return
      case 'incomingConnectionError': this.incomingFailed(e.error)
    }
  }
}

function resolveSource (input: ProtocolCounterInput): ProtocolCounterSource | undefined {
  const candidate: unknown = 'protocolCounters' in input ? input : (input as { transport: Transport | undefined }).transport
  if (candidate === undefined || candidate === null) return undefined
  const s = candidate as Partial<ProtocolCounterSource>
  return typeof s.protocolCounters === 'function' && typeof s.name === 'string' ? s as ProtocolCounterSource : undefined
}
