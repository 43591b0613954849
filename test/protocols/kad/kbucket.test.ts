import { test } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { PeerId } from '../../../src/identity/peer-id.ts'
import {
  bucketIndex, commonPrefixLength, compareDistance, distance, keyFromBytes, keyFromPeer, randomKeyForCpl
} from '../../../src/protocols/kad/kbucket/key.ts'
import { RoutingTable, type RoutingTableOptions } from '../../../src/protocols/kad/kbucket/table.ts'
import { groupsOf, parseIPv6 } from '../../../src/protocols/kad/kbucket/diversity.ts'
import { AdmissionQueue, MAX_ADMISSION_QUEUE } from '../../../src/protocols/kad/kbucket/admission.ts'
import { Rng } from './rng.ts'
import { randomPeerId } from './helpers.ts'


const DIV = { maxPerGroupGlobal: 3, maxPerGroupPerBucket: 2, ipv4PrefixLength: 16, ipv6PrefixLength: 32 }
function opts (o: Partial<RoutingTableOptions> = {}): RoutingTableOptions {
  return { kBucketSize: 20, pendingTimeout: 60_000, latencyTolerance: 10_000, ipDiversity: null, routingTableFilter: null, ...o }
}

/** `n` random peers that all land in `bucket` of `local`'s table. */
function peersInBucket (rng: Rng, local: PeerId, bucket: number, n: number): PeerId[] {
  const lh = keyFromPeer(local).hash
  const out: PeerId[] = []
  while (out.length < n) {
    const p = randomPeerId(rng)
    if (bucketIndex(lh, keyFromPeer(p).hash) === bucket) out.push(p)
  }
  return out
}

test('XOR metric: identity, symmetry, and bucket index = 255 - cpl', () => {
  const rng = new Rng(1)
  for (let i = 0; i < 500; i++) {
    const a = keyFromBytes(rng.bytes(10)).hash
    const b = keyFromBytes(rng.bytes(10)).hash
    assert.deepEqual(distance(a, b), distance(b, a))
    assert.ok(distance(a, a).every(x => x === 0))
    assert.equal(bucketIndex(a, b), 255 - commonPrefixLength(a, b))
    const d = distance(a, b)
    const firstNonZero = d.findIndex(x => x !== 0)
    assert.equal(commonPrefixLength(a, b), firstNonZero * 8 + Math.clz32(d[firstNonZero] as number) - 24)
  }
  assert.equal(bucketIndex(new Uint8Array(32), new Uint8Array(32)), -1)
  const t = new Uint8Array(32)
  const near = new Uint8Array(32); near[31] = 1
  const far = new Uint8Array(32); far[0] = 0x80
  assert.ok(compareDistance(t, near, far) < 0)
  assert.ok(compareDistance(t, far, near) > 0)
  assert.equal(bucketIndex(t, far), 255)
  assert.equal(bucketIndex(t, near), 0)
})

test('refresh targets have exactly the requested common prefix length', () => {
  const rng = new Rng(2)
  const local = keyFromBytes(rng.bytes(8)).hash
  for (let cpl = 0; cpl <= 10; cpl++) {
    const k = randomKeyForCpl(local, cpl, n => rng.bytes(n))
    assert.equal(commonPrefixLength(local, k.hash), cpl)
    assert.deepEqual(keyFromBytes(k.preimage).hash, k.hash)
    PeerId.fromBytes(k.preimage) // a valid peer id
  }
  assert.throws(() => randomKeyForCpl(local, 16, n => rng.bytes(n)), RangeError)
})

test('closest() equals a brute-force sort of the table', () => {
  const rng = new Rng(3)
  const local = randomPeerId(rng)
  const table = new RoutingTable(local, opts())
  const all: PeerId[] = []
  for (let i = 0; i < 600; i++) {
    const p = randomPeerId(rng)
    const r = table.update(p, [], 'connected', i)
    if (r.type === 'inserted') all.push(p)
  }
  assert.equal(table.size, all.length)
  for (let q = 0; q < 200; q++) {
    const target = q === 0 ? keyFromPeer(local).hash : keyFromBytes(rng.bytes(12)).hash
    const count = rng.int(30) + 1
    const expected = all.map(p => keyFromPeer(p).hash).sort((a, b) => compareDistance(target, a, b)).slice(0, count)
    assert.deepEqual(table.closest(target, count).map(e => e.hash), expected)
  }
  // filter
  const banned = new Set(all.slice(0, 30).map(p => p.toString()))
  const res = table.closest(keyFromBytes(rng.bytes(3)).hash, 50, e => !banned.has(e.peer.toString()))
  assert.equal(res.length, Math.min(50, all.length - 30))
  assert.ok(res.every(e => !banned.has(e.peer.toString())))
})

test('full bucket: pending entry replaces a disconnected head after the timeout', () => {
  const rng = new Rng(4)
  const local = randomPeerId(rng)
  const table = new RoutingTable(local, opts({ kBucketSize: 4, pendingTimeout: 1000 }))
  const [a, b, c, d, e, f] = peersInBucket(rng, local, 255, 6) as [PeerId, PeerId, PeerId, PeerId, PeerId, PeerId]
  for (const p of [a, b, c, d]) assert.equal(table.update(p, [], 'connected', 0).type, 'inserted')
  assert.deepEqual(table.update(e, [], 'connected', 10), { type: 'full', bucket: 255 })
  table.setDisconnected(b)
  const r = table.update(e, [], 'connected', 20)
  assert.equal(r.type, 'pending')
  assert.ok(r.type === 'pending' && r.disconnected.equals(b) && r.readyAt === 1020)
  // A second newcomer cannot take the pending slot while it is live.
  assert.equal(table.update(f, [], 'connected', 30).type, 'full')
  assert.deepEqual(table.applyPending(1019), [])
  assert.equal(table.nextPendingDeadline(), 1020)
  const applied = table.applyPending(1020)
  assert.equal(applied.length, 1)
  assert.ok(applied[0]?.inserted.equals(e) && applied[0].evicted.equals(b))
  assert.ok(table.has(e) && !table.has(b))
  assert.equal(table.nextPendingDeadline(), undefined)
})

test('full bucket: the pending entry is dropped if the head reconnects before the timeout', () => {
  const rng = new Rng(5)
  const local = randomPeerId(rng)
  const table = new RoutingTable(local, opts({ kBucketSize: 3, pendingTimeout: 1000 }))
  const [a, b, c, e] = peersInBucket(rng, local, 255, 4) as [PeerId, PeerId, PeerId, PeerId]
  for (const p of [a, b, c]) table.update(p, [], 'connected', 0)
  table.setDisconnected(a)
  assert.equal(table.update(e, [], 'connected', 0).type, 'pending')
  assert.equal(table.update(a, [], 'connected', 500).type, 'updated')
  assert.deepEqual(table.applyPending(2000), [])
  assert.ok(table.has(a) && !table.has(e))
  assert.equal(table.pendingOf(255), undefined)
})

test('removing an entry lets the pending newcomer in at once', () => {
  const rng = new Rng(6)
  const local = randomPeerId(rng)
  const table = new RoutingTable(local, opts({ kBucketSize: 2 }))
  const [a, b, e] = peersInBucket(rng, local, 255, 3) as [PeerId, PeerId, PeerId]
  table.update(a, [], 'disconnected', 0)
  table.update(b, [], 'connected', 0)
  assert.equal(table.update(e, [], 'connected', 0).type, 'pending')
  table.remove(b)
  assert.ok(table.has(e))
})

test('latency tolerance: a full bucket evicts the slowest peer above it (Go)', () => {
  const rng = new Rng(7)
  const local = randomPeerId(rng)
  const table = new RoutingTable(local, opts({ kBucketSize: 3, latencyTolerance: 100 }))
  const [a, b, c, e] = peersInBucket(rng, local, 255, 4) as [PeerId, PeerId, PeerId, PeerId]
  for (const p of [a, b, c]) table.update(p, [], 'connected', 0)
  table.recordRtt(a, 50)
  table.recordRtt(b, 150)
  table.recordRtt(c, 300)
  const r = table.update(e, [], 'connected', 1)
  assert.ok(r.type === 'replaced' && r.evicted.equals(c))
  assert.ok(table.has(e) && table.has(b) && !table.has(c))
})

test('routing-table filter and self are rejected', () => {
  const rng = new Rng(8)
  const local = randomPeerId(rng)
  const allowed = randomPeerId(rng)
  const table = new RoutingTable(local, opts({ routingTableFilter: p => p.equals(allowed) }))
  assert.deepEqual(table.update(local, [], 'connected', 0), { type: 'rejected', reason: 'self' })
  assert.deepEqual(table.update(randomPeerId(rng), [], 'connected', 0), { type: 'rejected', reason: 'filter' })
  assert.equal(table.update(allowed, [], 'connected', 0).type, 'inserted')
})

test('IP diversity: 2 per /16 per bucket, 3 per /16 in the table; private addresses exempt', () => {
  const rng = new Rng(9)
  const local = randomPeerId(rng)
  const table = new RoutingTable(local, opts({ ipDiversity: DIV }))
  const inB255 = peersInBucket(rng, local, 255, 4)
  const inB254 = peersInBucket(rng, local, 254, 3)
  const addr = (i: number): Multiaddr[] => [multiaddr(`/ip4/8.8.${i}.1/tcp/4001`)]
  assert.equal(table.update(inB255[0] as PeerId, addr(1), 'connected', 0).type, 'inserted')
  assert.equal(table.update(inB255[1] as PeerId, addr(2), 'connected', 0).type, 'inserted')
  const third = table.update(inB255[2] as PeerId, addr(3), 'connected', 0)
  assert.ok(third.type === 'rejected' && third.reason === 'diversity' && /bucket/.test(third.detail ?? ''))
  assert.equal(table.update(inB254[0] as PeerId, addr(4), 'connected', 0).type, 'inserted')
  const fourth = table.update(inB254[1] as PeerId, addr(5), 'connected', 0)
  assert.ok(fourth.type === 'rejected' && /table/.test(fourth.detail ?? ''))
  // Another /16 is fine; private and loopback are exempt.
  assert.equal(table.update(inB254[1] as PeerId, [multiaddr('/ip4/8.9.0.1/tcp/1')], 'connected', 0).type, 'inserted')
  assert.equal(table.update(inB255[2] as PeerId, [multiaddr('/ip4/192.168.1.1/tcp/1')], 'connected', 0).type, 'inserted')
  assert.equal(table.update(inB255[3] as PeerId, [multiaddr('/ip4/127.0.0.1/tcp/1')], 'connected', 0).type, 'inserted')
  // Removing a peer frees its group.
  table.remove(inB255[0] as PeerId)
  assert.equal(table.update(inB254[2] as PeerId, addr(6), 'connected', 0).type, 'inserted')
})

test('IPv6 groups are /32; mapped IPv4 counts as IPv4; ULA and link-local exempt', () => {
  const g = (s: string): string[] => groupsOf([multiaddr(s)], DIV)
  assert.deepEqual(g('/ip6/2001:db8:1::1/tcp/1'), g('/ip6/2001:db8:ffff::2/tcp/1'))
  assert.notDeepEqual(g('/ip6/2001:db8::1/tcp/1'), g('/ip6/2001:db9::1/tcp/1'))
  assert.deepEqual(g('/ip6/2001:db8::1/tcp/1'), ['ip6/32:20010db8'])
  assert.deepEqual(g('/ip6/::ffff:8.8.4.4/tcp/1'), g('/ip4/8.8.1.1/tcp/1'))
  assert.deepEqual(g('/ip6/fd00::1/tcp/1'), [])
  assert.deepEqual(g('/ip6/fe80::1/tcp/1'), [])
  assert.deepEqual(g('/ip6/::1/tcp/1'), [])
  assert.deepEqual(g('/memory/abc'), [])
  assert.deepEqual(parseIPv6('1:2:3:4:5:6:7:8'), Uint8Array.from([0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]))
  assert.equal(parseIPv6('1::2::3'), undefined)
  assert.equal(parseIPv6('1:2:3'), undefined)
  assert.equal(parseIPv6('12345::'), undefined)
})

test('buckets needing refresh follow the refresh interval, up to cpl 15', () => {
  const rng = new Rng(10)
  const local = randomPeerId(rng)
  const table = new RoutingTable(local, opts(), 0)
  assert.deepEqual(table.cplsToRefresh(0, 1000), [])
  assert.deepEqual(table.cplsToRefresh(1000, 1000), [0, 1])
  const [p] = peersInBucket(rng, local, 252, 1) as [PeerId] // cpl 3
  table.update(p, [], 'connected', 1500)
  assert.deepEqual(table.cplsToRefresh(2000, 1000), [0, 1, 2, 4])
  table.markRefreshed(randomKeyForCpl(table.localHash, 0, n => rng.bytes(n)).hash, 2000)
  assert.deepEqual(table.cplsToRefresh(2000, 1000), [1, 2, 4])
  assert.ok(table.cplsToRefresh(1e9, 1000).length <= 16)
})

test('admission checks: bounded concurrency, bounded queue, deadlines', () => {
  const rng = new Rng(11)
  const q = new AdmissionQueue(2, 100)
  const peers = Array.from({ length: 5 }, () => randomPeerId(rng))
  for (const p of peers) assert.equal(q.enqueue(p, []), true)
  assert.equal(q.enqueue(peers[0] as PeerId, [multiaddr('/ip4/1.2.3.4/tcp/1')]), false)
  const first = q.start(0)
  assert.equal(first.length, 2)
  assert.equal(first[0]?.addrs.length, 1)
  assert.deepEqual(q.start(0), [])
  assert.equal(q.finish(peers[0] as PeerId, true)?.peer.toString(), peers[0]?.toString())
  assert.equal(q.finish(peers[0] as PeerId, true), undefined)
  assert.equal(q.start(10).length, 1)
  assert.equal(q.inFlight, 2)
  assert.equal(q.nextDeadline(), 100)
  assert.deepEqual(q.expire(100).map(String), [peers[1]?.toString()])
  assert.equal(q.finish(peers[2] as PeerId, false), undefined)
  assert.equal(q.inFlight, 0)
  const big = new AdmissionQueue(1, 100)
  for (let i = 0; i < MAX_ADMISSION_QUEUE + 10; i++) big.enqueue(randomPeerId(rng), [])
  assert.equal(big.queued, MAX_ADMISSION_QUEUE)
  assert.equal(big.dropped, 10)
})
