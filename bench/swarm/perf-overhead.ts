/**
 * The issue's Swarm-overhead target: "a perf run through a full Swarm (ping, identify and perf
 * combined) within 5% of the bare-connection perf figure from the same run".
 *
 *   node --import tsx bench/swarm/perf-overhead.ts [bytes=268435456] [rounds=5] [tcp|memory]
 *
 * (LIBP2P_NATIVE_ADDON=<dir>/Release/libp2p_native.node to use another build of the addon.)
 *
 * One process holds both pairs over the same transport (native TCP by default, one I/O thread per
 * host, each its default): a bare pair (a client transport dialing a server transport that serves
 * `/perf/1.0.0` from protocol.ts's handlePerfStream, with runPerf on the Connection) and a Swarm
 * pair (two Swarms combining ping at its default 15 s interval, identify and perf; the run goes
 * through PerfBehaviour.perf → the handler → a Swarm-opened stream). Both runs upload and download
 * `bytes` in 256 KiB sends (PERF_SEND_BUFFER_SIZE for both client paths).
 *
 * Time: wall clock in this bench, from the call (runPerf / perf()) to its result, so the Swarm's
 * dispatch (behaviour poll, notifyHandler, outbound stream request, negotiation) is charged to the
 * Swarm; the protocol's own timeSeconds (which starts after the stream is open on the Swarm path)
 * is printed too. Rate = 2 * bytes * 8 / time.
 *
 * Drift: one unmeasured warm-up run of each (JIT), then `rounds` rounds in ABBA order (even rounds
 * bare then Swarm, odd rounds Swarm then bare), so a machine speeding up or slowing down is charged
 * to both. Summary: `ratio` = median of the per-round ratios swarm/bare (paired, so a noisy round
 * moves both), `ratioOfMedians` as a cross-check; target `ratio >= 0.95`.
 *
 * Bench config, not defaults: the Swarms' idle timeout is an hour, because the Swarm connection is
 * idle while the bare run goes and the default 10 s could close it on a slow machine (perf does not
 * dial); the same connection is used for every run (checked).
 */
import { multiaddr } from '@multiformats/multiaddr'
import { generateKeyPair, peerIdFromPrivateKey } from '../../src/identity/index.ts'
import type { Transport, TransportContext } from '../../src/core/transport.ts'
import { SwarmBuilder } from '../../src/core/swarm/builder.ts'
import type { SwarmEventOf } from '../../src/core/swarm/events.ts'
import type { BehaviourEvent } from '../../src/core/behaviour.ts'
import { combine } from '../../src/core/combine.ts'
import { loadTransport } from '../../src/cli/transports.ts'
import { StaticProtocolTable } from '../../src/utils/protocol-table.ts'
import { PERF_PROTOCOL } from '../../src/protocols/perf/constants.ts'
import { handlePerfStream, runPerf } from '../../src/protocols/perf/protocol.ts'
import { PerfBehaviour } from '../../src/protocols/perf/behaviour.ts'
import { PingBehaviour } from '../../src/protocols/ping/index.ts'
import { IdentifyBehaviour } from '../../src/protocols/identify/index.ts'
import { MemoryNetwork } from '../../src/transports/memory/index.ts'

const bytes = Number(process.argv[2] ?? 256 * 1024 * 1024)
const rounds = Number(process.argv[3] ?? 5)
/** Bytes each way of the unmeasured warm-up run of each path (JIT, buffers, windows grown). */
const WARMUP_BYTES = 32 * 1024 * 1024
/** Swarm idle timeout for the bench (see the header): longer than any run. */
const BENCH_IDLE_TIMEOUT_MS = 3_600_000
const transportName = process.argv[4] ?? 'tcp'
const network = new MemoryNetwork()
const listenAddr = (name: string): ReturnType<typeof multiaddr> => multiaddr(transportName === 'tcp' ? '/ip4/127.0.0.1/tcp/0' : `/memory/perf-overhead-${name}`)
const options = transportName === 'memory' ? { network } : {}

async function bareTransport (serve: boolean): Promise<{ transport: Transport, context: TransportContext }> {
  const key = generateKeyPair()
  const context: TransportContext = { privateKey: key, peerId: peerIdFromPrivateKey(key), protocols: new StaticProtocolTable(serve ? [PERF_PROTOCOL] : []) }
  return { transport: (await loadTransport(transportName, options))(context), context }
}

async function swarmNode () {
  let b = SwarmBuilder.withNewIdentity()
  b = transportName === 'tcp' ? b.withTcp() : b.withMemory(options)
  return await b.withBehaviour(key => combine({ ping: new PingBehaviour(), identify: new IdentifyBehaviour({ privateKey: key }), perf: new PerfBehaviour() }))
    .withSwarmConfig({ idleConnectionTimeout: BENCH_IDLE_TIMEOUT_MS })
    .build()
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[m] as number : ((s[m - 1] as number) + (s[m] as number)) / 2
}

// Bare: a server transport serving perf, a client transport dialing it.
const server = await bareTransport(true)
const listener = await server.transport.listen(listenAddr('bare'))
listener.on('connection', c => { c.on('stream', s => { void handlePerfStream(s).catch(() => {}) }) })
const client = await bareTransport(false)
const bareConn = await client.transport.dial(listener.addrs()[0] as ReturnType<typeof multiaddr>, { expectedPeer: server.context.peerId })

// Swarm: two full nodes.
const a = await swarmNode()
const b = await swarmNode()
await b.listen(listenAddr('swarm'))
await new Promise<void>((resolve, reject) => {
  a.once('connectionEstablished', () => { resolve() })
  a.once('outgoingConnectionError', e => { reject(e.error) })
  a.dial((b.listenAddresses()[0] as ReturnType<typeof multiaddr>).encapsulate(`/p2p/${b.localPeerId.toString()}`))
})

interface Run { wallSeconds: number, protocolSeconds: number, connectionId?: unknown }

async function bareRun (n: number): Promise<Run> {
  const t0 = performance.now()
  const r = await runPerf(bareConn, { uploadBytes: n, downloadBytes: n })
  return { wallSeconds: (performance.now() - t0) / 1000, protocolSeconds: r.timeSeconds }
}

async function swarmRun (n: number): Promise<Run> {
  return await new Promise((resolve, reject) => {
    const t0 = performance.now()
    const runId = a.behaviour.members.perf.perf(b.localPeerId, { uploadBytes: n, downloadBytes: n })
    const on = (e: SwarmEventOf<'behaviour', BehaviourEvent<typeof a.behaviour>>): void => {
      if (e.event.behaviour !== 'perf') return
      const ev = e.event.event
      if (ev.type === 'served' || ev.runId !== runId) return
      a.off('behaviour', on)
      if (ev.type === 'result') resolve({ wallSeconds: (performance.now() - t0) / 1000, protocolSeconds: ev.result.timeSeconds, connectionId: ev.connectionId })
      else reject(ev.error)
    }
    a.on('behaviour', on)
  })
}

const gbps = (seconds: number): number => (2 * bytes * 8) / seconds / 1e9
const round3 = (x: number): number => Math.round(x * 1000) / 1000

await bareRun(WARMUP_BYTES)
const firstConnection = (await swarmRun(WARMUP_BYTES)).connectionId
const bare: number[] = []
const viaSwarm: number[] = []
const ratios: number[] = []
for (let i = 0; i < rounds; i++) {
  const order: Array<'bare' | 'swarm'> = i % 2 === 0 ? ['bare', 'swarm'] : ['swarm', 'bare']
  const got: Partial<Record<'bare' | 'swarm', number>> = {}
  for (const which of order) {
    const r = which === 'bare' ? await bareRun(bytes) : await swarmRun(bytes)
    if (which === 'swarm' && r.connectionId !== firstConnection) throw new Error('the Swarm run used another connection (the first one closed)')
    got[which] = gbps(r.wallSeconds)
    console.log(JSON.stringify({ run: which, round: i, wallSeconds: round3(r.wallSeconds), protocolSeconds: round3(r.protocolSeconds), gbps: round3(gbps(r.wallSeconds)) }))
  }
  bare.push(got.bare as number)
  viaSwarm.push(got.swarm as number)
  ratios.push((got.swarm as number) / (got.bare as number))
}
const ratio = median(ratios)
console.log(JSON.stringify({
  summary: true,
  transport: transportName,
  bytesEachWay: bytes,
  rounds,
  bareGbps: round3(median(bare)),
  swarmGbps: round3(median(viaSwarm)),
  ratio: round3(ratio),
  perRoundRatios: ratios.map(round3),
  ratioOfMedians: round3(median(viaSwarm) / median(bare)),
  targetMet: ratio >= 0.95
}))
await a.close()
await b.close()
await bareConn.close()
await client.transport.close()
await server.transport.close()
