/**
 * Request-response over the in-memory transport: request/response with ids, dialing on demand,
 * timeouts, size limits, the concurrent-inbound limit, dial failure; codec round trips.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { TimeoutError } from '../../../src/core/errors.ts'
import {
  RequestResponseBehaviour, bytesCodec, cborCodec, jsonCodec, type RequestResponseConfig, type RequestResponseEvent
} from '../../../src/protocols/request-response/index.ts'
import { addressOf, closeAll, connect, createSwarms, waitFor } from '../../helpers/swarm.ts'
import type { Swarm } from '../../../src/core/swarm/swarm.ts'

interface Req { text: string, n?: number }
interface Res { echo: string }
type RR = RequestResponseBehaviour<Req, Res>

async function pair (config: Partial<RequestResponseConfig<Req, Res>> = {}, configB: Partial<RequestResponseConfig<Req, Res>> = {}): Promise<[Swarm<RR>, Swarm<RR>]> {
  const [a, b] = await createSwarms(2, (i) => new RequestResponseBehaviour<Req, Res>({ codec: jsonCodec(), protocols: ['/echo/1'], ...(i === 0 ? config : configB) }))
  assert.ok(a !== undefined && b !== undefined)
  return [a, b]
}

/** b answers every request with its text, unless `hold` says not to. */
function autoRespond (b: Swarm<RR>, hold: (req: Req) => boolean = () => false): void {
  b.on('behaviour', e => {
    if (e.event.type === 'request' && !hold(e.event.request)) b.behaviour.sendResponse(e.event.channel, { echo: e.event.request.text })
  })
}

test('a request gets its response; ids match on both sides', async () => {
  const [a, b] = await pair()
  try {
    autoRespond(b)
    await connect(a, b)
    const sent = waitFor(b, 'behaviour', e => e.event.type === 'responseSent')
    const got = waitFor(a, 'behaviour', e => e.event.type === 'response')
    const id = a.behaviour.sendRequest(b.localPeerId, { text: 'hello' })
    const ev = (await got).event as Extract<RequestResponseEvent<Req, Res>, { type: 'response' }>
    assert.equal(ev.requestId, id)
    assert.deepEqual(ev.response, { echo: 'hello' })
    await sent
  } finally {
    await closeAll([a, b])
  }
})

test('a request to an unconnected peer dials it first; several requests wait for one connection', async () => {
  const [a, b] = await pair()
  try {
    autoRespond(b)
    const responses = new Map<number, string>()
    a.on('behaviour', e => { if (e.event.type === 'response') responses.set(e.event.requestId, e.event.response.echo) })
    const id1 = a.behaviour.sendRequest(b.localPeerId, { text: 'one' }, { addresses: [addressOf(b)] })
    const id2 = a.behaviour.sendRequest(b.localPeerId, { text: 'two' })
    await waitFor(a, 'behaviour', () => responses.size === 2)
    assert.equal(responses.get(id1), 'one')
    assert.equal(responses.get(id2), 'two')
    assert.equal(a.connections(b.localPeerId).length, 1)
  } finally {
    await closeAll([a, b])
  }
})

test('an unanswered request times out on both sides', async () => {
  const [a, b] = await pair({ timeoutMs: 80 }, { timeoutMs: 80 })
  try {
    await connect(a, b)
    const inboundFailure = waitFor(b, 'behaviour', e => e.event.type === 'inboundFailure')
    const failed = waitFor(a, 'behaviour', e => e.event.type === 'outboundFailure')
    const t0 = Date.now()
    const id = a.behaviour.sendRequest(b.localPeerId, { text: 'ignored' })
    const ev = (await failed).event
    assert.ok(ev.type === 'outboundFailure' && ev.requestId === id)
    assert.ok(Date.now() - t0 >= 70)
    const inb = (await inboundFailure).event
    assert.ok(inb.type === 'inboundFailure' && inb.error instanceof TimeoutError, String(inb.type === 'inboundFailure' ? inb.error : ''))
  } finally {
    await closeAll([a, b])
  }
})

test('a request over the receiver\'s size limit is refused', async () => {
  const [a, b] = await pair({}, { maxRequestSize: 100 })
  try {
    autoRespond(b)
    await connect(a, b)
    const inboundFailure = waitFor(b, 'behaviour', e => e.event.type === 'inboundFailure')
    const failed = waitFor(a, 'behaviour', e => e.event.type === 'outboundFailure')
    a.behaviour.sendRequest(b.localPeerId, { text: 'x'.repeat(500) })
    const inb = (await inboundFailure).event
    assert.ok(inb.type === 'inboundFailure')
    assert.equal((inb.error as { code?: string }).code, 'ERR_MESSAGE_TOO_LARGE')
    await failed
    // A small one still works on the same connection.
    const ok = waitFor(a, 'behaviour', e => e.event.type === 'response')
    a.behaviour.sendRequest(b.localPeerId, { text: 'small' })
    await ok
  } finally {
    await closeAll([a, b])
  }
})

test('inbound requests beyond maxConcurrentInbound are refused', async () => {
  const [a, b] = await pair({}, { maxConcurrentInbound: 1 })
  try {
    autoRespond(b, req => req.text === 'slow')
    await connect(a, b)
    const firstArrived = waitFor(b, 'behaviour', e => e.event.type === 'request')
    a.behaviour.sendRequest(b.localPeerId, { text: 'slow' })
    await firstArrived
    const refused = waitFor(b, 'behaviour', e => e.event.type === 'inboundFailure')
    const failed = waitFor(a, 'behaviour', e => e.event.type === 'outboundFailure')
    a.behaviour.sendRequest(b.localPeerId, { text: 'second' })
    const ev = (await refused).event
    assert.ok(ev.type === 'inboundFailure')
    assert.match(ev.error.message, /maxConcurrentInbound/)
    await failed
  } finally {
    await closeAll([a, b])
  }
})

test('a request to an unreachable peer fails with the dial error', async () => {
  const [a, b] = await pair()
  try {
    const failed = waitFor(a, 'behaviour', e => e.event.type === 'outboundFailure')
    const id = a.behaviour.sendRequest(b.localPeerId, { text: 'x' }, { addresses: [multiaddr('/memory/nowhere-rr')] })
    const ev = (await failed).event
    assert.ok(ev.type === 'outboundFailure' && ev.requestId === id)
    assert.match(ev.error.message, /could not connect/)
  } finally {
    await closeAll([a, b])
  }
})

test('codecs round-trip and reject garbage', () => {
  const value = { a: 1, b: 'two', c: [true, null], d: { e: 1.5 } }
  for (const codec of [jsonCodec<typeof value, typeof value>(), cborCodec<typeof value, typeof value>()]) {
    // JSON text comparison: CBOR maps decode to prototype-less objects.
    assert.equal(JSON.stringify(codec.decodeRequest(codec.encodeRequest(value))), JSON.stringify(value))
    assert.equal(JSON.stringify(codec.decodeResponse(codec.encodeResponse(value))), JSON.stringify(value))
  }
  const cbor = cborCodec<{ bytes: Uint8Array }, unknown>()
  const decoded = cbor.decodeRequest(cbor.encodeRequest({ bytes: Uint8Array.from([1, 2, 3]) }))
  assert.deepEqual([...decoded.bytes], [1, 2, 3])
  // Standard, minimal CBOR: {x: 1} is a1 61 78 01 (map(1), text(1) 'x', unsigned(1)).
  assert.deepEqual([...cborCodec<{ x: number }, unknown>().encodeRequest({ x: 1 })], [0xa1, 0x61, 0x78, 0x01])
  const bytes = bytesCodec()
  assert.deepEqual([...bytes.decodeResponse(Uint8Array.from([9, 8]))], [9, 8])
  assert.throws(() => jsonCodec().decodeRequest(Uint8Array.from([0xff, 0xfe])))
  assert.throws(() => cborCodec().decodeRequest(Uint8Array.from([0x5f])))
})
