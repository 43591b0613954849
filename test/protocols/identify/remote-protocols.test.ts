/**
 * Identify → other behaviours, through the Swarm only (rust-libp2p's `ReportRemoteProtocols` →
 * `ConnectionEvent::RemoteProtocolsChange`): when identify learns the remote's protocols, every
 * handler of that connection gets `remoteProtocolsChange`, and Kademlia's handler turns it into
 * `protocolConfirmed`, so the dialer's Kademlia puts a DHT server in its table without any kad
 * request and without a test helper adding it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { combine } from '../../../src/core/combine.ts'
import type { NetworkBehaviour } from '../../../src/core/behaviour.ts'
import type { ConnectionHandler, HandlerConnectionEvent } from '../../../src/core/handler.ts'
import type { Stream } from '../../../src/core/stream.ts'
import { peerIdFromPrivateKey, type PrivateKey } from '../../../src/identity/index.ts'
import { IdentifyBehaviour, IDENTIFY_PROTOCOL, type IdentifyConfig } from '../../../src/protocols/identify/index.ts'
import { Kademlia } from '../../../src/protocols/kad/behaviour.ts'
import type { KadEvent } from '../../../src/protocols/kad/types.ts'
import { closeAll, connect, createSwarms, waitFor } from '../../helpers/swarm.ts'

function node (key: PrivateKey, mode: 'server' | 'client', identifyInit: Partial<IdentifyConfig> = {}) {
  return combine({
    identify: new IdentifyBehaviour({ privateKey: key, ...identifyInit }),
    // No automatic refresh: the only way the dialer can learn of the server is identify.
    kad: new Kademlia({ peerId: peerIdFromPrivateKey(key), config: { mode, autoRefresh: false } })
  })
}

const NONE: readonly string[] = Object.freeze([])
type Routing = Extract<KadEvent, { type: 'routingUpdated' }>

test('identify tells kad (through the Swarm) that the peer it dialled is a DHT server', async () => {
  const [a, b] = await createSwarms(2, (_i, key) => node(key, 'server'))
  assert.ok(a !== undefined && b !== undefined)
  try {
    const kadRequests: string[] = []
    for (const s of [a, b]) s.on('behaviour', e => { if (e.event.behaviour === 'kad' && e.event.event.type === 'inboundRequest') kadRequests.push(s.localPeerId.toString()) })
    const inserted = waitFor(a, 'behaviour', e => e.event.behaviour === 'kad' && e.event.event.type === 'routingUpdated' && e.event.event.peer.equals(b.localPeerId))
    assert.equal(a.behaviour.members.kad.table.size, 0)
    await connect(a, b)
    const ev = (await inserted).event.event as Routing
    assert.ok(ev.addresses.some(x => x.toString() === b.listenAddresses()[0]?.toString()), `b's listen address in a's table: ${ev.addresses.map(String).join(',')}`)
    // a never sent b a kad request (b received none): the knowledge came from identify.
    assert.ok(!kadRequests.includes(b.localPeerId.toString()), 'b received no kad request from a before a inserted it')
  } finally {
    await closeAll([a, b])
  }
})

test('a kad client that turns server is learnt from identify push (its protocols changed)', async () => {
  const [a, b] = await createSwarms(2, (i, key) => node(key, i === 0 ? 'server' : 'client'))
  assert.ok(a !== undefined && b !== undefined)
  try {
    const events: KadEvent[] = []
    a.on('behaviour', e => { if (e.event.behaviour === 'kad') events.push(e.event.event) })
    const identified = waitFor(a, 'behaviour', e => e.event.behaviour === 'identify' && e.event.event.type === 'received')
    await connect(a, b)
    const info = (await identified).event
    assert.ok(info.behaviour === 'identify' && info.event.type === 'received')
    assert.ok(info.event.info.protocols.includes(IDENTIFY_PROTOCOL))
    assert.ok(!info.event.info.protocols.some(p => p.includes('/kad/')), 'a client advertises no kad protocol')
    await new Promise(resolve => setTimeout(resolve, 100))
    assert.ok(!events.some(e => e.type === 'routingUpdated'), 'the client did not enter the table')
    // b becomes a server: its protocols change, its identify pushes, a's kad hears it.
    const pushed = waitFor(a, 'behaviour', e => e.event.behaviour === 'identify' && e.event.event.type === 'pushReceived')
    const inserted = waitFor(a, 'behaviour', e => e.event.behaviour === 'kad' && e.event.event.type === 'routingUpdated' && e.event.event.peer.equals(b.localPeerId))
    b.behaviour.members.kad.setMode('server')
    const push = (await pushed).event
    assert.ok(push.behaviour === 'identify' && push.event.type === 'pushReceived')
    assert.ok(push.event.info.protocols.some(p => p.includes('/kad/')))
    await inserted
  } finally {
    await closeAll([a, b])
  }
})

test('every handler of the connection hears remoteProtocolsChange, once per change', async () => {
  // A member whose handler only records connection events: it stands for any other behaviour.
  class Recorder implements ConnectionHandler<never, never, never> {
    constructor (private readonly heard: Array<readonly string[]>) {}
    listenProtocols (): readonly string[] { return NONE }
    onInboundStream (s: Stream): void { s.reset() }
    onOutboundStream (s: Stream): void { s.reset() }
    onOutboundStreamError (): void {}
    onBehaviourEvent (): void {}
    onConnectionEvent (e: HandlerConnectionEvent): void { if (e.type === 'remoteProtocolsChange') this.heard.push(e.protocols) }
    keepAlive (): boolean { return true }
    poll (): undefined { return undefined }
  }
  const heard: Array<Array<readonly string[]>> = [[], []]
  const recorder = (i: number): NetworkBehaviour<never, Recorder> => ({
    handleEstablishedInboundConnection: () => new Recorder(heard[i] as Array<readonly string[]>),
    handleEstablishedOutboundConnection: () => new Recorder(heard[i] as Array<readonly string[]>),
    onSwarmEvent: () => {},
    onConnectionHandlerEvent: () => {},
    poll: () => undefined
  })
  const [a, b] = await createSwarms(2, (i, key) => combine({ identify: new IdentifyBehaviour({ privateKey: key, pushListenAddrUpdates: true }), other: recorder(i) }))
  assert.ok(a !== undefined && b !== undefined)
  try {
    const identified = waitFor(a, 'behaviour', e => e.event.behaviour === 'identify' && e.event.event.type === 'received')
    await connect(a, b)
    const info = (await identified).event
    assert.ok(info.behaviour === 'identify' && info.event.type === 'received')
    await new Promise(resolve => setTimeout(resolve, 20))
    assert.equal(heard[0]?.length, 1, 'the other member of a heard b\'s protocols once')
    assert.deepEqual([...heard[0]?.[0] ?? []], [...info.event.info.protocols].sort())
    // A push that changes only addresses: the protocol list is the same, nobody is told again.
    const pushed = waitFor(a, 'behaviour', e => e.event.behaviour === 'identify' && e.event.event.type === 'pushReceived')
    await b.listen(multiaddr(`/memory/remote-protocols-push-${process.pid}`))
    await pushed
    await new Promise(resolve => setTimeout(resolve, 20))
    assert.equal(heard[0]?.length, 1, 'an unchanged protocol list is not reported again')
  } finally {
    await closeAll([a, b])
  }
})
