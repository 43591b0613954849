/**
 * Outbound `durationMs` on request-response's `response` and `outboundFailure` events: from
 * `sendRequest` to the event, on the Swarm's clock. The behaviour is driven in virtual time (it
 * reads no clock: `cx.now` stamps a request at the first poll after `sendRequest` and completes
 * the event when it leaves `poll`), then once over memory swarms against the wall clock.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { performance } from 'node:perf_hooks'
import type { FromSwarm, PollContext } from '../../../src/core/behaviour.ts'
import { ConnectionClosedError, DialError, TimeoutError } from '../../../src/core/errors.ts'
import { generateKeyPair, peerIdFromPrivateKey } from '../../../src/identity/index.ts'
import { multiaddr } from '@multiformats/multiaddr'
import { RequestResponseBehaviour, jsonCodec, type RequestResponseEvent } from '../../../src/protocols/request-response/index.ts'
import { MAX_PENDING_OUTBOUND_REQUESTS } from '../../../src/protocols/request-response/constants.ts'
import { closeAll, connect, createSwarms, waitFor } from '../../helpers/swarm.ts'

type Ev = RequestResponseEvent<string, string>
const at = (now: number): PollContext => ({ now, wake: () => {} })
const peer = peerIdFromPrivateKey(generateKeyPair())
const endpoint = { role: 'dialer' as const, address: multiaddr('/memory/x') }

function behaviour (): RequestResponseBehaviour<string, string> {
  return new RequestResponseBehaviour<string, string>({ codec: jsonCodec(), protocols: ['/d/1'] })
}

/** Polls until empty; returns the commands. */
function drain (b: RequestResponseBehaviour<string, string>, now: number): Array<NonNullable<ReturnType<typeof b.poll>>> {
  const out = []
  for (let c = b.poll(at(now)); c !== undefined; c = b.poll(at(now))) out.push(c)
  return out
}

function events (cmds: ReturnType<typeof drain>): Ev[] {
  return cmds.flatMap(c => c.type === 'generateEvent' ? [c.event] : [])
}

test('durationMs: response and handler failure on a connection, measured from the poll after sendRequest', () => {
  const b = behaviour()
  b.onSwarmEvent({ type: 'connectionEstablished', peerId: peer, connectionId: 1, endpoint, otherEstablished: 0, failedAddresses: [] })
  const r1 = b.sendRequest(peer, 'a')
  const r2 = b.sendRequest(peer, 'b')
  assert.deepEqual(drain(b, 100).map(c => c.type), ['notifyHandler', 'notifyHandler'])
  b.onConnectionHandlerEvent(peer, 1, { type: 'response', requestId: r1, response: 'A' })
  const [res] = events(drain(b, 350))
  assert.ok(res?.type === 'response' && res.requestId === r1)
  assert.equal(res.durationMs, 250)
  b.onConnectionHandlerEvent(peer, 1, { type: 'outboundFailure', requestId: r2, error: new TimeoutError('late') })
  const [fail] = events(drain(b, 10_100))
  assert.ok(fail?.type === 'outboundFailure' && fail.requestId === r2)
  assert.equal(fail.durationMs, 10_000)
})

test('durationMs: failures the behaviour reports itself (connection closed, dial failure, pending limit)', () => {
  const b = behaviour()
  b.onSwarmEvent({ type: 'connectionEstablished', peerId: peer, connectionId: 1, endpoint, otherEstablished: 0, failedAddresses: [] })
  const onConn = b.sendRequest(peer, 'x')
  drain(b, 1000)
  b.onSwarmEvent({ type: 'connectionClosed', peerId: peer, connectionId: 1, endpoint, remainingEstablished: 0 })
  const [closed] = events(drain(b, 1600))
  assert.ok(closed?.type === 'outboundFailure' && closed.requestId === onConn && closed.error instanceof ConnectionClosedError)
  assert.equal(closed.durationMs, 600)

  // Not connected: the request waits for a dial, which fails 500 ms later.
  const waiting = b.sendRequest(peer, 'y')
  const cmds = drain(b, 2000)
  const dial = cmds.find(c => c.type === 'dial')
  assert.ok(dial?.type === 'dial')
  b.onSwarmEvent({ type: 'dialFailure', peerId: peer, dialId: dial.opts.dialId, error: new Error('refused') } satisfies FromSwarm)
  const [dialFailed] = events(drain(b, 2500))
  assert.ok(dialFailed?.type === 'outboundFailure' && dialFailed.requestId === waiting && dialFailed.error instanceof DialError)
  assert.equal(dialFailed.durationMs, 500)

  // Over the pending bound: refused at once, duration 0.
  const other = peerIdFromPrivateKey(generateKeyPair())
  for (let i = 0; i < MAX_PENDING_OUTBOUND_REQUESTS; i++) b.sendRequest(other, 'q')
  const refused = b.sendRequest(other, 'over')
  const over = events(drain(b, 3000)).find(e => e.type === 'outboundFailure' && e.requestId === refused)
  assert.ok(over?.type === 'outboundFailure')
  assert.equal(over.durationMs, 0)
})

test('durationMs over memory swarms lies within the wall-clock time of the exchange', async () => {
  const [a, b] = await createSwarms(2, () => behaviour())
  assert.ok(a !== undefined && b !== undefined)
  try {
    // b answers after about 60 ms.
    b.on('behaviour', e => { if (e.event.type === 'request') { const ch = e.event.channel; setTimeout(() => b.behaviour.sendResponse(ch, 'ok'), 60) } })
    await connect(a, b)
    const got = waitFor(a, 'behaviour', e => e.event.type === 'response')
    const t0 = performance.now()
    const id = a.behaviour.sendRequest(b.localPeerId, 'hi')
    const ev = (await got).event
    const wall = performance.now() - t0
    assert.ok(ev.type === 'response' && ev.requestId === id)
    assert.ok(ev.durationMs >= 55 && ev.durationMs <= wall + 1, `durationMs ${ev.durationMs}, wall ${wall}`)
  } finally {
    await closeAll([a, b])
  }
})
