/**
 * Property tests of the pure lookup iterators on simulated networks of a few hundred nodes held in
 * memory: every node's routing table is a real `RoutingTable` (k = 20) filled with every other
 * node in a random order, and a response is the responder's own k closest entries. Responses are
 * delivered in random order, one at a time, so many interleavings are exercised. Seeds are fixed.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { PeerId } from '../../../src/identity/peer-id.ts'
import { compareDistance, keyFromBytes, keyFromPeer } from '../../../src/protocols/kad/kbucket/key.ts'
import { RoutingTable } from '../../../src/protocols/kad/kbucket/table.ts'
import { ClosestPeersIter, type ClosestPeersConfig, type QueryPeersIter } from '../../../src/protocols/kad/query/closest.ts'
import { ClosestDisjointPeersIter } from '../../../src/protocols/kad/query/disjoint.ts'
import { Rng } from './rng.ts'
import { randomPeerId } from './helpers.ts'

const K = 20

class SimNetwork {
  readonly peers: PeerId[]
  readonly tables = new Map<string, RoutingTable>()
  constructor (rng: Rng, n: number) {
    this.peers = Array.from({ length: n }, () => randomPeerId(rng))
    for (const p of this.peers) {
      const t = new RoutingTable(p, { kBucketSize: K, pendingTimeout: 1, latencyTolerance: 1e9, ipDiversity: null, routingTableFilter: null })
      for (const q of rng.shuffle([...this.peers])) t.update(q, [], 'connected', 0)
      this.tables.set(p.toString(), t)
    }
  }

  table (p: PeerId): RoutingTable { return this.tables.get(p.toString()) as RoutingTable }

  trueClosest (target: Uint8Array, n: number, exclude: Set<string>): string[] {
    return this.peers.filter(p => !exclude.has(p.toString()))
      .map(p => ({ p, h: keyFromPeer(p).hash }))
      .sort((a, b) => compareDistance(target, a.h, b.h))
      .slice(0, n).map(x => x.p.toString())
  }

  /**
   * Runs a lookup to completion. `failing` peers fail every request. Returns the result and the
   * sequence of contacted peers.
   */
  run (rng: Rng, it: QueryPeersIter, target: Uint8Array, failing: Set<string>): { result: string[], contacted: PeerId[], reason: string } {
    const inFlight: PeerId[] = []
    const contacted: PeerId[] = []
    let now = 0
    for (let steps = 0; steps < 100000; steps++) {
      const s = it.next(now)
      if (s.state === 'finished') return { result: it.result().map(String), contacted, reason: s.reason }
      if (s.state === 'contact') {
        inFlight.push(...s.peers)
        contacted.push(...s.peers)
        continue
      }
      assert.ok(inFlight.length > 0, 'waiting with nothing in flight')
      const [peer] = inFlight.splice(rng.int(inFlight.length), 1) as [PeerId]
      now += 1
      if (failing.has(peer.toString())) it.onFailure(peer)
      else it.onSuccess(peer, this.table(peer).closest(target, K).map(e => e.peer))
    }
    throw new Error('lookup did not finish')
  }
}

function cfg (o: Partial<ClosestPeersConfig> = {}): ClosestPeersConfig {
  return { parallelism: 3, resiliency: K, numResults: K, peerTimeout: 1e9, ...o }
}

test('property: with β = k (Rust), the lookup result is exactly the true k closest', () => {
  const rng = new Rng(21)
  const net = new SimNetwork(rng, 300)
  for (const alpha of [1, 3, 10]) {
    for (let i = 0; i < 40; i++) {
      const from = rng.pick(net.peers)
      const target = i % 2 === 0 ? keyFromPeer(rng.pick(net.peers)).hash : keyFromBytes(rng.bytes(16)).hash
      const it = new ClosestPeersIter(target, net.table(from).closest(target, K).map(e => e.peer), cfg({ parallelism: alpha }), [from])
      const { result, contacted, reason } = net.run(rng, it, target, new Set())
      assert.equal(reason, 'converged')
      assert.deepEqual(result, net.trueClosest(target, K, new Set([from.toString()])))
      // No peer is contacted twice, and the local node never.
      assert.equal(new Set(contacted.map(String)).size, contacted.length)
      assert.ok(!contacted.some(p => p.equals(from)))
    }
  }
})

test('property: with 20% of nodes failing, the result is the true closest live nodes, none missed', () => {
  const rng = new Rng(22)
  const net = new SimNetwork(rng, 300)
  const failing = new Set(net.peers.filter(() => rng.int(5) === 0).map(String))
  for (let i = 0; i < 60; i++) {
    const from = rng.pick(net.peers.filter(p => !failing.has(p.toString())))
    const target = keyFromBytes(rng.bytes(16)).hash
    const it = new ClosestPeersIter(target, net.table(from).closest(target, K).map(e => e.peer), cfg({ parallelism: 10 }), [from])
    const { result } = net.run(rng, it, target, failing)
    // Responses carry the k closest a node knows, failed ones included, so beyond the live ones
    // among the k closest overall a lookup can only know what some table happened to return. The
    // guarantee: those live ones lead the result in order, and the whole result is live, sorted.
    const liveInTopK = net.trueClosest(target, K, new Set([from.toString()])).filter(p => !failing.has(p))
    assert.deepEqual(result.slice(0, liveInTopK.length), liveInTopK)
    const truth = net.trueClosest(target, 300, new Set([...failing, from.toString()]))
    const ranks = result.map(r => truth.indexOf(r))
    assert.ok(ranks.every((r, j) => r >= 0 && (j === 0 || r > (ranks[j - 1] as number))))
  }
})

test('property: with β = 3 (Go), the lookup ends once the 3 closest answered, and they are the true 3 closest', () => {
  const rng = new Rng(23)
  const net = new SimNetwork(rng, 300)
  let fewerMessages = 0
  for (let i = 0; i < 60; i++) {
    const from = rng.pick(net.peers)
    const target = keyFromBytes(rng.bytes(16)).hash
    const initial = net.table(from).closest(target, K).map(e => e.peer)
    const goIt = new ClosestPeersIter(target, initial, cfg({ parallelism: 3, resiliency: 3 }), [from])
    const { result } = net.run(rng, goIt, target, new Set())
    const truth = net.trueClosest(target, K, new Set([from.toString()]))
    assert.deepEqual(result.slice(0, 3), truth.slice(0, 3))
    // Every returned peer answered and is among the true closest by rank order.
    for (let j = 1; j < result.length; j++) assert.ok(truth.indexOf(result[j] as string) > truth.indexOf(result[j - 1] as string) || truth.indexOf(result[j] as string) < 0)
    const rustIt = new ClosestPeersIter(target, initial, cfg({ parallelism: 3, resiliency: K }), [from])
    net.run(rng, rustIt, target, new Set())
    if (goIt.requests < rustIt.requests) fewerMessages++
  }
  // β < k trades completeness for fewer messages: that must show on most lookups.
  assert.ok(fewerMessages > 30, `β=3 sent fewer messages than β=k in only ${fewerMessages}/60 lookups`)
})

test('property: disjoint paths never share a peer, and together find the true k closest', () => {
  const rng = new Rng(24)
  const net = new SimNetwork(rng, 300)
  for (const paths of [2, 3, 4]) {
    for (let i = 0; i < 30; i++) {
      const from = rng.pick(net.peers)
      const target = keyFromBytes(rng.bytes(16)).hash
      const it = new ClosestDisjointPeersIter(target, net.table(from).closest(target, K).map(e => e.peer), cfg({ parallelism: 3 }), paths, [from])
      const { result, contacted } = net.run(rng, it, target, new Set())
      assert.equal(new Set(contacted.map(String)).size, contacted.length, 'a peer was contacted twice')
      // Each path's answered/in-flight peers are disjoint from every other path's.
      const owner = new Map<string, number>()
      it.paths.forEach((path, index) => {
        for (const { peer, state } of path.states()) {
          if (state === 'failed' || state === 'notContacted') continue
          const id = peer.toString()
          assert.ok(!owner.has(id), `peer on paths ${owner.get(id)} and ${index}`)
          owner.set(id, index)
          assert.equal(it.pathOf(peer), index)
        }
      })
      assert.deepEqual(result, net.trueClosest(target, K, new Set([from.toString()])))
      assert.ok(it.paths.filter(p => p.requests > 0).length >= Math.min(paths, 2))
    }
  }
})

test('timeouts: an unresponsive peer frees its slot, a late answer still counts, the query deadline ends it', () => {
  const rng = new Rng(25)
  const peers = Array.from({ length: 6 }, () => randomPeerId(rng))
  const target = keyFromBytes(rng.bytes(4)).hash
  const it = new ClosestPeersIter(target, peers, cfg({ parallelism: 2, resiliency: 6, numResults: 6, peerTimeout: 100, deadline: 1000 }))
  const first = it.next(0)
  assert.ok(first.state === 'contact' && first.peers.length === 2)
  assert.deepEqual(it.next(50), { state: 'waiting' })
  assert.equal(it.nextDeadline(), 100)
  const second = it.next(100) // both timed out: two new peers
  assert.ok(second.state === 'contact' && second.peers.length === 2)
  assert.equal(it.stateOf(first.peers[0] as PeerId), 'unresponsive')
  assert.ok(it.onSuccess(first.peers[0] as PeerId, []))
  assert.equal(it.stateOf(first.peers[0] as PeerId), 'succeeded')
  assert.equal(it.onSuccess(first.peers[0] as PeerId, []), false)
  assert.equal(it.onSuccess(randomPeerId(rng), []), false)
  assert.deepEqual(it.next(1000), { state: 'finished', reason: 'timeout' })
  assert.ok(it.result().some(p => p.equals(first.peers[0] as PeerId)))
  assert.equal(it.onSuccess(second.peers[0] as PeerId, []), false)
})

test('cancellation and exhaustion', () => {
  const rng = new Rng(26)
  const peers = Array.from({ length: 3 }, () => randomPeerId(rng))
  const target = keyFromBytes(rng.bytes(4)).hash
  const it = new ClosestPeersIter(target, peers, cfg())
  const s = it.next(0)
  assert.ok(s.state === 'contact' && s.peers.length === 3)
  it.finish()
  assert.deepEqual(it.next(1), { state: 'finished', reason: 'cancelled' })
  assert.equal(it.onSuccess(peers[0] as PeerId, []), false)
  const empty = new ClosestPeersIter(target, [], cfg())
  assert.deepEqual(empty.next(0), { state: 'finished', reason: 'exhausted' })
  const allFail = new ClosestPeersIter(target, peers, cfg())
  const c = allFail.next(0)
  assert.ok(c.state === 'contact')
  for (const p of c.peers) allFail.onFailure(p)
  assert.deepEqual(allFail.next(1), { state: 'finished', reason: 'exhausted' })
  assert.deepEqual(allFail.result(), [])
})

test('property: with β = 3 and follow-up (Go), every one of the k closest peers is asked', () => {
  const rng = new Rng(27)
  const net = new SimNetwork(rng, 300)
  for (let i = 0; i < 40; i++) {
    const from = rng.pick(net.peers)
    const target = keyFromBytes(rng.bytes(16)).hash
    const initial = net.table(from).closest(target, K).map(e => e.peer)
    const it = new ClosestPeersIter(target, initial, cfg({ parallelism: 3, resiliency: 3, followup: true }), [from])
    const { result, contacted, reason } = net.run(rng, it, target, new Set())
    assert.equal(reason, 'converged')
    const truth = net.trueClosest(target, K, new Set([from.toString()]))
    assert.deepEqual(result, truth)
    const asked = new Set(contacted.map(String))
    assert.ok(truth.every(p => asked.has(p)), 'every true closest peer was contacted')
    assert.ok(it.states().filter(s => truth.includes(s.peer.toString())).every(s => s.state === 'succeeded'))
  }
})
