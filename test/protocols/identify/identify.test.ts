/**
 * Identify: message codec (round trip, bounds, garbage) and the behaviour over the in-memory
 * transport (exchange both ways, observed address as a candidate, listen addresses into the
 * address book, verified signed peer record, push of new addresses).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import { ProtocolViolationError } from '../../../src/core/errors.ts'
import { combine } from '../../../src/core/combine.ts'
import { IdentifyBehaviour, IDENTIFY_PROTOCOL, IDENTIFY_PUSH_PROTOCOL, MAX_IDENTIFY_ADDRESSES, decodeIdentify, encodeIdentify } from '../../../src/protocols/identify/index.ts'
import { PingBehaviour } from '../../../src/protocols/ping/index.ts'
import { closeAll, connect, createSwarms, waitFor } from '../../helpers/swarm.ts'
import { IdentifyHandler } from '../../../src/protocols/identify/handler.ts'
import { generateKeyPair, peerIdFromPrivateKey } from '../../../src/identity/index.ts'

test('Identify message round-trips; list fields are capped; unknown fields skipped', () => {
  const m = {
    protocolVersion: 'ipfs/0.1.0',
    agentVersion: 'test/1',
    publicKey: Uint8Array.from([8, 1, 18, 32, ...new Uint8Array(32)]),
    listenAddrs: [multiaddr('/ip4/1.2.3.4/tcp/1'), multiaddr('/memory/x')],
    observedAddr: multiaddr('/ip4/5.6.7.8/tcp/2'),
    protocols: ['/a', '/b'],
    signedPeerRecord: Uint8Array.from([1, 2, 3])
  }
  const d = decodeIdentify(encodeIdentify(m))
  assert.deepEqual({ ...d, listenAddrs: d.listenAddrs.map(String), observedAddr: d.observedAddr?.toString() },
    { ...m, listenAddrs: m.listenAddrs.map(String), observedAddr: m.observedAddr.toString() })
  const many = encodeIdentify({ listenAddrs: Array.from({ length: 100 }, (_, i) => multiaddr(`/memory/${i}`)), protocols: [] })
  assert.equal(decodeIdentify(many).listenAddrs.length, MAX_IDENTIFY_ADDRESSES)
  const withUnknown = Uint8Array.from([...encodeIdentify({ listenAddrs: [], protocols: ['/x'] }), 0x78, 0x05]) // field 15 varint
  assert.deepEqual(decodeIdentify(withUnknown).protocols, ['/x'])
})

test('garbage Identify bytes raise ProtocolViolationError only', () => {
  const valid = encodeIdentify({ agentVersion: 'a', listenAddrs: [multiaddr('/ip4/1.2.3.4/tcp/1')], protocols: ['/p'] })
  for (let i = 0; i < 3000; i++) {
    const input = i % 2 === 0 ? randomBytes(i % 100) : (() => { const b = Uint8Array.from(valid); b[i % b.length] = (b[i % b.length] as number) ^ (1 + (i % 200)); return b })()
    try { decodeIdentify(input) } catch (err) { assert.ok(err instanceof ProtocolViolationError, String(err)) }
  }
})

test('identify exchange over a swarm: info, observed address candidate, address book, signed record', async () => {
  const [a, b] = await createSwarms(2, (_i, key) => new IdentifyBehaviour({ privateKey: key, agentVersion: 'libp2p-native-test/1' }))
  assert.ok(a !== undefined && b !== undefined)
  try {
    const receivedByA = waitFor(a, 'behaviour', e => e.event.type === 'received')
    const receivedByB = waitFor(b, 'behaviour', e => e.event.type === 'received')
    const candidate = waitFor(a, 'newExternalAddrCandidate')
    await connect(a, b)
    const ev = (await receivedByA).event
    assert.ok(ev.type === 'received')
    assert.ok(ev.peerId.equals(b.localPeerId))
    assert.equal(ev.info.agentVersion, 'libp2p-native-test/1')
    assert.equal(ev.info.protocolVersion, 'ipfs/0.1.0')
    assert.deepEqual([...ev.info.protocols].sort(), [IDENTIFY_PROTOCOL, IDENTIFY_PUSH_PROTOCOL])
    assert.deepEqual(ev.info.listenAddrs.map(String), b.listenAddresses().map(String))
    assert.ok(ev.info.signedPeerRecord !== undefined, 'the record verified')
    assert.ok(ev.info.signedPeerRecord.peerId.equals(b.localPeerId))
    assert.ok(ev.info.publicKey !== undefined)
    await receivedByB
    // b saw a's connection coming from a's listen address (memory transport): a's candidate.
    const cand = await candidate
    assert.equal(cand.address.toString(), a.listenAddresses()[0]?.toString())
    assert.deepEqual(a.addressBook.get(b.localPeerId).map(String), b.listenAddresses().map(String))
  } finally {
    await closeAll([a, b])
  }
})

test('identify push: a new listen address reaches connected peers', async () => {
  const [a, b] = await createSwarms(2, (_i, key) => combine({
    identify: new IdentifyBehaviour({ privateKey: key, pushListenAddrUpdates: true }),
    ping: new PingBehaviour({ keepAlive: true })
  }))
  assert.ok(a !== undefined && b !== undefined)
  try {
    const identified = waitFor(a, 'behaviour', e => e.event.behaviour === 'identify' && e.event.event.type === 'received')
    await connect(a, b)
    await identified
    const pushed = waitFor(a, 'behaviour', e => e.event.behaviour === 'identify' && e.event.event.type === 'pushReceived')
    await b.listen(multiaddr(`/memory/identify-push-${process.pid}`))
    const ev = (await pushed).event
    assert.ok(ev.behaviour === 'identify' && ev.event.type === 'pushReceived')
    assert.ok(ev.event.info.listenAddrs.some(x => x.toString() === `/memory/identify-push-${process.pid}`))
    assert.ok(a.addressBook.get(b.localPeerId).some(x => x.toString() === `/memory/identify-push-${process.pid}`))
  } finally {
    await closeAll([a, b])
  }
})

test('identify handler: inbound exchanges beyond the per-connection bound are reset', async () => {
  const { MemoryNetwork, memory } = await import('../../../src/transports/memory/index.ts')
  const { MAX_CONCURRENT_IDENTIFY_STREAMS } = await import('../../../src/protocols/identify/constants.ts')
  const { StaticProtocolTable } = await import('../../../src/utils/protocol-table.ts')
  const network = new MemoryNetwork()
  const keyA = generateKeyPair()
  const keyB = generateKeyPair()
  const ta = memory({ network })({ privateKey: keyA, peerId: peerIdFromPrivateKey(keyA), protocols: new StaticProtocolTable() })
  const tb = memory({ network })({ privateKey: keyB, peerId: peerIdFromPrivateKey(keyB), protocols: new StaticProtocolTable([IDENTIFY_PROTOCOL]) })
  const listener = await tb.listen(multiaddr('/memory/identify-bound'))
  const h = new IdentifyHandler({
    local: { protocolVersion: 'p', agentVersion: 'a', publicKey: keyB.publicKey.toProtobuf(), addresses: () => [], signedPeerRecord: () => undefined },
    remotePeer: peerIdFromPrivateKey(keyA),
    remoteAddr: multiaddr('/memory/x'),
    intervalMs: 300_000,
    timeoutMs: 5000
  })
  listener.on('connection', (c) => { c.on('stream', (s) => { h.onInboundStream(s, s.protocol) }) })
  try {
    const conn = await ta.dial(multiaddr('/memory/identify-bound'))
    const streams = []
    for (let i = 0; i < MAX_CONCURRENT_IDENTIFY_STREAMS + 2; i++) streams.push(await conn.openStream(IDENTIFY_PROTOCOL))
    await new Promise(resolve => setTimeout(resolve, 20))
    // The requester never closes, so the first ones stay active; the extra ones are reset.
    const reset = streams.filter(s => s.status === 'reset' || s.status === 'aborted').length
    assert.equal(reset, 2)
    h.onClose()
  } finally {
    await ta.close()
    await tb.close()
  }
})
