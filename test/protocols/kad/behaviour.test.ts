/**
 * The Kademlia behaviour on a few nodes over the in-memory transport: every operation end to end,
 * query ids in every event, modes, cancellation, inbound filtering, lookup caching.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { closeAll } from '../../helpers/swarm.ts'
import { createKadSwarms, last, listenAddr, run, type KadSwarm } from './net.ts'
import type { KadEvent } from '../../../src/protocols/kad/types.ts'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const server = { config: { mode: 'server' as const, autoRefresh: false, admissionCheck: false }, acceptUnknownNamespaces: true }

/** A line: node i knows node i-1 only. */
function chain (swarms: KadSwarm[]): void {
  for (let i = 1; i < swarms.length; i++) {
    const prev = swarms[i - 1] as KadSwarm
    ;(swarms[i] as KadSwarm).behaviour.addAddress(prev.localPeerId, listenAddr(prev))
  }
}

test('closest peers: a node finds a peer it only reaches through others; ids repeat in events', async () => {
  const { swarms } = await createKadSwarms(6, () => server)
  try {
    chain(swarms)
    const first = swarms[0] as KadSwarm
    const lastNode = swarms[5] as KadSwarm
    // Bootstrap everyone so tables fill beyond the chain.
    for (const s of swarms.slice(1)) await run(s, k => k.bootstrap())
    const events = await run(lastNode, k => k.getClosestPeers(first.localPeerId))
    const ids = new Set(events.map(e => e.id))
    assert.equal(ids.size, 1)
    const r = last(events)
    assert.ok(r.type === 'getClosestPeers' && r.error === undefined)
    assert.ok(r.peers.some(p => p.peer.equals(first.localPeerId)), 'the target is among the closest peers')
    assert.ok(r.peers.every(p => !p.peer.equals(lastNode.localPeerId)))
    assert.ok((events.at(-1)?.stats.requests ?? 0) > 0)
  } finally {
    await closeAll(swarms)
  }
})

test('put and get a record with quorum; lookup caching writes it back', async () => {
  const { swarms } = await createKadSwarms(6, () => ({ ...server, config: { ...server.config, cachingMaxPeers: 1 } }))
  try {
    chain(swarms)
    for (const s of swarms.slice(1)) await run(s, k => k.bootstrap())
    // Node 0 never sent a request, so it knows nobody (no identify here): publish from node 1.
    const [, a, , , , f] = swarms as [KadSwarm, KadSwarm, KadSwarm, KadSwarm, KadSwarm, KadSwarm]
    const record = { key: enc('/test/hello'), value: enc('world') }
    const put = last(await run(a, k => k.putRecord(record, { quorum: 3 })))
    assert.ok(put.type === 'putRecord' && put.error === undefined && put.success >= 3, JSON.stringify(put))
    const holders = swarms.filter(s => s.behaviour.store.getRecord(record.key, Date.now()) !== undefined).length
    assert.ok(holders >= 4, `record held by ${holders} nodes`)
    const events = await run(f, k => k.getRecord(record.key, { quorum: 2 }))
    const found = events.filter(e => e.result.type === 'getRecord' && e.result.found !== undefined)
    assert.ok(found.length >= 2, `found ${found.length} copies`)
    const r = last(events)
    assert.ok(r.type === 'getRecord' && r.error === undefined && r.best !== undefined)
    assert.deepEqual(r.best.value, record.value)
    // Lookup caching: node 3 loses its copy; a lookup that hears it answer without the record
    // (quorum 5 is never met, so the lookup runs to the end) writes the best record back to it.
    const three = swarms[3] as KadSwarm
    three.behaviour.store.removeRecord(record.key)
    f.behaviour.store.removeRecord(record.key)
    const partial = last(await run(f, k => k.getRecord(record.key, { quorum: 5 })))
    assert.ok(partial.type === 'getRecord' && partial.error === 'quorumFailed' && partial.count === 4 && partial.best !== undefined)
    for (let i = 0; i < 50 && three.behaviour.store.getRecord(record.key, Date.now()) === undefined; i++) await new Promise(resolve => setTimeout(resolve, 10))
    assert.deepEqual(three.behaviour.store.getRecord(record.key, Date.now())?.value, record.value, 'written back to the closest peer that lacked it')
    const missing = last(await run(f, k => k.getRecord(enc('/test/missing'))))
    assert.ok(missing.type === 'getRecord' && missing.error === 'notFound')
  } finally {
    await closeAll(swarms)
  }
})

test('start providing, get providers, stop providing', async () => {
  const { swarms } = await createKadSwarms(6, () => server)
  try {
    chain(swarms)
    for (const s of swarms.slice(1)) await run(s, k => k.bootstrap())
    const [, a, , , , f] = swarms as [KadSwarm, KadSwarm, KadSwarm, KadSwarm, KadSwarm, KadSwarm]
    const key = enc('some-cid-bytes')
    const prov = last(await run(a, k => k.startProviding(key)))
    assert.ok(prov.type === 'startProviding' && prov.error === undefined && prov.success >= 1, JSON.stringify(prov))
    const events = await run(f, k => k.getProviders(key))
    const providers = events.flatMap(e => e.result.type === 'getProviders' ? e.result.providers : [])
    assert.ok(providers.some(p => p.peer.equals(a.localPeerId)))
    const withAddr = providers.find(p => p.peer.equals(a.localPeerId))
    assert.ok((withAddr?.addrs.length ?? 0) > 0, 'the provider record carries its addresses')
    a.behaviour.stopProviding(key)
    assert.equal([...a.behaviour.store.provided(a.localPeerId)].length, 0)
  } finally {
    await closeAll(swarms)
  }
})

test('a client never answers and never advertises the protocol', async () => {
  const { swarms } = await createKadSwarms(3, (i) => i === 2 ? { ...server, config: { ...server.config, mode: 'client' as const } } : server)
  try {
    const [a, b, c] = swarms as [KadSwarm, KadSwarm, KadSwarm]
    assert.equal(c.behaviour.mode, 'client')
    b.behaviour.addAddress(a.localPeerId, listenAddr(a))
    c.behaviour.addAddress(a.localPeerId, listenAddr(a))
    // The client can query...
    const r = last(await run(c, k => k.getClosestPeers(b.localPeerId)))
    assert.ok(r.type === 'getClosestPeers')
    assert.ok(!c.protocols.list().includes('/ipfs/kad/1.0.0'), 'client advertises no kad protocol')
    assert.ok(a.protocols.list().includes('/ipfs/kad/1.0.0'))
    // ...but a server that contacts it gets no answer: its request fails and the client never enters the table.
    a.behaviour.addAddress(c.localPeerId, listenAddr(c))
    const q = last(await run(a, k => k.getClosestPeers(c.localPeerId)))
    assert.ok(q.type === 'getClosestPeers')
    assert.ok(!q.peers.some(p => p.peer.equals(c.localPeerId)))
    assert.ok(!a.behaviour.table.has(c.localPeerId), 'a peer that refuses kad is removed from the table')
  } finally {
    await closeAll(swarms)
  }
})

test('mode auto follows confirmed external addresses and reports each switch', async () => {
  const { swarms } = await createKadSwarms(2, (i) => ({ config: { mode: i === 0 ? 'auto' as const : 'server' as const, autoRefresh: false } }))
  const [s, other] = swarms as [KadSwarm, KadSwarm]
  try {
    assert.equal(s.behaviour.mode, 'client')
    const modes: string[] = []
    s.on('behaviour', (e: { event: KadEvent }) => { if (e.event.type === 'modeChanged') modes.push(e.event.mode) })
    // A connection, so that a handler exists whose protocols the Swarm advertises.
    other.behaviour.addAddress(s.localPeerId, listenAddr(s))
    await run(other, k => k.getClosestPeers(new Uint8Array([1])))
    assert.ok(s.isConnected(other.localPeerId))
    assert.ok(!s.protocols.list().includes('/ipfs/kad/1.0.0'))
    s.addExternalAddress(listenAddr(s))
    assert.equal(s.behaviour.mode, 'server')
    await new Promise(resolve => setTimeout(resolve, 20))
    assert.ok(s.protocols.list().includes('/ipfs/kad/1.0.0'), 'a server advertises the protocol')
    s.removeExternalAddress(listenAddr(s))
    assert.equal(s.behaviour.mode, 'client')
    await new Promise(resolve => setTimeout(resolve, 20))
    assert.ok(!s.protocols.list().includes('/ipfs/kad/1.0.0'))
    assert.deepEqual(modes, ['server', 'client'])
  } finally {
    await closeAll(swarms)
  }
})

test('cancel ends a query with a last event carrying its id and error cancelled', async () => {
  const { swarms } = await createKadSwarms(2, () => server)
  try {
    const [a, b] = swarms as [KadSwarm, KadSwarm]
    b.behaviour.addAddress(a.localPeerId, listenAddr(a))
    const events = await run(b, k => { const id = k.getClosestPeers(new Uint8Array([1, 2, 3])); k.cancel(id); return id })
    assert.equal(events.length, 1)
    const r = last(events)
    assert.equal(r.error, 'cancelled')
    assert.equal(b.behaviour.cancel(events[0]?.id as number), false)
  } finally {
    await closeAll(swarms)
  }
})

test('inbound record filtering: with filterBoth records and providers wait for the application', async () => {
  const { swarms } = await createKadSwarms(2, (i) => i === 0 ? { ...server, config: { ...server.config, recordFiltering: 'filterBoth' as const } } : server)
  try {
    const [a, b] = swarms as [KadSwarm, KadSwarm]
    b.behaviour.addAddress(a.localPeerId, listenAddr(a))
    const inbound: KadEvent[] = []
    a.on('behaviour', (e: { event: KadEvent }) => { if (e.event.type === 'inboundRequest') inbound.push(e.event) })
    const record = { key: enc('/test/filtered'), value: enc('v') }
    const put = last(await run(b, k => k.putRecord(record)))
    assert.ok(put.type === 'putRecord' && put.success === 1)
    assert.equal(a.behaviour.store.getRecord(record.key, Date.now()), undefined, 'not stored before the application accepts it')
    const ev = inbound.find(e => e.type === 'inboundRequest' && e.request.type === 'putRecord')
    assert.ok(ev !== undefined && ev.type === 'inboundRequest' && ev.request.type === 'putRecord' && !ev.request.stored)
    a.behaviour.storeInboundRecord(ev.request.record)
    assert.deepEqual(a.behaviour.store.getRecord(record.key, Date.now())?.value, record.value)
  } finally {
    await closeAll(swarms)
  }
})

test('records under a namespace without validator are refused by default (Go)', async () => {
  const { swarms } = await createKadSwarms(1, () => ({ config: { mode: 'server' as const, autoRefresh: false } }))
  try {
    assert.throws(() => (swarms[0] as KadSwarm).behaviour.putRecord({ key: enc('/nope/x'), value: enc('v') }), /no validator for namespace 'nope'/)
  } finally {
    await closeAll(swarms)
  }
})

test('WAN and LAN DHTs side by side (Kubo): separate protocols, tables and stores; a private prefix is a separate overlay', async () => {
  const { combine } = await import('../../../src/core/combine.ts')
  const { Kademlia } = await import('../../../src/protocols/kad/behaviour.ts')
  const { Swarm } = await import('../../../src/core/swarm/swarm.ts')
  const { memory, MemoryNetwork } = await import('../../../src/transports/memory/index.ts')
  const { generateKeyPair, peerIdFromPrivateKey } = await import('../../../src/identity/index.ts')
  const { multiaddr } = await import('@multiformats/multiaddr')
  const network = new MemoryNetwork()
  const cfg = { mode: 'server' as const, autoRefresh: false, admissionCheck: false }
  const make = async (name: string, members: (peerId: import('../../../src/identity/peer-id.ts').PeerId) => Record<string, InstanceType<typeof Kademlia>>): Promise<any> => {
    const privateKey = generateKeyPair()
    const peerId = peerIdFromPrivateKey(privateKey)
    const swarm = new Swarm({ privateKey, peerId, transports: [memory({ network })], behaviour: combine(members(peerId)) })
    await swarm.listen(multiaddr(`/memory/kad-dual-${process.pid}-${name}`))
    return swarm
  }
  const dual = (peerId: import('../../../src/identity/peer-id.ts').PeerId): Record<string, InstanceType<typeof Kademlia>> => ({
    wan: new Kademlia({ peerId, config: cfg, acceptUnknownNamespaces: true }),
    lan: new Kademlia({ peerId, config: { ...cfg, protocolExtension: '/lan' }, acceptUnknownNamespaces: true })
  })
  const a = await make('a', dual)
  const b = await make('b', dual)
  const p = await make('p', (peerId) => ({ priv: new Kademlia({ peerId, config: { ...cfg, protocolPrefix: '/myapp' } }) }))
  const runOn = async (swarm: any, member: string, start: (k: InstanceType<typeof Kademlia>) => number): Promise<any> => {
    let id = -1
    const done = new Promise<any>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timeout')), 10_000)
      swarm.on('behaviour', (e: any) => {
        if (e.event.behaviour === member && e.event.event.type === 'outboundQueryProgressed' && e.event.event.id === id && e.event.event.step.last) { clearTimeout(timer); resolve(e.event.event.result) }
      })
    })
    id = start(swarm.behaviour.members[member])
    return await done
  }
  try {
    const addrA = a.listenAddresses()[0]
    b.behaviour.members.lan.addAddress(a.localPeerId, addrA)
    b.behaviour.members.wan.addAddress(a.localPeerId, addrA)
    const put = await runOn(b, 'lan', k => k.putRecord({ key: enc('/x/lan-only'), value: enc('v') }))
    assert.equal(put.success, 1)
    assert.ok(a.protocols.list().includes('/ipfs/kad/1.0.0') && a.protocols.list().includes('/ipfs/lan/kad/1.0.0'))
    assert.ok(a.behaviour.members.lan.store.getRecord(enc('/x/lan-only'), Date.now()) !== undefined)
    assert.equal(a.behaviour.members.wan.store.getRecord(enc('/x/lan-only'), Date.now()), undefined)
    const wanGet = await runOn(b, 'wan', k => k.getRecord(enc('/x/lan-only')))
    assert.equal(wanGet.error, 'notFound')
    // The private overlay cannot talk to A: its request is refused and A leaves its table.
    p.behaviour.members.priv.addAddress(a.localPeerId, addrA)
    const r = await runOn(p, 'priv', k => k.getClosestPeers(new Uint8Array([9])))
    assert.equal(r.peers.length, 0)
    assert.equal(p.behaviour.members.priv.table.size, 0)
  } finally {
    await Promise.all([a.close(), b.close(), p.close()])
  }
})

test('with a data directory the persistent store is the default and records survive a restart', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const { Kademlia } = await import('../../../src/protocols/kad/behaviour.ts')
  const { JournalRecordStore } = await import('../../../src/protocols/kad/store/journal.ts')
  const { LmdbRecordStore } = await import('../../../src/protocols/kad/store/lmdb.ts')
  const { generateKeyPair, peerIdFromPrivateKey } = await import('../../../src/identity/index.ts')
  const dir = mkdtempSync(join(tmpdir(), 'kad-datadir-'))
  const peerId = peerIdFromPrivateKey(generateKeyPair())
  const k1 = new Kademlia({ peerId, dataDir: dir, acceptUnknownNamespaces: true, config: { autoRefresh: false } })
  assert.ok(k1.store instanceof LmdbRecordStore, 'lmdb is the default persistent store (bench/kad/store.md)')
  k1.putRecord({ key: enc('/x/persist'), value: enc('kept') })
  k1.startProviding(enc('cid-persist'))
  await k1.store.close()
  const k2 = new Kademlia({ peerId, dataDir: dir, acceptUnknownNamespaces: true, config: { autoRefresh: false } })
  assert.deepEqual(k2.store.getRecord(enc('/x/persist'), Date.now())?.value, enc('kept'))
  assert.equal([...k2.store.provided(peerId)].length, 1)
  await k2.store.close()
  // The journal can still be asked for (the fallback that needs no native addon).
  const jdir = mkdtempSync(join(tmpdir(), 'kad-datadir-'))
  const k3 = new Kademlia({ peerId, dataDir: jdir, storeKind: 'journal', acceptUnknownNamespaces: true, config: { autoRefresh: false } })
  assert.ok(k3.store instanceof JournalRecordStore)
  await k3.store.close()
  rmSync(dir, { recursive: true })
  rmSync(jdir, { recursive: true })
})

test('wire: raw streams get answers, several requests share a stream, garbage and oversized frames are reset', async () => {
  const { encodeFrame, FrameDecoder } = await import('../../../src/protocols/kad/protocol.ts')
  const { decodeMessage, kadMessage, MessageType } = await import('../../../src/protocols/kad/message.ts')
  const { swarms } = await createKadSwarms(2, () => server)
  try {
    const [a, b] = swarms as [KadSwarm, KadSwarm]
    b.behaviour.addAddress(a.localPeerId, listenAddr(a))
    await run(b, k => k.getClosestPeers(new Uint8Array([1])))
    const conn = b.connections(a.localPeerId)[0]?.connection
    assert.ok(conn !== undefined)
    const readOne = async (stream: import('../../../src/core/stream.ts').Stream, d: InstanceType<typeof FrameDecoder>, it: AsyncIterator<Uint8Array>): Promise<ReturnType<typeof decodeMessage> | undefined> => {
      for (;;) {
        const body = d.next()
        if (body !== undefined) return decodeMessage(body)
        const { value, done } = await it.next()
        if (done === true) return undefined
        d.push(value)
      }
    }
    const stream = await conn.openStream('/ipfs/kad/1.0.0')
    const it = stream[Symbol.asyncIterator]()
    const d = new FrameDecoder()
    stream.send(encodeFrame(kadMessage(MessageType.FIND_NODE, { key: b.localPeerId.bytes })))
    const r1 = await readOne(stream, d, it)
    assert.equal(r1?.type, MessageType.FIND_NODE)
    assert.deepEqual(r1?.key, b.localPeerId.bytes)
    stream.send(encodeFrame(kadMessage(MessageType.PING)))
    const r2 = await readOne(stream, d, it)
    assert.equal(r2?.type, MessageType.PING, 'a second request on the same stream is answered')
    await stream.closeWrite()
    assert.equal(await readOne(stream, d, it), undefined, 'the server closes after our FIN')

    // A length prefix over the maximum: the server resets the stream without buffering.
    const bad = await conn.openStream('/ipfs/kad/1.0.0')
    bad.send(Uint8Array.from([0xff, 0xff, 0xff, 0x7f]))
    await assert.rejects(async () => { for await (const _ of bad) { /* drain */ } })
    // Garbage protobuf inside a valid frame: reset as well.
    const junk = await conn.openStream('/ipfs/kad/1.0.0')
    junk.send(Uint8Array.from([3, 0x0f, 0xff, 0xff]))
    await assert.rejects(async () => { for await (const _ of junk) { /* drain */ } })
    // The node still serves.
    const again = await conn.openStream('/ipfs/kad/1.0.0')
    again.send(encodeFrame(kadMessage(MessageType.PING)))
    const r3 = await readOne(again, new FrameDecoder(), again[Symbol.asyncIterator]())
    assert.equal(r3?.type, MessageType.PING)
    again.reset()
  } finally {
    await closeAll(swarms)
  }
})

test('automatic refresh: a bootstrap when the first peer enters the table, then every refreshInterval; none when disabled', async () => {
  const { swarms } = await createKadSwarms(3, (i) => ({
    acceptUnknownNamespaces: true,
    config: { mode: 'server' as const, admissionCheck: false, autoRefresh: i !== 2, refreshInterval: 300 }
  }))
  try {
    const [a, b, c] = swarms as [KadSwarm, KadSwarm, KadSwarm]
    const refreshes: number[] = []
    b.on('behaviour', (e: { event: KadEvent }) => {
      if (e.event.type === 'outboundQueryProgressed' && e.event.trigger === 'refresh' && e.event.step.last) refreshes.push(Date.now())
    })
    let cRefreshes = 0
    c.on('behaviour', (e: { event: KadEvent }) => { if (e.event.type === 'outboundQueryProgressed' && e.event.trigger === 'refresh') cRefreshes++ })
    b.behaviour.addAddress(a.localPeerId, listenAddr(a))
    c.behaviour.addAddress(a.localPeerId, listenAddr(a))
    for (let i = 0; i < 100 && refreshes.length < 2; i++) await new Promise(resolve => setTimeout(resolve, 20))
    assert.ok(refreshes.length >= 2, `refreshes: ${refreshes.length}`)
    assert.equal(cRefreshes, 0)
  } finally {
    await closeAll(swarms)
  }
})

test('an invalid inbound record is refused at once: the stream is reset, the sender fails fast', async () => {
  const { swarms } = await createKadSwarms(2, (i) => i === 0 ? { config: server.config } : server)
  try {
    const [a, b] = swarms as [KadSwarm, KadSwarm]
    b.behaviour.addAddress(a.localPeerId, listenAddr(a))
    const t0 = performance.now()
    const r = last(await run(b, k => k.putRecord({ key: enc('/zzz/x'), value: enc('v') })))
    assert.ok(r.type === 'putRecord' && r.success === 0 && r.error === 'quorumFailed')
    assert.ok(performance.now() - t0 < 2000, 'failed long before the 10 s request timeout')
    assert.equal(a.behaviour.store.getRecord(enc('/zzz/x'), Date.now()), undefined)
  } finally {
    await closeAll(swarms)
  }
})

test('a server learns peers that query it by probing them (Go lookup check); clients are not added', async () => {
  const { MemoryNetwork } = await import('../../../src/transports/memory/index.ts')
  const { createKadSwarm } = await import('./net.ts')
  const network = new MemoryNetwork()
  // No identify emulation here: the probe is the only way A learns B.
  const a = await createKadSwarm(network, server)
  const b = await createKadSwarm(network, server)
  const c = await createKadSwarm(network, { ...server, config: { ...server.config, mode: 'client' as const } })
  try {
    // What identify would report: B's listen address.
    a.behaviour.onSwarmEvent({ type: 'newExternalAddrOfPeer', peerId: b.localPeerId, address: listenAddr(b) })
    b.behaviour.addAddress(a.localPeerId, listenAddr(a))
    c.behaviour.addAddress(a.localPeerId, listenAddr(a))
    await run(b, k => k.getClosestPeers(new Uint8Array([7])))
    await run(c, k => k.getClosestPeers(new Uint8Array([8])))
    for (let i = 0; i < 100 && !a.behaviour.table.has(b.localPeerId); i++) await new Promise(resolve => setTimeout(resolve, 10))
    assert.ok(a.behaviour.table.has(b.localPeerId), 'the server that queried A was probed and added')
    assert.ok(a.behaviour.table.get(b.localPeerId)?.addrs.some(x => x.equals(listenAddr(b))))
    await run(c, k => k.getClosestPeers(new Uint8Array([9])))
    assert.ok(!a.behaviour.table.has(c.localPeerId), 'a client is never added')
  } finally {
    await closeAll([a, b, c])
  }
})

test('setMode switches at run time and reports it; invalid modes are refused', async () => {
  const { swarms } = await createKadSwarms(1, () => ({ config: { mode: 'client' as const, autoRefresh: false } }))
  const s = swarms[0] as KadSwarm
  try {
    const modes: string[] = []
    s.on('behaviour', (e: { event: KadEvent }) => { if (e.event.type === 'modeChanged') modes.push(e.event.mode) })
    s.behaviour.setMode('server')
    assert.equal(s.behaviour.mode, 'server')
    assert.equal(s.behaviour.configuredModeSetting, 'server')
    s.behaviour.setMode('auto')
    assert.equal(s.behaviour.mode, 'client', 'auto without a confirmed external address is a client')
    assert.throws(() => s.behaviour.setMode('peer' as never), /mode must be/)
    await new Promise(resolve => setTimeout(resolve, 20))
    assert.deepEqual(modes, ['server', 'client'])
  } finally {
    await closeAll(swarms)
  }
})

test('disabled value and provider stores (private prefix): local calls throw, remote requests are refused', async () => {
  const priv = { protocolPrefix: '/kad-private-test', autoRefresh: false, admissionCheck: false, mode: 'server' as const }
  const { swarms } = await createKadSwarms(2, (i) => ({
    acceptUnknownNamespaces: true,
    config: i === 0 ? { ...priv, enableValues: false, enableProviders: false } : priv
  }))
  try {
    const [a, b] = swarms as [KadSwarm, KadSwarm]
    assert.throws(() => a.behaviour.getRecord(enc('/x/1')), /value store is disabled/)
    assert.throws(() => a.behaviour.putRecord({ key: enc('/x/1'), value: enc('v') }), /value store is disabled/)
    assert.throws(() => a.behaviour.startProviding(enc('k')), /provider store is disabled/)
    assert.throws(() => a.behaviour.getProviders(enc('k')), /provider store is disabled/)
    assert.throws(() => a.behaviour.bootstrap(), /no known peers/)
    assert.throws(() => b.behaviour.getRecord(enc('/x/1'), { quorum: 0 }), /quorum/)
    b.behaviour.addAddress(a.localPeerId, listenAddr(a))
    const put = last(await run(b, k => k.putRecord({ key: enc('/x/1'), value: enc('v') })))
    assert.ok(put.type === 'putRecord' && put.success === 0)
    const prov = last(await run(b, k => k.startProviding(enc('k'))))
    assert.ok(prov.type === 'startProviding')
    assert.equal(a.behaviour.store.stats().providers, 0, 'the disabled node stored no provider')
    // FIND_NODE is still answered.
    const closest = last(await run(b, k => k.getClosestPeers(a.localPeerId)))
    assert.ok(closest.type === 'getClosestPeers' && closest.peers.some(p => p.peer.equals(a.localPeerId)))
  } finally {
    await closeAll(swarms)
  }
})
