/**
 * The Swarm-overhead target: a perf run through a full Swarm (ping, identify and perf
 * combined) against the same run on bare connections, same process, same transport, alternating
 * rounds so both see the same machine state.
 *
 *   node --import tsx bench/swarm/perf-overhead.ts [bytes=268435456] [rounds=3] [tcp|memory]
 *
 * Prints a JSON line per run and a summary: the ratio swarm/bare of the median throughputs
 * (target: ≥ 0.95).
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
const rounds = Number(process.argv[3] ?? 3)
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
  return await b.withBehaviour(key => combine({ ping: new PingBehaviour(), identify: new IdentifyBehaviour({ privateKey: key }), perf: new PerfBehaviour() })).build()
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
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

async function swarmRun (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const runId = a.behaviour.members.perf.perf(b.localPeerId, { uploadBytes: bytes, downloadBytes: bytes })
    const on = (e: SwarmEventOf<'behaviour', BehaviourEvent<typeof a.behaviour>>): void => {
      if (e.event.behaviour !== 'perf') return
      const ev = e.event.event
      if (ev.type === 'served' || ev.runId !== runId) return
      a.off('behaviour', on)
      if (ev.type === 'result') resolve(ev.result.timeSeconds)
      else reject(ev.error)
    }
    a.on('behaviour', on)
  })
}

const bare: number[] = []
const viaSwarm: number[] = []
for (let i = 0; i < rounds; i++) {
  const t1 = (await runPerf(bareConn, { uploadBytes: bytes, downloadBytes: bytes })).timeSeconds
  bare.push((2 * bytes * 8) / t1 / 1e9)
  console.log(JSON.stringify({ run: 'bare', round: i, timeSeconds: t1, gbps: bare[i] }))
  const t2 = await swarmRun()
  viaSwarm.push((2 * bytes * 8) / t2 / 1e9)
  console.log(JSON.stringify({ run: 'swarm', round: i, timeSeconds: t2, gbps: viaSwarm[i] }))
}
console.log(JSON.stringify({ summary: true, transport: transportName, bytesEachWay: bytes, bareGbps: median(bare), swarmGbps: median(viaSwarm), ratio: median(viaSwarm) / median(bare) }))
await a.close()
await b.close()
await bareConn.close()
await client.transport.close()
await server.transport.close()
