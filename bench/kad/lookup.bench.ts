/**
 * Lookup cost of the query engine on simulated networks (no transport): messages, hops and
 * virtual-time latency per lookup for α = 3 and 10, β = 3 (Go) and β = k (Rust), with and without
 * disjoint paths. Every node's routing table is a real RoutingTable (k = 20) filled with all other
 * nodes in random order; each request takes a random 20-120 ms of virtual time; responses carry
 * the responder's 20 closest entries. Prints one JSON line per configuration.
 *   node --import tsx bench/kad/lookup.bench.ts [nodes] [lookups]
 */
import { PeerId } from '../../src/identity/peer-id.ts'
import { compareDistance, keyFromPeer } from '../../src/protocols/kad/kbucket/key.ts'
import { RoutingTable } from '../../src/protocols/kad/kbucket/table.ts'
import { ClosestPeersIter, type QueryPeersIter } from '../../src/protocols/kad/query/closest.ts'
import { ClosestDisjointPeersIter } from '../../src/protocols/kad/query/disjoint.ts'

const NODES = Number(process.argv[2] ?? 200)
const LOOKUPS = Number(process.argv[3] ?? 200)
const K = 20

let seed = 12345
function rand (): number { seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; return seed / 0x100000000 }
function randomBytes (n: number): Uint8Array { return Uint8Array.from({ length: n }, () => Math.floor(rand() * 256)) }
function randomPeer (): PeerId { const mh = new Uint8Array(34); mh[0] = 0x12; mh[1] = 32; mh.set(randomBytes(32), 2); return PeerId.fromBytes(mh) }

const peers = Array.from({ length: NODES }, randomPeer)
const tables = new Map<string, RoutingTable>()
for (const p of peers) {
  const t = new RoutingTable(p, { kBucketSize: K, pendingTimeout: 1, latencyTolerance: 1e9, ipDiversity: null, routingTableFilter: null })
  const order = [...peers].sort(() => rand() - 0.5)
  for (const q of order) t.update(q, [], 'connected', 0)
  tables.set(p.toString(), t)
}

interface Result { messages: number, hops: number, ms: number, exact: boolean }

function lookup (from: PeerId, target: PeerId, make: (initial: PeerId[], targetHash: Uint8Array) => QueryPeersIter): Result {
  const th = keyFromPeer(target).hash
  const initial = (tables.get(from.toString()) as RoutingTable).closest(th, K).map(e => e.peer)
  const it = make(initial, th)
  const depth = new Map<string, number>(initial.map(p => [p.toString(), 0]))
  const inFlight: Array<{ peer: PeerId, at: number }> = []
  let now = 0
  for (;;) {
    const s = it.next(now)
    if (s.state === 'finished') break
    if (s.state === 'contact') { for (const p of s.peers) inFlight.push({ peer: p, at: now + 20 + rand() * 100 }); continue }
    inFlight.sort((a, b) => a.at - b.at)
    const r = inFlight.shift()
    if (r === undefined) break
    now = r.at
    const closer = (tables.get(r.peer.toString()) as RoutingTable).closest(th, K).map(e => e.peer)
    const d = (depth.get(r.peer.toString()) ?? 0) + 1
    for (const c of closer) if (!depth.has(c.toString())) depth.set(c.toString(), d)
    it.onSuccess(r.peer, closer)
  }
  const res = it.result()
  const truth = peers.filter(p => !p.equals(from)).map(p => ({ p, h: keyFromPeer(p).hash })).sort((a, b) => compareDistance(th, a.h, b.h)).slice(0, K).map(x => x.p.toString())
  return {
    messages: it.requests,
    hops: (depth.get(target.toString()) ?? 0) + 1,
    ms: now,
    exact: res.length === truth.length && res.every((p, i) => p.toString() === truth[i])
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
const p90 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)] as number

for (const alpha of [3, 10]) {
  for (const beta of [3, K]) {
    for (const disjoint of [false, true]) {
      const results: Result[] = []
      for (let i = 0; i < LOOKUPS; i++) {
        const from = peers[Math.floor(rand() * NODES)] as PeerId
        let target = peers[Math.floor(rand() * NODES)] as PeerId
        if (target.equals(from)) target = peers[(peers.indexOf(from) + 1) % NODES] as PeerId
        results.push(lookup(from, target, (initial, th) => {
          const cfg = { parallelism: alpha, resiliency: beta, numResults: K, peerTimeout: 10_000 }
          return disjoint ? new ClosestDisjointPeersIter(th, initial, cfg, alpha, [from]) : new ClosestPeersIter(th, initial, cfg, [from])
        }))
      }
      console.log(JSON.stringify({
        nodes: NODES, lookups: LOOKUPS, alpha, beta, disjoint,
        medianMessages: median(results.map(r => r.messages)), p90Messages: p90(results.map(r => r.messages)),
        medianHops: median(results.map(r => r.hops)),
        medianVirtualMs: Math.round(median(results.map(r => r.ms))),
        exactK: `${results.filter(r => r.exact).length}/${LOOKUPS}`
      }))
    }
  }
}

