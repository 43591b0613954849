/**
 * Kademlia metrics (issue 5, item 8) in the manner of prom-client and rust-libp2p's
 * `misc/metrics/src/kad.rs`: counters and histograms are fed from the behaviour's events, never
 * from the hot path; gauges (routing-table size per bucket, stored records and providers, mode) are
 * read from the behaviour at scrape time. Labels take closed sets of values only (operation types,
 * outcomes, triggers, request types, bucket indices 0-255): no peer ids, no keys. No global
 * registry: the caller passes one.
 *
 *   const metrics = new KadMetrics(kad, { registry })
 *   swarm.on('behaviour', e => metrics.onEvent(e.event))
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { Kademlia } from './behaviour.ts'
import type { KadEvent } from './types.ts'

export interface KadMetricsOptions {
  registry: Registry
  /** Metric name prefix; default `libp2p_kad` (two DHTs side by side use two prefixes). */
  prefix?: string
}

/** Query durations: 10 ms (a LAN lookup) to 60 s (Rust's query timeout). */
const DURATION_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
/** Hops: a lookup in a 10^7-peer network needs about log2(n)/b ≈ 6-8; 12 catches pathologies. */
const HOP_BUCKETS = [1, 2, 3, 4, 5, 6, 8, 10, 12]
/** Requests per query: β-terminated lookups send ~α+β, disjoint ones up to α·k (200). */
const REQUEST_BUCKETS = [1, 3, 5, 10, 20, 30, 50, 100, 200]

export class KadMetrics {
  private readonly queries: Counter<'type' | 'outcome' | 'trigger'>
  private readonly duration: Histogram<'type'>
  private readonly hops: Histogram<'type'>
  private readonly requests: Histogram<'type'>
  private readonly inbound: Counter<'type'>
  private readonly routing: Counter<'result'>
  private readonly modeChanges: Counter<'mode'>

  constructor (kad: Kademlia, options: KadMetricsOptions) {
    const p = options.prefix ?? 'libp2p_kad'
    const registers = [options.registry]
    this.queries = new Counter({ name: `${p}_queries_total`, help: 'Finished queries by operation, outcome (ok or error code) and trigger', labelNames: ['type', 'outcome', 'trigger'], registers })
    this.duration = new Histogram({ name: `${p}_query_duration_seconds`, help: 'Duration of finished queries', labelNames: ['type'], buckets: DURATION_BUCKETS, registers })
    this.hops = new Histogram({ name: `${p}_query_hops`, help: 'Longest response chain that led to a result peer', labelNames: ['type'], buckets: HOP_BUCKETS, registers })
    this.requests = new Histogram({ name: `${p}_query_requests`, help: 'Requests sent per finished query', labelNames: ['type'], buckets: REQUEST_BUCKETS, registers })
    this.inbound = new Counter({ name: `${p}_inbound_requests_total`, help: 'Inbound requests answered, by type', labelNames: ['type'], registers })
    this.routing = new Counter({ name: `${p}_routing_updates_total`, help: 'Routing table admissions by result', labelNames: ['result'], registers })
    this.modeChanges = new Counter({ name: `${p}_mode_changes_total`, help: 'Switches between client and server mode', labelNames: ['mode'], registers })
    new Gauge({
      name: `${p}_routing_table_peers`,
      help: 'Peers per non-empty k-bucket (bucket = 255 - common prefix length)',
      labelNames: ['bucket'],
      registers,
      collect () {
        this.reset()
        kad.table.bucketSizes().forEach((n, bucket) => { if (n > 0) this.set({ bucket: String(bucket) }, n) })
      }
    })
    new Gauge({ name: `${p}_routing_table_size`, help: 'Peers in the routing table', registers, collect () { this.set(kad.table.size) } })
    new Gauge({ name: `${p}_records_stored`, help: 'Value records in the store', registers, collect () { this.set(kad.store.stats().records) } })
    new Gauge({ name: `${p}_provider_keys_stored`, help: 'Keys with provider entries in the store', registers, collect () { this.set(kad.store.stats().providerKeys) } })
    new Gauge({ name: `${p}_providers_stored`, help: 'Provider entries in the store', registers, collect () { this.set(kad.store.stats().providers) } })
    new Gauge({ name: `${p}_active_queries`, help: 'Queries running now', registers, collect () { this.set(kad.activeQueries) } })
    new Gauge({ name: `${p}_server_mode`, help: '1 when in server mode, 0 in client mode', registers, collect () { this.set(kad.mode === 'server' ? 1 : 0) } })
  }

  onEvent (e: KadEvent): void {
    switch (e.type) {
      case 'outboundQueryProgressed': {
        if (!e.step.last) return
        const type = e.result.type
        this.queries.inc({ type, outcome: e.result.error ?? 'ok', trigger: e.trigger })
        if (e.stats.end !== undefined) this.duration.observe({ type }, Math.max(0, e.stats.end - e.stats.start) / 1000)
        if (e.stats.hops > 0) this.hops.observe({ type }, e.stats.hops)
        this.requests.observe({ type }, e.stats.requests)
        return
      }
      case 'inboundRequest': this.inbound.inc({ type: e.request.type }); return
      case 'routingUpdated': this.routing.inc({ result: e.evicted === undefined ? 'inserted' : 'replaced' }); return
      case 'pendingRoutablePeer': this.routing.inc({ result: 'pending' }); return
      case 'unroutablePeer': this.routing.inc({ result: 'unroutable' }); return
      case 'modeChanged': this.modeChanges.inc({ mode: e.mode })
    }
  }
}
