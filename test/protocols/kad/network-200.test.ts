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
