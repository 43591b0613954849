/**
 * Metrics for a Swarm (issue 3, item 7): prom-client on a registry the caller owns (never the
 * global one), fed only from SwarmEvents, gauges and byte totals computed at scrape time.
 *
 *   const registry = new Registry()
 *   const metrics = new Metrics(swarm, { registry })        // subscribes to the swarm
 *   const server = await serveMetrics(registry, { port: 9464 })  // GET /metrics, OpenMetrics
 *
 * `Metrics` finds the behaviours it knows in `swarm.behaviour` (a ping, identify,
 * request-response or Kademlia behaviour, alone, inside `combine({...})` or a `toggle`) and routes
 * their events to one recorder per kind: PingMetrics, IdentifyMetrics, RequestResponseMetrics
 * (labelled by member name) and the existing KadMetrics (src/protocols/kad/metrics.ts).
 * docs/design/metrics.md lists every metric; docs/grafana/libp2p-native.json charts them.
 */
import type { Registry, RegistryContentType } from 'prom-client'
import type { Transport, TransportFactory } from '../core/transport.ts'
import type { Swarm } from '../core/swarm/swarm.ts'
import type { SwarmEvent } from '../core/swarm/events.ts'
import { CombinedBehaviour, Toggle } from '../core/combine.ts'
import { PingBehaviour } from '../protocols/ping/behaviour.ts'
import { IdentifyBehaviour } from '../protocols/identify/behaviour.ts'
import { RequestResponseBehaviour } from '../protocols/request-response/behaviour.ts'
import { Kademlia } from '../protocols/kad/behaviour.ts'
import { KadMetrics } from '../protocols/kad/metrics.ts'
import { SwarmMetrics, type ProtocolCounterInput } from './swarm.ts'
import { IdentifyMetrics, PingMetrics, RequestResponseMetrics } from './behaviours.ts'

export { SwarmMetrics, ConnectionMetrics, connectionErrorCause, closeCauseLabel, CONNECTION_DURATION_BUCKETS, MAX_PROTOCOL_LABELS } from './swarm.ts'
export type { ConnectionView, ProtocolCounterSource, ProtocolCounterInput, SwarmMetricsOptions, ConnectionErrorCause } from './swarm.ts'
export { PingMetrics, IdentifyMetrics, RequestResponseMetrics, errorOutcome, PING_RTT_BUCKETS, REQUEST_DURATION_BUCKETS, MAX_TIMED_INBOUND_REQUESTS } from './behaviours.ts'
export { serveMetrics, parseMetricsAddress, METRICS_PATH, type MetricsServer, type ServeMetricsOptions } from './http.ts'

export interface MetricsOptions {
  /** The caller's registry (never the global one); Prometheus or OpenMetrics content type. */
  registry: Registry<RegistryContentType>
  /**
   * Transports whose native per-protocol byte counters are exported (the TCP transport). A
   * transport built by the Swarm from a factory is reachable through `captureTransport`.
   */
  protocolCounters?: readonly ProtocolCounterInput[]
}

type Kind = 'ping' | 'identify' | 'requestResponse' | 'kad'

/** Event routing for one behaviour: `member` is its combine key ('' when the swarm holds it alone). */
interface Route { kind: Kind, member: string }

function kindOf (behaviour: unknown): { kind: Kind, behaviour: unknown } | undefined {
  const inner = behaviour instanceof Toggle ? behaviour.inner : behaviour
  if (inner instanceof PingBehaviour) return { kind: 'ping', behaviour: inner }
  if (inner instanceof IdentifyBehaviour) return { kind: 'identify', behaviour: inner }
  if (inner instanceof RequestResponseBehaviour) return { kind: 'requestResponse', behaviour: inner }
  if (inner instanceof Kademlia) return { kind: 'kad', behaviour: inner }
  return undefined
}

export class Metrics {
  readonly registry: Registry<RegistryContentType>
  readonly swarm: SwarmMetrics
  readonly ping: PingMetrics | undefined
  readonly identify: IdentifyMetrics | undefined
  readonly requestResponse: RequestResponseMetrics | undefined
  readonly kad: KadMetrics | undefined
  /** Member name → route; '' for a behaviour that is the swarm's whole behaviour. */
  private readonly routes = new Map<string, Route>()
  private readonly source: Swarm<any>
  private readonly listener = (e: SwarmEvent<unknown>): void => { this.onEvent(e) }
  private attached = true

  constructor (swarm: Swarm<any>, options: MetricsOptions) {
    this.registry = options.registry
    this.source = swarm
    const { registry } = options
    this.swarm = new SwarmMetrics(swarm, options.protocolCounters === undefined ? { registry } : { registry, protocolCounters: options.protocolCounters })
    const found: Array<{ member: string, kind: Kind, behaviour: unknown }> = []
    const root: unknown = swarm.behaviour
    if (root instanceof CombinedBehaviour) {
      for (const [member, b] of Object.entries(root.members as Record<string, unknown>)) {
        const k = kindOf(b)
        if (k !== undefined) found.push({ member, ...k })
      }
    } else {
      const k = kindOf(root)
      if (k !== undefined) found.push({ member: '', ...k })
    }
    let ping: PingMetrics | undefined
    let identify: IdentifyMetrics | undefined
    let requestResponse: RequestResponseMetrics | undefined
    let kad: KadMetrics | undefined
    for (const f of found) {
      // One recorder per kind: two ping members share it; a second Kademlia is not recorded
      // (KadMetrics reads its one table at scrape time; give it a prefix of its own to add more).
      if (f.kind === 'ping') ping ??= new PingMetrics({ registry })
      else if (f.kind === 'identify') identify ??= new IdentifyMetrics({ registry })
      else if (f.kind === 'requestResponse') requestResponse ??= new RequestResponseMetrics({ registry })
      else if (kad !== undefined) continue
      else kad = new KadMetrics(f.behaviour as Kademlia, { registry: registry as Registry })  // typed for the default Registry; prom-client takes either content type
      this.routes.set(f.member, { kind: f.kind, member: f.member })
    }
    this.ping = ping
    this.identify = identify
    this.requestResponse = requestResponse
    this.kad = kad
    swarm.on('*', this.listener)
  }

  /** Stops listening to the swarm (the metrics stay registered; clear the registry to drop them). */
  detach (): void {
    if (!this.attached) return
    this.attached = false
    this.source.off('*', this.listener)
  }

  private onEvent (e: SwarmEvent<unknown>): void {
    if (e.type !== 'behaviour') {
      this.swarm.onEvent(e)
      return
    }
    let member = ''
    let event: unknown = e.event
    if (this.routes.get('') === undefined) {
      // combine(): `{ behaviour: name, event }`.
      const tagged = e.event as { behaviour?: unknown, event?: unknown }
      if (typeof tagged?.behaviour !== 'string') return
      member = tagged.behaviour
      event = tagged.event
    }
    const route = this.routes.get(member)
    if (route === undefined) return
    switch (route.kind) {
      case 'ping': this.ping?.onEvent(event as Parameters<PingMetrics['onEvent']>[0]); return
      case 'identify': this.identify?.onEvent(event as Parameters<IdentifyMetrics['onEvent']>[0]); return
      case 'requestResponse': this.requestResponse?.onEvent(member === '' ? 'request_response' : member, event as Parameters<RequestResponseMetrics['onEvent']>[1]); return
      case 'kad': this.kad?.onEvent(event as Parameters<KadMetrics['onEvent']>[0])
    }
  }
}

/**
 * Wraps a transport factory so the transport the Swarm builds from it can be reached afterwards,
 * e.g. for `protocolCounters`:
 *
 *   const tcpT = captureTransport(tcp())
 *   const swarm = new Swarm({ ..., transports: [tcpT.factory] })
 *   new Metrics(swarm, { registry, protocolCounters: [tcpT] })
 */
export function captureTransport (factory: TransportFactory): { readonly factory: TransportFactory, readonly transport: Transport | undefined } {
  let built: Transport | undefined
  return {
    factory: (context) => { built = factory(context); return built },
    get transport () { return built }
  }
}
