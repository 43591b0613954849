/**
 * Kademlia interop with js-libp2p 3's @libp2p/kad-dht over TCP on loopback, both directions:
 * closest peers, put and get of a record, provide and find providers. Our node runs identify and
 * kad in server mode; theirs runs identify, ping and kad-dht in server mode with the passthrough
 * address mapper (loopback addresses are private). Skipped when the native addon is not built.
 */
import '../helpers/polyfill.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { ping } from '@libp2p/ping'
import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { peerIdFromString } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { SwarmBuilder } from '../../src/core/swarm/builder.ts'
import { combine } from '../../src/core/combine.ts'
import { IdentifyBehaviour } from '../../src/protocols/identify/index.ts'
import { Kademlia } from '../../src/protocols/kad/behaviour.ts'
import { PingBehaviour } from '../../src/protocols/ping/index.ts'
import type { KadEvent, QueryId } from '../../src/protocols/kad/types.ts'
import { generateKeyPair, peerIdFromPrivateKey } from '../../src/identity/index.ts'
import { PeerId } from '../../src/identity/peer-id.ts'

const addonBuilt = existsSync(new URL('../../build/Release/libp2p_native.node', import.meta.url)) || process.env.LIBP2P_NATIVE_ADDON !== undefined
const skip = !addonBuilt && 'native addon not built'

async function ours () {
  const swarm = await SwarmBuilder.withNewIdentity()
    .withTcp()
    .withBehaviour(key => combine({
      identify: new IdentifyBehaviour({ privateKey: key }),
      // js-libp2p's kad-dht pings (/ipfs/ping/1.0.0) a new contact before adding it to its table.
      ping: new PingBehaviour({ intervalMs: 60_000 }),
      kad: new Kademlia({ peerId: peerIdFromPrivateKey(key), config: { mode: 'server', autoRefresh: false, admissionCheck: false } })
    }))
    .withSwarmConfig({ idleConnectionTimeout: 30_000 })
    .build()
  await swarm.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
  return swarm
}
type Ours = Awaited<ReturnType<typeof ours>>

async function theirs () {
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      ping: ping(),
      identify: identify(),
      dht: kadDHT({ clientMode: false, peerInfoMapper: passthroughMapper, allowQueryWithZeroPeers: true })
    }
  })
}

async function runKad (swarm: Ours, start: (k: Kademlia) => QueryId, timeoutMs = 15_000): Promise<Array<Extract<KadEvent, { type: 'outboundQueryProgressed' }>>> {
  let id = -1
  const events: Array<Extract<KadEvent, { type: 'outboundQueryProgressed' }>> = []
  const done = new Promise<typeof events>((resolve, reject) => {
    const timer = setTimeout(() => { swarm.off('behaviour', listener); reject(new Error(`kad query ${id} did not finish`)) }, timeoutMs)
    const listener = (e: any): void => {
      if (e.event.behaviour !== 'kad' || e.event.event.type !== 'outboundQueryProgressed' || e.event.event.id !== id) return
      events.push(e.event.event)
      if (e.event.event.step.last) { clearTimeout(timer); swarm.off('behaviour', listener); resolve(events) }
    }
    swarm.on('behaviour', listener)
  })
  id = start(swarm.behaviour.members.kad)
  return await done
}

async function waitUntil (cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (cond()) return
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`)
}

/** A /pk/ record (valid under both implementations' built-in validator). */
function pkRecord (): { key: Uint8Array, value: Uint8Array } {
  const k = generateKeyPair()
  const id = peerIdFromPrivateKey(k)
  return { key: new Uint8Array([...new TextEncoder().encode('/pk/'), ...id.bytes]), value: k.publicKey.toProtobuf() }
}

async function cidOf (text: string): Promise<CID> {
  return CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(text)))
}

test('kad interop with @libp2p/kad-dht: closest peers, records and providers in both directions', { skip, timeout: 90_000 }, async () => {
  const a = await ours()
  const js = await theirs()
  try {
    const kad = a.behaviour.members.kad
    const jsPeer = js.peerId.toString()
    const jsAddr = js.getMultiaddrs()[0]
    assert.ok(jsAddr !== undefined)
    const jsPeerOurs = PeerId.parse(jsPeer)
    kad.addAddress(jsPeerOurs, multiaddr(jsAddr.toString().split('/p2p/')[0] as string))

    // Ours → theirs: FIND_NODE answered by js; js learns us through identify and adds us.
    const closest = await runKad(a, k => k.getClosestPeers(jsPeerOurs))
    const last = closest.at(-1)?.result
    assert.ok(last?.type === 'getClosestPeers' && last.error === undefined)
    assert.ok(last.peers.some(p => p.peer.equals(jsPeerOurs)), `js node is among the closest peers: ${JSON.stringify(closest.at(-1)?.stats)}`)
    // js adds a peer to its table once identify reports the kad protocol and the peer answers a
    // libp2p ping; it usually does here, but identify between our node and js-libp2p is not yet
    // reliable (test/interop/swarm-js-libp2p.test.ts fails), so after a grace period we add
    // ourselves to js's table directly. Every kad message below is real either way.
    // (`routingTable` is on the implementation, not on the KadDHT interface.)
    const jsTable = (js.services.dht as unknown as { routingTable: { size: number, add: (p: ReturnType<typeof peerIdFromString>) => Promise<void> } }).routingTable
    try {
      await waitUntil(() => jsTable.size > 0, 3_000, 'js adds us to its routing table')
    } catch {
      await jsTable.add(peerIdFromString(a.localPeerId.toString()))
    }
    assert.ok(jsTable.size > 0)

    // Theirs → ours: js's lookup sends FIND_NODE to us and names us as a closest peer.
    const ourPeerJs = peerIdFromString(a.localPeerId.toString())
    let jsFoundUs = false
    for await (const ev of js.services.dht.getClosestPeers(ourPeerJs.toMultihash().bytes)) {
      if (ev.name === 'FINAL_PEER' && ev.peer.id.equals(ourPeerJs)) jsFoundUs = true
    }
    assert.ok(jsFoundUs, 'js getClosestPeers returns our node')

    // Records, ours → theirs: our PUT_VALUE is stored by js; then our GET_VALUE reads it back from js.
    const x = pkRecord()
    const put = (await runKad(a, k => k.putRecord(x, { quorum: 1 }))).at(-1)?.result
    assert.ok(put?.type === 'putRecord' && put.success === 1, JSON.stringify(put))
    kad.store.removeRecord(x.key)
    const got = (await runKad(a, k => k.getRecord(x.key))).at(-1)?.result
    assert.ok(got?.type === 'getRecord' && got.error === undefined && got.best !== undefined, JSON.stringify(got))
    assert.deepEqual(got.best.value, x.value)

    // Records, theirs → ours: js's PUT_VALUE lands in our store; js's GET_VALUE reads one only we hold.
    const y = pkRecord()
    for await (const ev of js.services.dht.put(y.key, y.value)) void ev
    await waitUntil(() => kad.store.getRecord(y.key, Date.now()) !== undefined, 5_000, 'our store holds the record js put')
    const w = pkRecord()
    kad.store.putRecord({ key: w.key, value: w.value, publisher: undefined, timeReceived: Date.now(), expires: Date.now() + 60_000 })
    let jsGot: Uint8Array | undefined
    for await (const ev of js.services.dht.get(w.key)) {
      if (ev.name === 'VALUE' && ev.from.equals(ourPeerJs)) jsGot = new Uint8Array(ev.value)
    }
    assert.deepEqual(jsGot, w.value, 'js GET_VALUE gets our record')

    // Providers, ours → theirs.
    const cidA = await cidOf('ours provides this')
    const prov = (await runKad(a, k => k.startProviding(cidA.multihash.bytes))).at(-1)?.result
    assert.ok(prov?.type === 'startProviding' && prov.success === 1, JSON.stringify(prov))
    let jsFoundProvider = false
    for await (const ev of js.services.dht.findProviders(cidA)) {
      if (ev.name === 'PROVIDER' && ev.providers.some(p => p.id.equals(ourPeerJs))) jsFoundProvider = true
    }
    assert.ok(jsFoundProvider, 'js finds our node as provider')

    // Providers, theirs → ours.
    const cidB = await cidOf('js provides this')
    for await (const ev of js.services.dht.provide(cidB)) void ev
    await waitUntil(() => kad.store.getProviders(cidB.multihash.bytes, Date.now()).length > 0, 5_000, 'our store holds js as provider')
    kad.store.removeProvider(cidB.multihash.bytes, jsPeerOurs)
    const providers = (await runKad(a, k => k.getProviders(cidB.multihash.bytes)))
      .flatMap(e => e.result.type === 'getProviders' ? e.result.providers : [])
    assert.ok(providers.some(p => p.peer.equals(jsPeerOurs)), 'we find js as provider through its GET_PROVIDERS answer')
  } finally {
    await js.stop()
    await a.close()
  }
})
