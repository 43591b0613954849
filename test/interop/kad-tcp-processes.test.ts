/**
 * A Kademlia network of separate processes over loopback TCP (issue 5, item 10): N
 * `libp2p-native node` processes (default 30, `KAD_TCP_PROCESSES` to change) on a private prefix,
 * each bootstrapped from the first. A client in this process then finds every node, puts records
 * and provides keys with quorum; a second client reads them. Then every holder but one of each
 * record and more nodes up to 30% are killed, and after replication (2 s here) the records are
 * found again with quorum 3. Skipped when the native addon is not built.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { SwarmBuilder } from '../../src/core/swarm/builder.ts'
import { combine } from '../../src/core/combine.ts'
import { IdentifyBehaviour } from '../../src/protocols/identify/index.ts'
import { PingBehaviour } from '../../src/protocols/ping/index.ts'
import { Kademlia } from '../../src/protocols/kad/behaviour.ts'
import type { KadConfig } from '../../src/protocols/kad/config.ts'
import type { KadEvent, QueryId } from '../../src/protocols/kad/types.ts'
import { peerIdFromPrivateKey } from '../../src/identity/index.ts'
import { PeerId } from '../../src/identity/peer-id.ts'
import { parseMultiaddr, splitPeerId } from '../../src/utils/multiaddr.ts'

const addonBuilt = existsSync(new URL('../../build/Release/libp2p_native.node', import.meta.url)) || process.env.LIBP2P_NATIVE_ADDON !== undefined
const N = Number(process.env.KAD_TCP_PROCESSES ?? 30)
const skip = (!addonBuilt && 'native addon not built') || (N < 2 && 'KAD_TCP_PROCESSES < 2')
const BIN = new URL('../../bin/libp2p-native.js', import.meta.url).pathname
const REPLICATION_MS = 2_000
/** Records go to the 4 closest only (k stays 20), so killing holders matters until replication runs. */
const KAD: Partial<KadConfig> = {
  protocolPrefix: '/kad-tcp-test', replicationFactor: 4, resiliency: 3, replicationInterval: REPLICATION_MS, cachingMaxPeers: 0,
  // Refresh every 3 s so the tables converge while the test waits (10 min by default).
  refreshInterval: 3_000
}

interface Proc { child: ChildProcess, peerId: string, addr: string, tableSize: number }

async function startNode (dir: string, bootstrap: string[]): Promise<Proc> {
  const args = [BIN, 'node', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--quiet', '--accept-unknown-namespaces', '--kad-config', JSON.stringify(KAD)]
  for (const b of bootstrap) args.push('--bootstrap', b)
  mkdirSync(dir, { recursive: true })
  const child = spawn(process.execPath, args, { env: { ...process.env, LIBP2P_NATIVE_FROM_SOURCE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); if (process.env.KAD_TCP_KEEP !== undefined) appendFileSync(join(dir, 'err.log'), d) })
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node did not start: ${stderr}`)), 60_000)
    child.once('exit', code => { clearTimeout(timer); reject(new Error(`node exited with ${code}: ${stderr}`)) })
    let proc: Proc | undefined
    lines.on('line', line => {
      if (process.env.KAD_TCP_KEEP !== undefined) appendFileSync(join(dir, 'out.log'), `${line}\n`)
      const msg = JSON.parse(line) as { type: string, peerId: string, addrs: string[], tableSize?: number }
      if (msg.type === 'routingUpdated' && proc !== undefined) proc.tableSize = msg.tableSize ?? proc.tableSize
      if (msg.type !== 'listening') return
      clearTimeout(timer)
      proc = { child, peerId: msg.peerId, addr: msg.addrs[0] as string, tableSize: 0 }
      resolve(proc)
    })
  })
}

async function client (bootstrap: Proc[]) {
  const swarm = await SwarmBuilder.withNewIdentity().withTcp()
    .withBehaviour(key => combine({
      identify: new IdentifyBehaviour({ privateKey: key }),
      ping: new PingBehaviour({ intervalMs: 60_000 }),
      kad: new Kademlia({ peerId: peerIdFromPrivateKey(key), config: { ...KAD, mode: 'client', autoRefresh: false }, acceptUnknownNamespaces: true })
    })).withSwarmConfig({ idleConnectionTimeout: 60_000 }).build()
  for (const b of bootstrap) {
    const { addr, peerId } = splitPeerId(parseMultiaddr(b.addr))
    swarm.behaviour.members.kad.addAddress(peerId as PeerId, addr)
  }
  return swarm
}
type Client = Awaited<ReturnType<typeof client>>
type Progress = Extract<KadEvent, { type: 'outboundQueryProgressed' }>

async function run (c: Client, start: (k: Kademlia) => QueryId, timeoutMs = 30_000): Promise<Progress[]> {
  let id = -1
  const events: Progress[] = []
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { c.off('behaviour', listener); reject(new Error(`query ${id} did not finish`)) }, timeoutMs)
    const listener = (e: any): void => {
      if (e.event.behaviour !== 'kad' || e.event.event.type !== 'outboundQueryProgressed' || e.event.event.id !== id) return
      events.push(e.event.event)
      if (e.event.event.step.last) { clearTimeout(timer); c.off('behaviour', listener); resolve(events) }
    }
    c.on('behaviour', listener)
    id = start(c.behaviour.members.kad)
  })
}

async function inBatches<T> (items: readonly T[], n: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: n }, async () => { while (next < items.length) { const i = next++; await fn(items[i] as T, i) } }))
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

test(`${N} node processes over loopback TCP: lookups, records and providers; records survive 30% killed`, { skip, timeout: 300_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'kad-tcp-'))
  const procs: Proc[] = []
  const clients: Client[] = []
  try {
    const first = await startNode(join(root, 'n0'), [])
    procs.push(first)
    // Each node bootstraps from node 0 and from the node started before it (a chain, so the
    // network is not a star around node 0). A node learns the address of a peer that dialled it
    // from identify, which reports the remote's listen addresses and protocols to kad.
    for (let i = 1; i < N; i++) procs.push(await startNode(join(root, `n${i}`), [first.addr, (procs[i - 1] as Proc).addr]))
    // Let the probes, bootstraps and a refresh round settle.
    await new Promise(resolve => setTimeout(resolve, 4_000))

    // The client enters through the first and the last node (nobody dialled the last one yet).
    const c1 = await client([first, procs[N - 1] as Proc])
    clients.push(c1)
    await run(c1, k => k.bootstrap())
    let found = 0
    const missed: string[] = []
    await inBatches(procs, 8, async (p) => {
      const r = (await run(c1, k => k.getClosestPeers(PeerId.parse(p.peerId)))).at(-1)?.result
      if (r?.type === 'getClosestPeers' && r.peers.some(x => x.peer.toString() === p.peerId)) found++
      else missed.push(`${procs.indexOf(p)}: ${JSON.stringify({ ...r, key: undefined, peers: r?.type === 'getClosestPeers' ? r.peers.length : undefined })}`)
    })
    // Issue 5: every node finds every other it is asked for. A node is findable only if the nodes
    // closest to it learned its address, which identify reports (a peer that dialled us is known
    // by no other means); now that identify completes between our nodes, all must be found.
    assert.ok(found === N, `${found}/${N} nodes found; missed ${missed.join('; ')}; table sizes ${procs.map(p => p.tableSize).join(',')}`)

    // Three records: killing all but one holder of each (about 3 × 3 nodes) stays within 30% of 30.
    const keys = Array.from({ length: 3 }, (_, i) => enc(`/tcp/rec-${i}`))
    await inBatches(keys, 4, async (key, i) => {
      const r = (await run(c1, k => k.putRecord({ key, value: enc(`v${i}`) }, { quorum: 3 }))).at(-1)?.result
      assert.ok(r?.type === 'putRecord' && r.success >= 3, JSON.stringify({ ...r, key: undefined }))
    })
    const cid = enc('tcp-provided-key')
    const prov = (await run(c1, k => k.startProviding(cid))).at(-1)?.result
    assert.ok(prov?.type === 'startProviding' && prov.success >= 3)

    const c2 = await client([procs[N - 1] as Proc])
    clients.push(c2)
    await run(c2, k => k.bootstrap())
    const holders = new Map<string, Set<string>>()
    await inBatches(keys, 4, async (key, i) => {
      // Quorum above the copies: the lookup runs to the end and reports every holder it met.
      const events = await run(c2, k => k.getRecord(key, { quorum: 10 }))
      const r = events.at(-1)?.result
      assert.ok(r?.type === 'getRecord' && r.count >= 3 && r.best !== undefined, JSON.stringify({ ...r, key: undefined, best: undefined }))
      assert.deepEqual(r.best.value, enc(`v${i}`))
      holders.set(`${i}`, new Set(events.flatMap(e => e.result.type === 'getRecord' && e.result.found?.peer !== undefined ? [e.result.found.peer.toString()] : [])))
    })
    const providers = (await run(c2, k => k.getProviders(cid))).flatMap(e => e.result.type === 'getProviders' ? e.result.providers : [])
    assert.ok(providers.some(p => p.peer.equals(c1.localPeerId)), 'the provider is found')

    // Kill every holder but one of each record, then others up to 30% (never a kept holder).
    const kept = new Set<string>()
    for (const hs of holders.values()) kept.add([...hs][0] as string)
    const victims = new Set<string>()
    for (const hs of holders.values()) for (const h of hs) if (!kept.has(h)) victims.add(h)
    for (const p of procs) if (victims.size < Math.ceil(N * 0.3) && !kept.has(p.peerId) && p !== first) victims.add(p.peerId)
    assert.ok(N - victims.size >= 4, `too few nodes would survive (${N - victims.size}); run with more processes`)
    for (const p of procs) if (victims.has(p.peerId)) p.child.kill('SIGKILL')
    await new Promise(resolve => setTimeout(resolve, 2 * REPLICATION_MS + 1_500))

    const c3 = await client(procs.filter(p => !victims.has(p.peerId)).slice(0, 3))
    clients.push(c3)
    await run(c3, k => k.bootstrap())
    await inBatches(keys, 4, async (key, i) => {
      const r = (await run(c3, k => k.getRecord(key, { quorum: 3 }))).at(-1)?.result
      assert.ok(r?.type === 'getRecord' && r.error === undefined && r.count >= 3, `record ${i} after killing ${victims.size}: ${JSON.stringify({ ...r, key: undefined, best: undefined })}`)
    })
    console.log(`# kad-tcp ${JSON.stringify({ processes: N, found, killed: victims.size, holdersBefore: [...holders.values()].map(h => h.size) })}`)
  } finally {
    await Promise.all(clients.map(async c => { await c.close() }))
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGTERM')
    await new Promise(resolve => setTimeout(resolve, 500))
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL')
    if (process.env.KAD_TCP_KEEP === undefined) rmSync(root, { recursive: true, force: true })
    else console.log(`# kept ${root}`)
  }
})
