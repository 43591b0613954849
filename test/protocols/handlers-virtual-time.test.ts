/**
 * Handlers read no clock: their schedules run on the `now` the Swarm passes, so they are tested
 * here in virtual time, without a Swarm, a transport or a timer.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { StreamUpgradeError, type PollContext } from '../../src/core/handler.ts'
import { TimeoutError } from '../../src/core/errors.ts'
import { PingHandler } from '../../src/protocols/ping/handler.ts'
import { IdentifyHandler } from '../../src/protocols/identify/handler.ts'
import { IDENTIFY_PROTOCOL } from '../../src/protocols/identify/constants.ts'
import { RequestResponseHandler } from '../../src/protocols/request-response/handler.ts'
import { jsonCodec } from '../../src/protocols/request-response/codec.ts'
import { generateKeyPair, peerIdFromPrivateKey } from '../../src/identity/index.ts'

function at (now: number): PollContext {
  return { now, wake: () => {} }
}

function drain<T> (poll: () => T | undefined): T[] {
  const out: T[] = []
  for (let ev = poll(); ev !== undefined; ev = poll()) out.push(ev)
  return out
}

test('ping handler: first ping at once, next one an interval after a failure, nothing while a stream opens', () => {
  const h = new PingHandler({ intervalMs: 1000, timeoutMs: 500, keepAlive: false })
  const first = drain(() => h.poll(at(0)))
  assert.deepEqual(first.map(e => e.type), ['outboundStreamRequest'])
  assert.equal(h.nextDeadline(), undefined, 'no deadline while the stream is being opened')
  assert.equal(h.keepAlive(), true, 'kept alive while a ping is under way')
  h.onOutboundStreamError(null, new StreamUpgradeError('timeout', 'slow'))
  const failed = drain(() => h.poll(at(5)))
  assert.equal(failed.length, 1)
  assert.ok(failed[0]?.type === 'notifyBehaviour' && failed[0].event.type === 'failure')
  assert.equal(h.keepAlive(), false)
  assert.equal(h.nextDeadline(), 1005)
  assert.deepEqual(drain(() => h.poll(at(1004))), [])
  assert.deepEqual(drain(() => h.poll(at(1005))).map(e => e.type), ['outboundStreamRequest'])
})

test('ping handler: an unsupported remote stops the schedule', () => {
  const h = new PingHandler({ intervalMs: 10, timeoutMs: 10, keepAlive: true })
  drain(() => h.poll(at(0)))
  h.onOutboundStreamError(null, new StreamUpgradeError('unsupported', 'na'))
  const evs = drain(() => h.poll(at(1)))
  assert.ok(evs[0]?.type === 'notifyBehaviour' && evs[0].event.type === 'unsupported')
  assert.equal(h.nextDeadline(), undefined)
  assert.equal(h.keepAlive(), false)
  assert.deepEqual(drain(() => h.poll(at(1_000_000))), [])
})

test('identify handler: identifies at once and again after the interval', () => {
  const key = generateKeyPair()
  const h = new IdentifyHandler({
    local: { protocolVersion: 'p', agentVersion: 'a', publicKey: key.publicKey.toProtobuf(), addresses: () => [], signedPeerRecord: () => undefined },
    remotePeer: peerIdFromPrivateKey(generateKeyPair()),
    remoteAddr: multiaddr('/memory/x'),
    intervalMs: 300_000,
    timeoutMs: 5000
  })
  const evs = drain(() => h.poll(at(100)))
  assert.ok(evs[0]?.type === 'outboundStreamRequest' && evs[0].protocols[0] === IDENTIFY_PROTOCOL)
  assert.equal(h.nextDeadline(), undefined, 'nothing scheduled while the request is under way')
  h.onOutboundStreamError('identify', new StreamUpgradeError('unsupported', 'na'))
  drain(() => h.poll(at(200)))
  assert.equal(h.nextDeadline(), 300_100)
  assert.deepEqual(drain(() => h.poll(at(300_099))), [])
  assert.equal(drain(() => h.poll(at(300_100)))[0]?.type, 'outboundStreamRequest')
})

test('request-response handler: a request whose stream never opens fails at its deadline', () => {
  const h = new RequestResponseHandler<string, string>({
    codec: jsonCodec(), inboundProtocols: [], outboundProtocols: ['/rr/1'], timeoutMs: 100,
    maxRequestSize: 1000, maxResponseSize: 1000, maxConcurrentInbound: 1, nextInboundId: () => 1
  })
  h.onBehaviourEvent({ type: 'request', requestId: 7, request: 'hi' })
  assert.equal(drain(() => h.poll(at(1000)))[0]?.type, 'outboundStreamRequest')
  assert.equal(h.nextDeadline(), 1100)
  assert.equal(h.keepAlive(), true)
  assert.deepEqual(drain(() => h.poll(at(1099))), [])
  const evs = drain(() => h.poll(at(1100)))
  assert.ok(evs[0]?.type === 'notifyBehaviour' && evs[0].event.type === 'outboundFailure' && evs[0].event.requestId === 7)
  assert.ok(evs[0].event.error instanceof TimeoutError)
  assert.equal(h.keepAlive(), false)
  assert.equal(h.nextDeadline(), undefined)
})
