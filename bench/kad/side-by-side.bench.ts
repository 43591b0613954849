/**
 * Lookups on a network of our nodes and on a network of js-libp2p @libp2p/kad-dht nodes of the
 * same size, side by side in one process over loopback TCP: messages and wall-clock latency per
 * lookup (getClosestPeers of a random node, from a random node). Both use α = 3, k = 20 (js's
 * defaults; ours configured to match) on a private protocol prefix. Prints one JSON line per side.
 *   node --import tsx bench/kad/side-by-side.bench.ts [nodes=30] [lookups=60] [side=both|ours|js]
 * `side` runs one network per process (at 200 nodes each, two networks in one process would share
 * one event loop and heap). Each line also gives the set-up time and the process's peak RSS.
 * Each node bootstraps from node 0 and its predecessor; tables then fill from identify and
 * lookups. Needs the native addon.
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
import { SwarmBuilder } from '../../src/core/swarm/builder.ts'
import { combine } from '../../src/core/combine.ts'
import { IdentifyBehaviour } from '../../src/protocols/identify/index.ts'
import { PingBehaviour } from '../../src/protocols/ping/index.ts'
import { Kademlia } from '../../src/protocols/kad/behaviour.ts'
import type { KadEvent, QueryId } from '../../src/protocols/kad/types.ts'
import { peerIdFromPrivateKey } from '../../src/identity/index.ts'

const N = Number(process.argv[2] ?? 30)
const LOOKUPS = Number(process.argv[3] ?? 60)
const SIDE = process.argv[4] ?? 'both'
if (!['both', 'ours', 'js'].includes(SIDE)) throw new Error(`side must be both, ours or js, not ${SIDE}`)
/** Set-up time (node start, bootstrap) and peak RSS so far, printed with each side's figures. */
/** Set-up progress on stderr, so a run that does not finish still shows how far it got. */
const progress = (side: string, t0: number, what: string): void => { process.stderr.write(`# ${side} ${((performance.now() - t0) / 1000).toFixed(1)} s: ${what}, rss ${Math.round(process.memoryUsage.rss() / 2 ** 20)} MiB\n`) }
const cost = (setupMs: number) => ({ setupS: +(setupMs / 1000).toFixed(1), peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) })
const PROTOCOL_PREFIX = '/bench-kad'
let seed = 7
function rand (n: number): number { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n }
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
const p90 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)] as number

async function ourNode () {
  const s = await SwarmBuilder.withNewIdentity().withTcp().withBehaviour(key => combine({
    identify: new IdentifyBehaviour({ privateKey: key }),
    ping: new PingBehaviour({ intervalMs: 60_000 }),
    kad: new Kademlia({ peerId: peerIdFromPrivateKey(key), config: { mode: 'server', protocolPrefix: PROTOCOL_PREFIX, alpha: 3, autoRefresh: false, admissionCheck: false } })
  })).withSwarmConfig({ idleConnectionTimeout: 120_000 }).build()
  await s.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
  return s
}

async function ours (): Promise<void> {
  const t0 = performance.now()
  const nodes: Array<Awaited<ReturnType<typeof ourNode>>> = []
  for (let i = 0; i < N; i++) nodes.push(await ourNode())
  const addr = (i: number) => (nodes[i] as typeof nodes[number]).listenAddresses()[0] as ReturnType<typeof multiaddr>
  const runQ = async (s: typeof nodes[number], start: (k: Kademlia) => QueryId): Promise<Extract<KadEvent, { type: 'outboundQueryProgressed' }>> => {
    let id = -1
    return await new Promise(resolve => {
      const l = (e: any): void => {
        if (e.event.behaviour === 'kad' && e.event.event.type === 'outboundQueryProgressed' && e.event.event.id === id && e.event.event.step.last) { s.off('behaviour', l); resolve(e.event.event) }
      }
      s.on('behaviour', l)
      id = start(s.behaviour.members.kad)
    })
  }
  for (let i = 1; i < N; i++) {
    const s = nodes[i] as typeof nodes[number]
    s.behaviour.members.kad.addAddress((nodes[0] as typeof nodes[number]).localPeerId, addr(0))
    s.behaviour.members.kad.addAddress((nodes[i - 1] as typeof nodes[number]).localPeerId, addr(i - 1))
    await runQ(s, k => k.bootstrap())
  }
  const setup = performance.now() - t0
  const msgs: number[] = []
  const ms: number[] = []
  let found = 0
  for (let q = 0; q < LOOKUPS; q++) {
    const from = nodes[rand(N)] as typeof nodes[number]
    const target = (nodes[rand(N)] as typeof nodes[number]).localPeerId
    const t0 = performance.now()
    const r = await runQ(from, k => k.getClosestPeers(target))
    ms.push(performance.now() - t0)
    msgs.push(r.stats.requests)
    if (r.result.type === 'getClosestPeers' && (r.result.peers.some(p => p.peer.equals(target)) || from.localPeerId.equals(target))) found++
  }
  console.log(JSON.stringify({ side: 'libp2p-native', nodes: N, lookups: LOOKUPS, found, medianMessages: median(msgs), p90Messages: p90(msgs), medianMs: +median(ms).toFixed(1), p90Ms: +p90(ms).toFixed(1), ...cost(setup) }))
  await Promise.all(nodes.map(async s => { await s.close() }))
}

async function js (): Promise<void> {
  const t0 = performance.now()
  const nodes = []
  for (let i = 0; i < N; i++) {
    nodes.push(await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: {
        ping: ping(),
        identify: identify(),
        dht: kadDHT({ protocol: `${PROTOCOL_PREFIX}/kad/1.0.0`, clientMode: false, peerInfoMapper: passthroughMapper, allowQueryWithZeroPeers: true })
      },
      connectionManager: { maxConnections: 10_000, inboundConnectionThreshold: 1_000_000 }
    }))
  }
  progress('js', t0, `${N} nodes started`)
  for (let i = 1; i < N; i++) {
    await (nodes[i] as typeof nodes[number]).dial((nodes[0] as typeof nodes[number]).getMultiaddrs()[0] as never)
    await (nodes[i] as typeof nodes[number]).dial((nodes[i - 1] as typeof nodes[number]).getMultiaddrs()[0] as never)
  }
  await new Promise(resolve => setTimeout(resolve, 2_000))
  progress('js', t0, 'dialled')
  for (let i = 1; i < N; i++) {
    if (i % 20 === 0) progress('js', t0, `${i} bootstrap lookups`)
    for await (const ev of (nodes[i] as typeof nodes[number]).services.dht.getClosestPeers((nodes[i] as typeof nodes[number]).peerId.toMultihash().bytes)) void ev
  }
  const setup = performance.now() - t0
  const msgs: number[] = []
  const ms: number[] = []
  let found = 0
  for (let q = 0; q < LOOKUPS; q++) {
    const from = nodes[rand(N)] as typeof nodes[number]
    const target = (nodes[rand(N)] as typeof nodes[number]).peerId
    const t0 = performance.now()
    let sent = 0
    let hit = from.peerId.equals(target)
    for await (const ev of from.services.dht.getClosestPeers(target.toMultihash().bytes)) {
      if (ev.name === 'SEND_QUERY') sent++
      if (ev.name === 'FINAL_PEER' && ev.peer.id.equals(target)) hit = true
    }
    ms.push(performance.now() - t0)
    msgs.push(sent)
    if (hit) found++
  }
  console.log(JSON.stringify({ side: '@libp2p/kad-dht', nodes: N, lookups: LOOKUPS, found, medianMessages: median(msgs), p90Messages: p90(msgs), medianMs: +median(ms).toFixed(1), p90Ms: +p90(ms).toFixed(1), ...cost(setup) }))
  await Promise.all(nodes.map(async n => { await n.stop() }))
}

if (SIDE !== 'js') await ours()
seed = 7
if (SIDE !== 'ours') await js()
