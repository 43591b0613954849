/**
 * Connection limits and the memory limit, as behaviours that deny connections.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ConnectionDenied } from '../../src/core/behaviour.ts'
import { combine } from '../../src/core/combine.ts'
import { ConnectionLimits, ConnectionLimitExceededError, MemoryLimits } from '../../src/core/limits/index.ts'
import { addressOf, closeAll, connect, createSwarms, waitFor } from '../helpers/swarm.ts'
import { ProbeBehaviour } from '../helpers/probe.ts'

test('maxEstablishedPerPeer: a second connection to the same peer is denied, the first stays', async () => {
  const [a, b] = await createSwarms(2, () => combine({ probe: new ProbeBehaviour(), limits: new ConnectionLimits({ maxEstablishedPerPeer: 1 }) }))
  assert.ok(a !== undefined && b !== undefined)
  try {
    await connect(a, b)
    const failed = waitFor(a, 'outgoingConnectionError')
    a.dial({ peerId: b.localPeerId, condition: 'always' })
    const ev = await failed
    assert.ok(ev.error instanceof ConnectionDenied)
    assert.ok(ev.error.cause instanceof ConnectionLimitExceededError)
    assert.equal((ev.error.cause).kind, 'maxEstablishedPerPeer')
    assert.equal(a.connections(b.localPeerId).length, 1)
  } finally {
    await closeAll([a, b])
  }
})

test('maxEstablishedTotal counts both directions and frees a slot on close', async () => {
  const swarms = await createSwarms(3, () => combine({ probe: new ProbeBehaviour(), limits: new ConnectionLimits({ maxEstablishedTotal: 1 }) }))
  const [a, b, c] = swarms
  assert.ok(a !== undefined && b !== undefined && c !== undefined)
  try {
    await connect(a, b)
    const failed = waitFor(a, 'outgoingConnectionError')
    // c accepted (it has room) and sees a's abort as a remote close.
    const cSawClose = waitFor(c, 'connectionClosed')
    a.dial(addressOf(c))
    assert.match((await failed).error.message, /maxEstablishedTotal/)
    await cSawClose
    const closed = waitFor(a, 'connectionClosed')
    a.disconnectPeer(b.localPeerId)
    await closed
    await connect(a, c)
    assert.equal(a.behaviour.members.limits.counts.establishedOutgoing, 1)
  } finally {
    await closeAll(swarms)
  }
})

test('maxPendingOutgoing: dials beyond the limit are denied at once', async () => {
  const swarms = await createSwarms(3, () => combine({ probe: new ProbeBehaviour(), limits: new ConnectionLimits({ maxPendingOutgoing: 1 }) }))
  const [a, b, c] = swarms
  assert.ok(a !== undefined && b !== undefined && c !== undefined)
  try {
    a.dial(addressOf(b))
    assert.throws(() => a.dial(addressOf(c)), ConnectionDenied)
    await waitFor(a, 'connectionEstablished')
    assert.equal(a.behaviour.members.limits.counts.pendingOutgoing, 0)
    a.dial(addressOf(c)) // the slot is free again
    await waitFor(a, 'connectionEstablished', e => e.peerId.equals(c.localPeerId))
  } finally {
    await closeAll(swarms)
  }
})

test('memory limit denies new connections above the threshold, samples at most every 100 ms', async () => {
  let rss = 100
  let samples = 0
  let now = 0
  const mem = new MemoryLimits({ maxRssBytes: 500, sample: () => { samples++; return { rss, heapUsed: 0, heapLimit: 1 } }, clock: () => now })
  const info = { connectionId: 1, localAddr: undefined, sendBackAddr: undefined as never }
  assert.equal(mem.handlePendingInboundConnection(info), undefined)
  rss = 1000
  assert.equal(mem.handlePendingInboundConnection(info), undefined, 'cached sample within 100 ms')
  now = 100
  assert.ok(mem.handlePendingInboundConnection(info) instanceof ConnectionDenied)
  assert.ok(mem.handlePendingOutboundConnection({ connectionId: 2, dialId: 1, peerId: undefined, addresses: [] }) instanceof ConnectionDenied)
  assert.equal(samples, 2)
  const heap = new MemoryLimits({ maxHeapFraction: 0.5, sample: () => ({ rss: 0, heapUsed: 60, heapLimit: 100 }) })
  assert.ok(heap.handlePendingInboundConnection(info) instanceof ConnectionDenied)
  assert.throws(() => new MemoryLimits({}), /needs/)

  // In a swarm: the listener refuses while over the limit.
  const [a, b] = await createSwarms(2, (i) => combine({ probe: new ProbeBehaviour(), mem: new MemoryLimits({ maxRssBytes: i === 1 ? 1 : Number.MAX_SAFE_INTEGER }) }))
  assert.ok(a !== undefined && b !== undefined)
  try {
    const refused = waitFor(b, 'incomingConnectionError')
    a.dial(addressOf(b))
    assert.match((await refused).error.message, /maxRssBytes/)
    assert.equal(b.numEstablished, 0)
  } finally {
    await closeAll([a, b])
  }
})

test('connect helper sanity: limits do not deny under the limit', async () => {
  const [a, b] = await createSwarms(2, () => combine({ probe: new ProbeBehaviour(), limits: new ConnectionLimits({ maxEstablishedIncoming: 1, maxEstablishedOutgoing: 1 }) }))
  assert.ok(a !== undefined && b !== undefined)
  try {
    await connect(a, b)
    assert.equal(b.behaviour.members.limits.counts.establishedIncoming, 1)
  } finally {
    await closeAll([a, b])
  }
})

test('a connection counted by the limits but denied by a later member does not stay counted', async () => {
  // Member order: limits first (counts), then a member that denies every inbound connection.
  const deny = Object.assign(new ProbeBehaviour(), {
    handleEstablishedInboundConnection: () => new ConnectionDenied('test', 'no inbound')
  })
  const [a, b] = await createSwarms(2, (i) => i === 1
    ? combine({ limits: new ConnectionLimits({ maxEstablishedIncoming: 1 }), deny }) as never
    : combine({ limits: new ConnectionLimits(), probe: new ProbeBehaviour() }) as never)
  assert.ok(a !== undefined && b !== undefined)
  try {
    for (let i = 0; i < 2; i++) {
      const refused = waitFor(b, 'incomingConnectionError')
      a.dial({ addresses: [addressOf(b)] })
      assert.match((await refused).error.message, /no inbound/, 'denied by the member, not by the limit')
    }
    const limits = (b.behaviour as unknown as { members: { limits: ConnectionLimits } }).members.limits
    assert.equal(limits.counts.establishedIncoming, 0)
  } finally {
    await closeAll([a, b])
  }
})
