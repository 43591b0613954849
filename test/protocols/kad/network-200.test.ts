/**
 * 200 Kademlia nodes in one process over the in-memory transport (issue 5, item 10): after each
 * node bootstraps from two known peers, every node finds the peer it is asked for, and records
 * and providers are found with their quorum. Runs in well under a minute.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { closeAll } from '../../helpers/swarm.ts'
import { createKadSwarms, last, listenAddr, run, type KadSwarm } from './net.ts'
import { Rng } from './rng.ts'

const N = Number(process.env.KAD_TEST_NODES ?? 200)
/** Operations in flight at once across the test (keeps the event loop responsive on 2 cores). */
const CONCURRENCY = 25
const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

async function inBatches<T> (items: readonly T[], fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < items.length) {
      const i = next++
      await fn(items[i] as T, i)
    }
  }))
}

test(`${N} nodes: every lookup finds its peer; records and providers are found with quorum`, { timeout: 120_000 }, async () => {
  const started = performance.now()
  const rng = new Rng(200)
  const { swarms } = await createKadSwarms(N, () => ({
    config: { mode: 'server' as const, autoRefresh: false, admissionCheck: false, alpha: 3, ipDiversity: null },
    acceptUnknownNamespaces: true
  }))
  try {
    // Each node knows node 0 and one random earlier node.
    for (let i = 1; i < N; i++) {
      const s = swarms[i] as KadSwarm
      for (const j of new Set([0, rng.int(i)])) {
        const peer = swarms[j] as KadSwarm
        s.behaviour.addAddress(peer.localPeerId, listenAddr(peer))
      }
    }
    await inBatches(swarms.slice(1), async (s) => {
      const r = last(await run(s, k => k.bootstrap(), 30_000))
      assert.equal(r.type, 'bootstrap')
    })
    const bootstrapped = performance.now()
    const sizes = swarms.map(s => s.behaviour.table.size).sort((a, b) => a - b)

    // Every node looks up another node and finds it.
    const messages: number[] = []
    const hops: number[] = []
    let found = 0
    await inBatches(swarms, async (s, i) => {
      const target = swarms[(i * 7 + 13) % N === i ? (i + 1) % N : (i * 7 + 13) % N] as KadSwarm
      const events = await run(s, k => k.getClosestPeers(target.localPeerId), 30_000)
      const r = last(events)
      assert.ok(r.type === 'getClosestPeers')
      if (r.peers.some(p => p.peer.equals(target.localPeerId))) found++
      const stats = events.at(-1)?.stats
      messages.push(stats?.requests ?? 0)
      hops.push(stats?.hops ?? 0)
    })
    assert.equal(found, N, `${found}/${N} lookups found their peer`)

    // Records: 20 publishers with quorum 3, each read by another node with quorum 3.
    const publishers = Array.from({ length: 20 }, (_, i) => swarms[(i * 11 + 5) % N] as KadSwarm)
    await inBatches(publishers, async (s, i) => {
      const r = last(await run(s, k => k.putRecord({ key: enc(`/test/key-${i}`), value: enc(`value-${i}`) }, { quorum: 3 }), 30_000))
      assert.ok(r.type === 'putRecord' && r.error === undefined && r.success >= 3, JSON.stringify({ ...r, key: undefined }))
    })
    await inBatches(publishers, async (_s, i) => {
      const reader = swarms[(i * 13 + 101) % N] as KadSwarm
      const r = last(await run(reader, k => k.getRecord(enc(`/test/key-${i}`), { quorum: 3 }), 30_000))
      assert.ok(r.type === 'getRecord' && r.error === undefined && r.count >= 3, JSON.stringify({ ...r, key: undefined }))
      assert.deepEqual(r.best?.value, enc(`value-${i}`))
    })

    // Providers: 20 providers, each found by another node.
    await inBatches(publishers, async (s, i) => {
      const r = last(await run(s, k => k.startProviding(enc(`cid-${i}`)), 30_000))
      assert.ok(r.type === 'startProviding' && r.error === undefined && r.success >= 3)
    })
    await inBatches(publishers, async (s, i) => {
      const reader = swarms[(i * 17 + 53) % N] as KadSwarm
      const events = await run(reader, k => k.getProviders(enc(`cid-${i}`), { count: 1 }), 30_000)
      const providers = events.flatMap(e => e.result.type === 'getProviders' ? e.result.providers : [])
      assert.ok(providers.some(p => p.peer.equals(s.localPeerId)), `provider ${i} found`)
    })

    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
    const report = {
      nodes: N,
      bootstrapMs: Math.round(bootstrapped - started),
      totalMs: Math.round(performance.now() - started),
      tableSize: { min: sizes[0], median: median(sizes), max: sizes.at(-1) },
      lookup: { medianMessages: median(messages), medianHops: median(hops) }
    }
    console.log(`# kad-200 ${JSON.stringify(report)}`)
  } finally {
    await closeAll(swarms)
  }
})

test(`${N} nodes: after 30% of the nodes are killed, records are found again once replication has run`, { timeout: 120_000 }, async () => {
  const rng = new Rng(300)
  const REPLICATION_MS = 2_000
  const RECORDS = 10
  const { swarms } = await createKadSwarms(N, () => ({
    // Private prefix: k stays 20, but records go to the 5 closest only, so that killing most of
    // them leaves too few copies until replication copies them to the new closest peers.
    config: {
      mode: 'server' as const, autoRefresh: false, admissionCheck: false, alpha: 3, ipDiversity: null,
      protocolPrefix: '/kad-test', replicationFactor: 5, resiliency: 3, cachingMaxPeers: 0,
      replicationInterval: REPLICATION_MS, publicationInterval: 3_600_000, recordTtl: 7_200_000
    },
    acceptUnknownNamespaces: true
  }))
  const alive = new Set(swarms)
  try {
    for (let i = 1; i < N; i++) {
      const s = swarms[i] as KadSwarm
      for (const j of new Set([0, rng.int(i)])) s.behaviour.addAddress((swarms[j] as KadSwarm).localPeerId, listenAddr(swarms[j] as KadSwarm))
    }
    await inBatches(swarms.slice(1), async (s) => { await run(s, k => k.bootstrap(), 30_000) })
    const keys = Array.from({ length: RECORDS }, (_, i) => enc(`/test/churn-${i}`))
    const publishers = keys.map((_, i) => swarms[(i * 19 + 7) % N] as KadSwarm)
    await inBatches(keys, async (key, i) => {
      const r = last(await run(publishers[i] as KadSwarm, k => k.putRecord({ key, value: enc(`v${i}`) }, { quorum: 3 }), 30_000))
      assert.ok(r.type === 'putRecord' && r.success >= 3)
    })
    // Kill each record's publisher and every holder but one, then random nodes up to 30%.
    const now = Date.now()
    const pubs = new Set(publishers)
    const holdersOf = keys.map(key => swarms.filter(s => s.behaviour.store.getRecord(key, now) !== undefined))
    // One survivor per record (never a publisher); every other holder and every publisher dies.
    const kept = new Set<KadSwarm>()
    for (const holders of holdersOf) {
      const survivor = holders.find(h => !pubs.has(h))
      assert.ok(survivor !== undefined)
      kept.add(survivor)
    }
    const victims = new Set<KadSwarm>(publishers)
    for (const holders of holdersOf) for (const h of holders) if (!kept.has(h)) victims.add(h)
    const target = Math.floor(N * 0.3)
    while (victims.size < target) {
      const v = swarms[rng.int(N)] as KadSwarm
      if (!kept.has(v)) victims.add(v)
    }
    const readers = swarms.filter(s => !victims.has(s))
    const holdersBefore = keys.map(key => readers.filter(s => s.behaviour.store.getRecord(key, now) !== undefined).length)
    assert.ok(holdersBefore.every(h => h >= 1 && h <= 2), `one copy (two where survivors overlap) left per record: ${holdersBefore.join(',')}`)
    await Promise.all([...victims].map(async s => { alive.delete(s); await s.close() }))
    assert.ok(victims.size >= target)

    // Replication runs every 2 s on every live holder: wait for two rounds.
    await new Promise(resolve => setTimeout(resolve, 2 * REPLICATION_MS + 500))
    const holdersAfter = keys.map(key => readers.filter(s => s.behaviour.store.getRecord(key, Date.now()) !== undefined).length)
    assert.ok(holdersAfter.every(h => h >= 3), `copies after replication: ${holdersAfter.join(',')}`)
    await inBatches(keys, async (key, i) => {
      const reader = readers[(i * 23 + 3) % readers.length] as KadSwarm
      const r = last(await run(reader, k => k.getRecord(key, { quorum: 3 }), 30_000))
      assert.ok(r.type === 'getRecord' && r.error === undefined && r.count >= 3, JSON.stringify({ ...r, key: undefined, best: undefined }))
      assert.deepEqual(r.best?.value, enc(`v${i}`))
    })
    console.log(`# kad-churn ${JSON.stringify({ nodes: N, killed: victims.size, copiesBefore: holdersBefore, copiesAfter: holdersAfter })}`)
  } finally {
    await closeAll([...alive])
  }
})
