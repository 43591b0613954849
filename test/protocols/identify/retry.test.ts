/**
 * Identify request retries, in virtual time (the handler reads no clock): a request that fails for
 * a reason that may pass (stream not opened in time, I/O error, an exchange the remote never
 * answers) is retried after IDENTIFY_RETRY_DELAY_MS, doubled per retry, MAX_IDENTIFY_RETRIES
 * times; a remote that does not speak identify or sends a malformed message waits for the interval.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { StreamUpgradeError, type PollContext } from '../../../src/core/handler.ts'
import type { Stream } from '../../../src/core/stream.ts'
import { generateKeyPair, peerIdFromPrivateKey, type PrivateKey } from '../../../src/identity/index.ts'
import { IdentifyHandler } from '../../../src/protocols/identify/handler.ts'
import { IDENTIFY_PROTOCOL, IDENTIFY_RETRY_DELAY_MS, MAX_IDENTIFY_RETRIES } from '../../../src/protocols/identify/constants.ts'
import { encodeIdentify } from '../../../src/protocols/identify/message.ts'
import { memory, MemoryNetwork } from '../../../src/transports/memory/index.ts'
import { StaticProtocolTable } from '../../../src/utils/protocol-table.ts'
import { lengthPrefixed } from '../../../src/utils/length-prefixed.ts'

const INTERVAL = 300_000
const TIMEOUT = 5000

function at (now: number): PollContext {
  return { now, wake: () => {} }
}

function drain<T> (poll: () => T | undefined): T[] {
  const out: T[] = []
  for (let ev = poll(); ev !== undefined; ev = poll()) out.push(ev)
  return out
}

function handler (remoteKey: PrivateKey = generateKeyPair()): IdentifyHandler {
  const key = generateKeyPair()
  return new IdentifyHandler({
    local: { protocolVersion: 'p', agentVersion: 'a', publicKey: key.publicKey.toProtobuf(), addresses: () => [], signedPeerRecord: () => undefined },
    remotePeer: peerIdFromPrivateKey(remoteKey),
    remoteAddr: multiaddr('/memory/x'),
    intervalMs: INTERVAL,
    timeoutMs: TIMEOUT
  })
}

const types = (evs: Array<{ type: string }>): string[] => evs.map(e => e.type)

test('identify: a request whose stream fails to open (timeout, io) is retried with doubling delays, then waits for the interval', () => {
  const h = handler()
  let now = 0
  assert.deepEqual(types(drain(() => h.poll(at(now)))), ['outboundStreamRequest'])
  const requestedAt: number[] = [now]
  for (let i = 1; i <= MAX_IDENTIFY_RETRIES; i++) {
    h.onOutboundStreamError('identify', new StreamUpgradeError(i % 2 === 0 ? 'io' : 'timeout', 'lost'))
    now += 10
    assert.deepEqual(types(drain(() => h.poll(at(now)))), ['notifyBehaviour'], 'the failure is reported')
    const due = now + IDENTIFY_RETRY_DELAY_MS * 2 ** (i - 1)
    assert.equal(h.nextDeadline(), due, `retry ${i} after ${IDENTIFY_RETRY_DELAY_MS * 2 ** (i - 1)} ms`)
    assert.deepEqual(drain(() => h.poll(at(due - 1))), [])
    now = due
    const evs = drain(() => h.poll(at(now)))
    assert.ok(evs[0]?.type === 'outboundStreamRequest' && evs[0].protocols[0] === IDENTIFY_PROTOCOL)
    requestedAt.push(now)
  }
  // Out of retries: the next request is the periodic one.
  h.onOutboundStreamError('identify', new StreamUpgradeError('timeout', 'lost'))
  drain(() => h.poll(at(now + 10)))
  assert.equal(h.nextDeadline(), (requestedAt.at(-1) as number) + INTERVAL)
})

test('identify: a remote that does not speak identify is not retried before the interval', () => {
  const h = handler()
  drain(() => h.poll(at(100)))
  h.onOutboundStreamError('identify', new StreamUpgradeError('unsupported', 'na'))
  drain(() => h.poll(at(200)))
  assert.equal(h.nextDeadline(), 100 + INTERVAL)
})

async function pair (answer: (s: Stream) => void): Promise<{ open: () => Promise<Stream>, close: () => Promise<void>, remoteKey: PrivateKey }> {
  const network = new MemoryNetwork()
  const keyA = generateKeyPair()
  const keyB = generateKeyPair()
  const ta = memory({ network })({ privateKey: keyA, peerId: peerIdFromPrivateKey(keyA), protocols: new StaticProtocolTable() })
  const tb = memory({ network })({ privateKey: keyB, peerId: peerIdFromPrivateKey(keyB), protocols: new StaticProtocolTable([IDENTIFY_PROTOCOL]) })
  const name = `/memory/identify-retry-${process.pid}-${Math.random()}`
  const listener = await tb.listen(multiaddr(name))
  listener.on('connection', (c) => { c.on('stream', answer) })
  const conn = await ta.dial(multiaddr(name))
  return {
    open: async () => await conn.openStream(IDENTIFY_PROTOCOL),
    close: async () => { await ta.close(); await tb.close() },
    remoteKey: keyB
  }
}

const settle = async (): Promise<void> => { await new Promise(resolve => setTimeout(resolve, 10)) }

test('identify: an exchange the remote never answers times out and is retried; a success resets the delays', async () => {
  let answering = false
  const net = await pair((s) => {
    // The first request is lost (as a stream the remote never saw); later ones are answered.
    if (!answering) return
    s.send(lengthPrefixed(encodeIdentify({ listenAddrs: [], protocols: [IDENTIFY_PROTOCOL], agentVersion: 'remote' })))
    void s.close()
  })
  const h = handler(net.remoteKey)
  try {
    assert.deepEqual(types(drain(() => h.poll(at(0)))), ['outboundStreamRequest'])
    h.onOutboundStream(await net.open(), IDENTIFY_PROTOCOL, 'identify')
    drain(() => h.poll(at(0)))
    assert.equal(h.nextDeadline(), TIMEOUT, 'the exchange deadline')
    drain(() => h.poll(at(TIMEOUT))) // resets the late exchange
    await settle()
    const failed = drain(() => h.poll(at(TIMEOUT + 1)))
    assert.ok(failed.some(e => e.type === 'notifyBehaviour' && e.event.type === 'error'))
    assert.equal(h.nextDeadline(), TIMEOUT + 1 + IDENTIFY_RETRY_DELAY_MS)
    answering = true
    const retry = drain(() => h.poll(at(TIMEOUT + 1 + IDENTIFY_RETRY_DELAY_MS)))
    assert.deepEqual(types(retry), ['outboundStreamRequest'])
    h.onOutboundStream(await net.open(), IDENTIFY_PROTOCOL, 'identify')
    await settle()
    const done = drain(() => h.poll(at(TIMEOUT + 1 + IDENTIFY_RETRY_DELAY_MS + 5)))
    assert.ok(done.some(e => e.type === 'notifyBehaviour' && e.event.type === 'identified'), JSON.stringify(types(done)))
    // A later failure starts again from the first delay.
    const later = TIMEOUT + 1 + IDENTIFY_RETRY_DELAY_MS + INTERVAL
    assert.deepEqual(types(drain(() => h.poll(at(later)))), ['outboundStreamRequest'])
    h.onOutboundStreamError('identify', new StreamUpgradeError('timeout', 'lost'))
    drain(() => h.poll(at(later + 1)))
    assert.equal(h.nextDeadline(), later + 1 + IDENTIFY_RETRY_DELAY_MS)
  } finally {
    h.onClose()
    await net.close()
  }
})

test('identify: a malformed answer is not retried before the interval', async () => {
  const net = await pair((s) => { s.send(Uint8Array.from([3, 0xff, 0xff, 0xff])); void s.close() })
  const h = handler(net.remoteKey)
  try {
    drain(() => h.poll(at(0)))
    h.onOutboundStream(await net.open(), IDENTIFY_PROTOCOL, 'identify')
    drain(() => h.poll(at(0)))
    await settle()
    const evs = drain(() => h.poll(at(1)))
    assert.ok(evs.some(e => e.type === 'notifyBehaviour' && e.event.type === 'error'))
    assert.equal(h.nextDeadline(), INTERVAL)
  } finally {
    h.onClose()
    await net.close()
  }
})
