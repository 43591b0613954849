/**
 * A chat over request-response (JSON codec) between two processes over TCP.
 *
 *   node --import tsx examples/chat.ts                 # listens, prints its address
 *   node --import tsx examples/chat.ts <multiaddr>     # dials it
 *
 * Every line typed is sent to every connected peer as a request; the peer prints it and answers
 * with an acknowledgement, which the sender prints with the round-trip time.
 */
import { createInterface } from 'node:readline'
import { multiaddr } from '@multiformats/multiaddr'
import { SwarmBuilder } from '../src/core/swarm/builder.ts'
import { RequestResponseBehaviour, jsonCodec } from '../src/protocols/request-response/index.ts'

interface ChatMessage { text: string, sentAt: number }
interface ChatAck { received: true }

const [target] = process.argv.slice(2)
const swarm = await SwarmBuilder.withNewIdentity()
  .withTcp()
  .withBehaviour(new RequestResponseBehaviour<ChatMessage, ChatAck>({ codec: jsonCodec(), protocols: ['/libp2p-native/chat/1.0.0'] }))
  .withSwarmConfig({ idleConnectionTimeout: 10 * 60_000 })
  .build()

await swarm.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
for (const addr of swarm.listenAddresses()) console.log(`listening on ${addr.toString()}/p2p/${swarm.localPeerId.toString()}`)
swarm.on('connectionEstablished', e => { console.log(`* ${e.peerId.toString()} joined`) })
swarm.on('connectionClosed', e => { if (e.numEstablished === 0) console.log(`* ${e.peerId.toString()} left`) })

const sent = new Map<number, number>()
swarm.on('behaviour', ({ event }) => {
  switch (event.type) {
    case 'request':
      console.log(`<${event.peerId.toString().slice(-6)}> ${event.request.text}`)
      swarm.behaviour.sendResponse(event.channel, { received: true })
      break
    case 'response':
      console.log(`  (delivered in ${(performance.now() - (sent.get(event.requestId) ?? 0)).toFixed(1)} ms)`)
      sent.delete(event.requestId)
      break
    case 'outboundFailure':
      console.log(`  (not delivered: ${event.error.message})`)
      sent.delete(event.requestId)
  }
})

if (target !== undefined) swarm.dial(multiaddr(target))

const lines = createInterface({ input: process.stdin })
lines.on('line', text => {
  for (const peer of swarm.connectedPeers()) {
    sent.set(swarm.behaviour.sendRequest(peer, { text, sentAt: Date.now() }), performance.now())
  }
})
lines.on('close', () => { void swarm.close().then(() => process.exit(0)) })
