/**
 * combine(): typed member events, inbound streams routed by protocol to the right member, handler
 * events back to the right member, denial by any member, and toggle().
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { combine, toggle } from '../../src/core/combine.ts'
import { ConnectionLimits } from '../../src/core/limits/index.ts'
import { closeAll, connect, createSwarms, waitFor } from '../helpers/swarm.ts'
import { ProbeBehaviour } from '../helpers/probe.ts'

const text = new TextEncoder()

test('combine routes streams and events per member and tags events with the member name', async () => {
  const [a, b] = await createSwarms(2, () => combine({ alpha: new ProbeBehaviour('/alpha/1'), beta: new ProbeBehaviour('/beta/1') }))
  assert.ok(a !== undefined && b !== undefined)
  try {
    await connect(a, b)
    assert.deepEqual([...b.protocols.list()].sort(), ['/alpha/1', '/beta/1'])
    const got = waitFor(b, 'behaviour', e => e.event.event.event.type === 'received')
    // Send through beta only: the combined behaviour wraps the handler event with its member name.
    a.behaviour.members.beta.command({ type: 'notifyHandler', peerId: b.localPeerId, handler: 'any', event: { type: 'send', data: text.encode('to beta') } })
    const ev = await got
    assert.equal(ev.event.behaviour, 'beta')
    const inner = ev.event.event.event
    assert.equal(inner.type, 'received')
    if (inner.type === 'received') {
      assert.equal(inner.protocol, '/beta/1')
      assert.equal(Buffer.from(inner.data).toString(), 'to beta')
    }
    assert.equal(b.behaviour.members.alpha.log.filter(l => l.startsWith('handlerEvent')).length, 0, 'alpha saw nothing')
    // Both members saw the connection.
    assert.ok(b.behaviour.members.alpha.swarmEvents.some(e => e.type === 'connectionEstablished'))
    assert.ok(b.behaviour.members.beta.swarmEvents.some(e => e.type === 'connectionEstablished'))
  } finally {
    await closeAll([a, b])
  }
})

test('a denial by one member denies the connection and closes the handlers the others made', async () => {
  const [a, b] = await createSwarms(2, (i) => combine({
    probe: new ProbeBehaviour('/p/1'),
    limits: new ConnectionLimits(i === 1 ? { maxEstablishedIncoming: 0 } : {})
  }))
  assert.ok(a !== undefined && b !== undefined)
  try {
    const refused = waitFor(b, 'incomingConnectionError')
    a.dial(b.listenAddresses()[0]?.encapsulate(`/p2p/${b.localPeerId.toString()}`) as never)
    const ev = await refused
    assert.match(ev.error.message, /maxEstablishedIncoming/)
    assert.ok(b.behaviour.members.probe.handlers.every(h => h.closed))
    assert.equal(b.numEstablished, 0)
  } finally {
    await closeAll([a, b])
  }
})

test('toggle: a disabled member declares no protocol and emits nothing; enabling affects new connections', async () => {
  const [a, b] = await createSwarms(2, () => combine({ on: new ProbeBehaviour('/on/1'), off: toggle(new ProbeBehaviour('/off/1'), false) }))
  assert.ok(a !== undefined && b !== undefined)
  try {
    await connect(a, b)
    assert.deepEqual(b.protocols.list(), ['/on/1'])
    b.behaviour.members.off.enabled = true
    a.behaviour.members.off.enabled = true
    const second = waitFor(b, 'connectionEstablished', e => e.numEstablished === 2)
    a.dial({ peerId: b.localPeerId, condition: 'always' })
    await second
    assert.deepEqual([...b.protocols.list()].sort(), ['/off/1', '/on/1'])
  } finally {
    await closeAll([a, b])
  }
})

test('combined poll is round-robin: a busy member does not starve the others', () => {
  const a = new ProbeBehaviour('/a/1')
  const b = new ProbeBehaviour('/b/1')
  const c = combine({ a, b })
  for (let i = 0; i < 3; i++) a.command({ type: 'generateEvent', event: { n: i } as never })
  b.command({ type: 'generateEvent', event: { n: 100 } as never })
  const cx = { now: 0, wake: () => {} }
  const order: string[] = []
  for (let cmd = c.poll(cx); cmd !== undefined; cmd = c.poll(cx)) {
    if (cmd.type === 'generateEvent') order.push(cmd.event.behaviour)
  }
  assert.deepEqual(order, ['a', 'b', 'a', 'a'])
  assert.deepEqual([...c.listenProtocols()].sort(), ['/a/1', '/b/1'])
  assert.equal(c.listenProtocols(), c.listenProtocols(), 'same array while nothing changes')
})
