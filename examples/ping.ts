/**
 * Ping between two processes over TCP.
 *
 *   node --import tsx examples/ping.ts                 # listens, prints its address
 *   node --import tsx examples/ping.ts <multiaddr> [n] # dials it, prints n RTTs (default 5), exits
 *
 * Shows the Swarm pattern: build with SwarmBuilder, combine behaviours, react to typed events.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { SwarmBuilder } from '../src/core/swarm/builder.ts'
import { combine } from '../src/core/combine.ts'
import { PingBehaviour } from '../src/protocols/ping/index.ts'
import { IdentifyBehaviour } from '../src/protocols/identify/index.ts'

const [target, countText] = process.argv.slice(2)
const swarm = await SwarmBuilder.withNewIdentity()
  .withTcp()
  .withBehaviour(key => combine({
    ping: new PingBehaviour({ intervalMs: 1000, keepAlive: true }),
    identify: new IdentifyBehaviour({ privateKey: key, agentVersion: 'libp2p-native-example/ping' })
  }))
  .build()

await swarm.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
for (const addr of swarm.listenAddresses()) console.log(`listening on ${addr.toString()}/p2p/${swarm.localPeerId.toString()}`)

swarm.on('connectionEstablished', e => { console.log(`connected to ${e.peerId.toString()} (${e.endpoint.role})`) })
swarm.on('connectionClosed', e => { console.log(`disconnected from ${e.peerId.toString()} (${e.cause.type})`) })

let answered = 0
const wanted = countText === undefined ? 5 : Number(countText)
swarm.on('behaviour', ({ event }) => {
  if (event.behaviour === 'identify' && event.event.type === 'received') {
    console.log(`${event.event.peerId.toString()} runs ${event.event.info.agentVersion ?? 'an unknown agent'}`)
  }
  if (event.behaviour !== 'ping') return
  const { result, peerId } = event.event
  if (result.type === 'success') {
    console.log(`ping ${peerId.toString()}: ${result.rttMs.toFixed(2)} ms`)
    if (target !== undefined && ++answered >= wanted) void swarm.close().then(() => process.exit(0))
  } else if (result.type === 'failure') {
    console.log(`ping ${peerId.toString()} failed: ${result.error.message}`)
  }
})

if (target !== undefined) swarm.dial(multiaddr(target))
process.once('SIGINT', () => { void swarm.close().then(() => process.exit(0)) })
