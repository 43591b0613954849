/**
 * The two kinds of node the kad side-by-side benches compare, configured alike: ours (Swarm with
 * identify, ping and Kademlia) and js-libp2p 3 with @libp2p/kad-dht, both over TCP + Noise + Yamux
 * on loopback, α = 3 and k = 20 (js's defaults; ours set to match), server mode, a private protocol
 * prefix. Used by side-by-side.bench.ts (one process per network) and side-by-side-worker.ts (a
 * network split over processes). Each kind offers the same four operations: start, bootstrap from
 * given peers, a timed getClosestPeers that counts the requests it sent, and a counter of the
 * FIND_NODE requests for one key that the node serves (to count a lookup's messages on the
 * receiving side, across processes).
 */
import '../../test/helpers/polyfill.ts'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { ping } from '@libp2p/ping'
import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { peerIdFromString } from '@libp2p/peer-id'
import { SwarmBuilder } from '../../src/core/swarm/builder.ts'
import { combine } from '../../src/core/combine.ts'
import { IdentifyBehaviour } from '../../src/protocols/identify/index.ts'
import { PingBehaviour } from '../../src/protocols/ping/index.ts'
import { Kademlia } from '../../src/protocols/kad/behaviour.ts'
import type { KadEvent, QueryId } from '../../src/protocols/kad/types.ts'
import { peerIdFromPrivateKey } from '../../src/identity/index.ts'
import { PeerId } from '../../src/identity/peer-id.ts'

export const PROTOCOL_PREFIX = '/bench-kad'
/** Ours: connections stay open between lookups (js-libp2p keeps them until its connection limit). */
const IDLE_CONNECTION_TIMEOUT_MS = 120_000
/** js: no connection limit and no inbound rate limit on loopback (the defaults, 300 connections and 5 inbound per second per host, would cut a 200-node loopback network). */
const JS_MAX_CONNECTIONS = 10_000
const JS_INBOUND_THRESHOLD = 1_000_000
/** js: inbound connections in their upgrade at once (10 by default; node 0 is dialled by every other node, as in test/helpers/js-libp2p.ts). */
const JS_MAX_INCOMING_PENDING = 10_000
/**
 * js: a failed bootstrap dial is tried this many times in all. js's dial timeouts stay at their
 * defaults (6 s per address); on the shared 2-core machine (load average 15-20) a dial to node 0,
 * which every other node dials, once hit the 6 s Noise timeout and ended the set-up.
 */
const JS_DIAL_ATTEMPTS = 5
/** js: a lookup is abandoned after 60 s, as ours ends a query at its queryTimeout (60 s, Rust's). */
const JS_LOOKUP_LIMIT_MS = 60_000

export interface LookupResult {
  /** Requests the originator sent (ours: the query's stats; js: SEND_QUERY events). */
  sent: number
  ms: number
  /** The target is among the result (or is the originator itself). */
  found: boolean
  /** The lookup failed (js: it threw, e.g. its time limit; ours: the query's error code). */
  error?: string
}

export interface BenchNode {
  readonly peerId: string
  /** Listen address without /p2p. */
  readonly addr: string
  /** Learn the bootstrap peers (ours: add their addresses; js: dial them, as js has no addAddress). */
  connect: (peers: Array<{ peerId: string, addr: string }>) => Promise<void>
  /** The bootstrap lookup (ours: `bootstrap()`; js: getClosestPeers of itself, as js's bootstrap does); resolves to its error, if any. */
  selfLookup: () => Promise<string | undefined>
  lookup: (target: string) => Promise<LookupResult>
  /** Count inbound FIND_NODE requests whose key is `keyHex` from now on (undefined: stop). */
  watch: (keyHex: string | undefined) => void
  /** Inbound FIND_NODE requests for the watched key since `watch`. */
  watched: () => number
  stop: () => Promise<void>
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')

export async function ourNode (): Promise<BenchNode> {
  const s = await SwarmBuilder.withNewIdentity().withTcp().withBehaviour(key => combine({
    identify: new IdentifyBehaviour({ privateKey: key }),
    ping: new PingBehaviour({ intervalMs: 60_000 }),
    kad: new Kademlia({ peerId: peerIdFromPrivateKey(key), config: { mode: 'server', protocolPrefix: PROTOCOL_PREFIX, alpha: 3, autoRefresh: false, admissionCheck: false } })
  })).withSwarmConfig({ idleConnectionTimeout: IDLE_CONNECTION_TIMEOUT_MS }).build()
  await s.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
  const kad = s.behaviour.members.kad
  type Progress = Extract<KadEvent, { type: 'outboundQueryProgressed' }>
  const run = async (start: (k: Kademlia) => QueryId): Promise<Progress> => {
    let id = -1
    return await new Promise(resolve => {
      const l = (e: any): void => {
        if (e.event.behaviour === 'kad' && e.event.event.type === 'outboundQueryProgressed' && e.event.event.id === id && e.event.event.step.last) { s.off('behaviour', l); resolve(e.event.event) }
      }
      s.on('behaviour', l)
      id = start(kad)
    })
  }
  let watchKey: string | undefined
  let count = 0
  s.on('behaviour', (e: any) => {
    if (watchKey === undefined || e.event.behaviour !== 'kad' || e.event.event.type !== 'inboundRequest') return
    const r = e.event.event.request
    if (r.type === 'findNode' && hex(r.key) === watchKey) count++
  })
  return {
    peerId: s.localPeerId.toString(),
    addr: (s.listenAddresses()[0] as ReturnType<typeof multiaddr>).toString(),
    connect: async peers => {
      for (const p of peers) kad.addAddress(PeerId.parse(p.peerId), multiaddr(p.addr))
    },
    selfLookup: async () => {
      const r = await run(k => k.bootstrap())
      return r.result.type === 'bootstrap' ? r.result.error : undefined
    },
    lookup: async target => {
      const t = PeerId.parse(target)
      const t0 = performance.now()
      const r = await run(k => k.getClosestPeers(t))
      const ms = performance.now() - t0
      const found = s.localPeerId.equals(t) || (r.result.type === 'getClosestPeers' && r.result.peers.some(p => p.peer.equals(t)))
      const error = r.result.type === 'getClosestPeers' ? r.result.error : undefined
      return { sent: r.stats.requests, ms, found, ...(error !== undefined ? { error } : {}) }
    },
    watch: key => { watchKey = key; count = 0 },
    watched: () => count,
    stop: async () => { await s.close() }
  }
}

export async function jsNode (): Promise<BenchNode> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      ping: ping(),
      identify: identify(),
      dht: kadDHT({ protocol: `${PROTOCOL_PREFIX}/kad/1.0.0`, clientMode: false, peerInfoMapper: passthroughMapper, allowQueryWithZeroPeers: true })
    },
    connectionManager: {
      maxConnections: JS_MAX_CONNECTIONS,
      inboundConnectionThreshold: JS_INBOUND_THRESHOLD,
      maxIncomingPendingConnections: JS_MAX_INCOMING_PENDING
    }
  })
  // Count served FIND_NODEs by wrapping the DHT's RPC dispatcher (an instance field of
  // @libp2p/kad-dht 16's KadDHT; every inbound message passes through handleMessage).
  const rpc = (node.services.dht as unknown as { rpc: { handleMessage: (peer: unknown, msg: { type: unknown, key?: Uint8Array }) => Promise<unknown> } }).rpc
  if (typeof rpc?.handleMessage !== 'function') throw new Error('@libp2p/kad-dht: no rpc.handleMessage to observe (version changed?)')
  let watchKey: string | undefined
  let count = 0
  const inner = rpc.handleMessage.bind(rpc)
  rpc.handleMessage = async (peer, msg) => {
    // MessageType.FIND_NODE is 'FIND_NODE' in @libp2p/kad-dht's protons enum (4 on the wire).
    if (watchKey !== undefined && (msg.type === 'FIND_NODE' || msg.type === 4) && msg.key !== undefined && hex(msg.key) === watchKey) count++
    return await inner(peer, msg)
  }
  const addr = (node.getMultiaddrs()[0] as ReturnType<typeof multiaddr>).toString().split('/p2p/')[0] as string
  const lookup = async (target: string): Promise<LookupResult> => {
    const t = peerIdFromString(target)
    const t0 = performance.now()
    let sent = 0
    let found = node.peerId.equals(t)
    try {
      for await (const ev of node.services.dht.getClosestPeers(t.toMultihash().bytes, { signal: AbortSignal.timeout(JS_LOOKUP_LIMIT_MS) })) {
        if (ev.name === 'SEND_QUERY') sent++
        if (ev.name === 'FINAL_PEER' && ev.peer.id.equals(t)) found = true
      }
    } catch (err) {
      return { sent, ms: performance.now() - t0, found, error: (err as Error).name }
    }
    return { sent, ms: performance.now() - t0, found }
  }
  return {
    peerId: node.peerId.toString(),
    addr,
    connect: async peers => {
      for (const p of peers) {
        for (let attempt = 1; ; attempt++) {
          try { await node.dial(multiaddr(`${p.addr}/p2p/${p.peerId}`)); break } catch (err) { if (attempt >= JS_DIAL_ATTEMPTS) throw err }
        }
      }
    },
    selfLookup: async () => (await lookup(node.peerId.toString())).error,
    lookup,
    watch: key => { watchKey = key; count = 0 },
    watched: () => count,
    stop: async () => { await node.stop() }
  }
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
export const p90 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)] as number
