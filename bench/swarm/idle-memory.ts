/**
 * JS heap per idle connection held by two Swarms (ping + identify combined, as the target
 * node), over the in-memory transport or native TCP:
 *
 *   node --expose-gc --import tsx bench/swarm/idle-memory.ts [connections=2000] [memory|tcp]
 *
 * Prints one JSON line. The target is 10,000 connections under 20 KiB per connection on
 * each side (JS heap plus native memory); this measures the JS heap part, both sides together
 * divided by two, after identify has run on every connection and a GC.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { multiaddr } from '@multiformats/multiaddr'
import { SwarmBuilder } from '../../src/core/swarm/builder.ts'
import { combine } from '../../src/core/combine.ts'
import { PingBehaviour } from '../../src/protocols/ping/index.ts'
import { IdentifyBehaviour } from '../../src/protocols/identify/index.ts'
import { MemoryNetwork } from '../../src/transports/memory/index.ts'

const n = Number(process.argv[2] ?? 2000)
/** How long the idle connections are held while the event-loop delay is sampled. */
const HOLD_MS = 3000
const transport = process.argv[3] ?? 'memory'
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with --expose-gc')
const network = new MemoryNetwork()

async function node () {
  let b = SwarmBuilder.withNewIdentity()
  b = transport === 'tcp' ? b.withTcp() : b.withMemory({ network })
  return await b.withBehaviour(key => combine({ ping: new PingBehaviour(), identify: new IdentifyBehaviour({ privateKey: key }) }))
    .withSwarmConfig({ idleConnectionTimeout: 600_000, dialConcurrencyFactor: 1 })
    .build()
}

const a = await node()
const b = await node()
await b.listen(multiaddr(transport === 'tcp' ? '/ip4/127.0.0.1/tcp/0' : '/memory/idle-bench'))
const target = (b.listenAddresses()[0] as ReturnType<typeof multiaddr>).encapsulate(`/p2p/${b.localPeerId.toString()}`)
gc()
const before = process.memoryUsage().heapUsed
let identified = 0
a.on('behaviour', e => { if (e.event.behaviour === 'identify' && e.event.event.type === 'received') identified++ })
const t0 = performance.now()
for (let i = 0; i < n; i++) {
  a.dial({ addresses: [target], condition: 'always' })
  if (i % 100 === 99) await new Promise(resolve => setImmediate(resolve))
}
while (identified < n) await new Promise(resolve => setTimeout(resolve, 20))
const setupMs = performance.now() - t0
await new Promise(resolve => setTimeout(resolve, 200))
gc()
const after = process.memoryUsage().heapUsed
// Event-loop delay while the connections are held (the target: p99 under 10 ms).
const delay = monitorEventLoopDelay({ resolution: 1 })
delay.enable()
await new Promise(resolve => setTimeout(resolve, HOLD_MS))
delay.disable()
console.log(JSON.stringify({
  transport,
  connections: n,
  established: [a.numEstablished, b.numEstablished],
  heapBytesPerConnectionPerSide: Math.round((after - before) / n / 2),
  eventLoopDelayP99Ms: Math.round(delay.percentile(99) / 1e4) / 100,
  setupMs: Math.round(setupMs)
}))
await a.close()
await b.close()
