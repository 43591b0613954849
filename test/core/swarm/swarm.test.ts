/**
 * The Swarm over the in-memory transport: connection lifecycle and its events, handler streams and
 * events, dial conditions and failures, dial by PeerId, listeners, external addresses, idle
 * timeout and graceful shutdown.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { nextDialId, ToSwarm } from '../../../src/core/behaviour.ts'
import { DialConditionError } from '../../../src/core/swarm/dial.ts'
import { addressOf, closeAll, connect, createSwarm, createSwarms, waitFor } from '../../helpers/swarm.ts'
import { ProbeBehaviour } from '../../helpers/probe.ts'

const text = new TextEncoder()

test('connection established: events on both sides with endpoint and count, protocols registered, behaviour told before handler events', async () => {
  const [a, b] = await createSwarms(2, () => new ProbeBehaviour())
  assert.ok(a !== undefined && b !== undefined)
  try {
    const estA = waitFor(a, 'connectionEstablished')
    const estB = waitFor(b, 'connectionEstablished')
    const dialId = a.dial(addressOf(b))
    const [ea, eb] = await Promise.all([estA, estB])
    assert.equal(ea.dialId, dialId)
    assert.equal(ea.endpoint.role, 'dialer')
    assert.equal(eb.endpoint.role, 'listener')
    assert.equal(ea.numEstablished, 1)
    assert.ok(ea.peerId.equals(b.localPeerId))
    assert.equal(ea.transport, 'memory')
    assert.ok(a.isConnected(b.localPeerId))
    assert.deepEqual(b.protocols.list(), ['/probe/1.0.0'])
    const fromSwarm = a.behaviour.swarmEvents.find(e => e.type === 'connectionEstablished')
    assert.equal(fromSwarm?.type === 'connectionEstablished' ? fromSwarm.dialId : undefined, dialId)

    // Behaviour → handler → stream → remote handler → remote behaviour → SwarmEvent.
    const got = waitFor(b, 'behaviour', e => e.event.event.type === 'received')
    a.behaviour.command({ type: 'notifyHandler', peerId: b.localPeerId, handler: 'any', event: { type: 'send', data: text.encode('hello') } })
    const ev = await got
    assert.equal(ev.event.event.type, 'received')
    assert.equal(Buffer.from((ev.event.event as { data: Uint8Array }).data).toString(), 'hello')
    const connId = ev.event.connectionId
    const log = b.behaviour.log
    assert.ok(log.indexOf(`connectionEstablished:${connId}`) < log.indexOf(`handlerEvent:${connId}:received`), log.join(' '))
  } finally {
    await closeAll([a, b])
  }
})

test('outbound stream for a protocol the remote lacks is reported to the handler as unsupported', async () => {
  const [x, y] = await createSwarms(2, i => new ProbeBehaviour(i === 0 ? '/probe/x' : '/probe/y'))
  assert.ok(x !== undefined && y !== undefined)
  try {
    await connect(x, y)
    const err = waitFor(x, 'behaviour', e => e.event.event.type === 'streamError')
    x.behaviour.command({ type: 'notifyHandler', peerId: y.localPeerId, handler: 'any', event: { type: 'send', data: text.encode('x') } })
    const ev = await err
    assert.equal((ev.event.event as { kind: string }).kind, 'unsupported')
  } finally {
    await closeAll([x, y])
  }
})

test('dial conditions: disconnected refuses a connected peer, always opens another, dial by PeerId uses the address book', async () => {
  const [a, b] = await createSwarms(2, () => new ProbeBehaviour())
  assert.ok(a !== undefined && b !== undefined)
  try {
    await connect(a, b)
    assert.throws(() => a.dial(b.localPeerId), DialConditionError)
    const refused = a.behaviour.swarmEvents.find(e => e.type === 'dialFailure')
    assert.ok(refused?.type === 'dialFailure' && refused.error instanceof DialConditionError, 'the behaviour hears the refusal too')
    const second = waitFor(a, 'connectionEstablished', e => e.numEstablished === 2)
    // The address book learned b's address from the first dial: dial by PeerId, no address given.
    a.dial({ peerId: b.localPeerId, condition: 'always' })
    const ev = await second
    assert.equal(ev.numEstablished, 2)
    assert.equal(a.connections(b.localPeerId).length, 2)
  } finally {
    await closeAll([a, b])
  }
})

test('notDialing refuses a second dial while the first is in flight', async () => {
  const [a, b] = await createSwarms(2, () => new ProbeBehaviour())
  assert.ok(a !== undefined && b !== undefined)
  try {
    a.addPeerAddress(b.localPeerId, addressOf(b))
    a.dial({ peerId: b.localPeerId, condition: 'always' })
    assert.throws(() => a.dial({ peerId: b.localPeerId, condition: 'notDialing' }), DialConditionError)
    await waitFor(a, 'connectionEstablished')
  } finally {
    await closeAll([a, b])
  }
})

test('dial failure: outgoingConnectionError and dialFailure repeat the DialId; behaviour dial commands too', async () => {
  const [a] = await createSwarms(1, () => new ProbeBehaviour())
  assert.ok(a !== undefined)
  try {
    const failed = waitFor(a, 'outgoingConnectionError')
    const dialId = a.dial(multiaddr('/memory/nobody-listens-here'))
    const ev = await failed
    assert.equal(ev.dialId, dialId)
    assert.equal(ev.addressErrors.length, 1)
    const fromSwarm = a.behaviour.swarmEvents.find(e => e.type === 'dialFailure')
    assert.equal(fromSwarm?.type === 'dialFailure' ? fromSwarm.dialId : -1, dialId)

    const id = nextDialId()
    const failed2 = waitFor(a, 'outgoingConnectionError', e => e.dialId === id)
    a.behaviour.command(ToSwarm.dial({ dialId: id, addresses: [multiaddr('/memory/nobody-either')] }))
    await failed2
    assert.equal(a.numPendingDials, 0)
  } finally {
    await a.close()
  }
})

test('listen on several addresses, remove one listener: expired address and listenerClosed', async () => {
  const s = await createSwarm(new ProbeBehaviour(), { listen: false })
  try {
    const first = waitFor(s, 'newListenAddr', e => e.address.toString() === '/memory/multi-1')
    const id1 = await s.listen(multiaddr('/memory/multi-1'))
    await first
    await s.listen(multiaddr('/memory/multi-2'))
    assert.deepEqual(s.listenAddresses().map(String).sort(), ['/memory/multi-1', '/memory/multi-2'])
    const expired = waitFor(s, 'expiredListenAddr')
    const closed = waitFor(s, 'listenerClosed')
    assert.equal(s.removeListener(id1), true)
    assert.equal((await expired).address.toString(), '/memory/multi-1')
    assert.equal((await closed).listenerId, id1)
    assert.deepEqual(s.listenAddresses().map(String), ['/memory/multi-2'])
    await assert.rejects(s.listen(multiaddr('/ip4/127.0.0.1/tcp/0')), /no transport/)
  } finally {
    await s.close()
  }
})

test('external addresses: candidates reported and counted, confirmation and expiry reach behaviour and user', async () => {
  const s = await createSwarm(new ProbeBehaviour(), { listen: false })
  try {
    let candidates = 0
    s.on('newExternalAddrCandidate', () => { candidates++ })
    const cand = waitFor(s, 'newExternalAddrCandidate')
    s.behaviour.command({ type: 'newExternalAddrCandidate', address: multiaddr('/ip4/1.2.3.4/tcp/4001') })
    s.behaviour.command({ type: 'newExternalAddrCandidate', address: multiaddr('/ip4/1.2.3.4/tcp/4001') })
    await cand
    assert.equal(candidates, 2)
    assert.equal(s.externalAddressCandidates()[0]?.observations, 2)
    const confirmed = waitFor(s, 'externalAddrConfirmed')
    s.behaviour.command({ type: 'externalAddrConfirmed', address: multiaddr('/ip4/1.2.3.4/tcp/4001') })
    await confirmed
    assert.deepEqual(s.externalAddresses().map(String), ['/ip4/1.2.3.4/tcp/4001'])
    assert.ok(s.behaviour.swarmEvents.some(e => e.type === 'externalAddrConfirmed'))
    const expired = waitFor(s, 'externalAddrExpired')
    s.removeExternalAddress(multiaddr('/ip4/1.2.3.4/tcp/4001'))
    await expired
    assert.deepEqual(s.externalAddresses(), [])
  } finally {
    await s.close()
  }
})

test('idle timeout closes connections no handler keeps alive, and only those', async () => {
  const [a, b] = await createSwarms(2, () => new ProbeBehaviour('/probe/1.0.0', false), { config: { idleConnectionTimeout: 60 } })
  assert.ok(a !== undefined && b !== undefined)
  const [c, d] = await createSwarms(2, () => new ProbeBehaviour('/probe/1.0.0', true), { config: { idleConnectionTimeout: 60 } })
  assert.ok(c !== undefined && d !== undefined)
  try {
    await connect(c, d)
    const t0 = Date.now()
    const closedA = waitFor(a, 'connectionClosed')
    await connect(a, b)
    const ev = await closedA
    assert.equal(ev.cause.type, 'idle')
    assert.ok(Date.now() - t0 >= 50, 'not before the timeout')
    await new Promise(resolve => setTimeout(resolve, 150))
    assert.ok(c.isConnected(d.localPeerId), 'kept alive by its handler')
    // The handler stops keeping it alive: it closes after the timeout.
    const closedC = waitFor(c, 'connectionClosed')
    for (const h of c.behaviour.handlers) h.keepAliveValue = false
    c.behaviour.command({ type: 'notifyHandler', peerId: d.localPeerId, handler: 'any', event: { type: 'send', data: text.encode('bye') } })
    assert.equal((await closedC).cause.type, 'idle')
  } finally {
    await closeAll([a, b, c, d])
  }
})

test('closeConnection command and disconnectPeer report a local cause; the remote sees a remote close', async () => {
  // Behaviours that do not declare protocols up front: the table follows the handlers alone.
  const [a, b] = await createSwarms(2, () => Object.assign(new ProbeBehaviour(), { declare: false }))
  assert.ok(a !== undefined && b !== undefined)
  try {
    await connect(a, b)
    const closedA = waitFor(a, 'connectionClosed')
    const closedB = waitFor(b, 'connectionClosed')
    a.behaviour.command({ type: 'closeConnection', peerId: b.localPeerId, connection: 'all' })
    assert.equal((await closedA).cause.type, 'local')
    assert.equal((await closedB).cause.type, 'remote')
    assert.equal((await closedA).numEstablished, 0)
    assert.ok(a.behaviour.handlers.every(h => h.closed))
    assert.deepEqual(a.protocols.list(), [], 'protocols leave the table with the last handler')
  } finally {
    await closeAll([a, b])
  }
})

test('graceful shutdown: connections closed with cause shutdown, iterators end, no timers or listeners left', async () => {
  const before = process.getActiveResourcesInfo().filter(r => r === 'Timeout').length
  const [a, b, c] = await createSwarms(3, () => new ProbeBehaviour('/probe/1.0.0', false), { config: { idleConnectionTimeout: 10_000 } })
  assert.ok(a !== undefined && b !== undefined && c !== undefined)
  await connect(a, b)
  await connect(a, c)
  const seen: string[] = []
  const iterating = (async () => {
    for await (const e of a) seen.push(e.type)
  })()
  a.on('connectionClosed', () => {})
  const closedB = waitFor(b, 'connectionClosed')
  const t0 = Date.now()
  await a.close()
  assert.ok(Date.now() - t0 < 1000, 'shutdown does not wait for timeouts')
  await iterating
  assert.equal(seen.filter(t => t === 'connectionClosed').length, 2)
  assert.ok(seen.includes('listenerClosed'))
  assert.equal((await closedB).cause.type, 'remote')
  assert.equal(a.listenerCount(), 0)
  assert.equal(a.status, 'closed')
  assert.throws(() => a.dial(b.localPeerId), /closed/)
  await closeAll([b, c])
  await new Promise(resolve => setImmediate(resolve))
  const after = process.getActiveResourcesInfo().filter(r => r === 'Timeout').length
  assert.equal(after, before, 'no timer left behind')
})

test('protocols declared by the behaviour are in the table before any connection, and follow changes', async () => {
  const s = await createSwarm(new ProbeBehaviour('/declared/1'), { listen: false })
  try {
    assert.deepEqual(s.protocols.list(), ['/declared/1'])
    let changes = 0
    s.protocols.on('change', () => { changes++ })
    s.behaviour.declare = false
    s.behaviour.command({ type: 'generateEvent', event: undefined as never }) // any command: the behaviour is polled
    await waitFor(s, 'behaviour')
    assert.deepEqual(s.protocols.list(), [])
    assert.equal(changes, 1)
  } finally {
    await s.close()
  }
})

test('dial with several addresses: bad ones fail, the good one wins; all bad reports every address', async () => {
  const [a, b] = await createSwarms(2, () => new ProbeBehaviour())
  assert.ok(a !== undefined && b !== undefined)
  try {
    const incoming = waitFor(b, 'incomingConnection')
    const est = waitFor(a, 'connectionEstablished')
    const dialing = waitFor(a, 'dialing')
    a.dial({ peerId: b.localPeerId, addresses: [multiaddr('/memory/bad-1'), multiaddr('/memory/bad-2'), addressOf(b)], concurrency: 1 })
    assert.equal((await dialing).addresses.length, 3)
    await incoming
    const ev = await est
    assert.ok(ev.peerId.equals(b.localPeerId))
    const fromSwarm = a.behaviour.swarmEvents.find(e => e.type === 'connectionEstablished')
    assert.deepEqual(fromSwarm?.type === 'connectionEstablished' ? fromSwarm.failedAddresses.map(String) : [], ['/memory/bad-1', '/memory/bad-2'])

    const failed = waitFor(a, 'outgoingConnectionError')
    a.dial({ addresses: [multiaddr('/memory/bad-3'), multiaddr('/memory/bad-4')] })
    assert.deepEqual((await failed).addressErrors.map(e => e.address.toString()), ['/memory/bad-3', '/memory/bad-4'])
  } finally {
    await closeAll([a, b])
  }
})

test('dial by PeerId takes addresses from the behaviour (addressesOfPeer); no address at all throws', async () => {
  const [a, b] = await createSwarms(2, () => new ProbeBehaviour())
  assert.ok(a !== undefined && b !== undefined)
  try {
    assert.throws(() => a.dial(b.localPeerId), /no known address/)
    Object.assign(a.behaviour, { addressesOfPeer: (p: typeof b.localPeerId) => p.equals(b.localPeerId) ? [addressOf(b)] : [] })
    const est = waitFor(a, 'connectionEstablished')
    a.dial(b.localPeerId)
    assert.ok((await est).peerId.equals(b.localPeerId))
  } finally {
    await closeAll([a, b])
  }
})
