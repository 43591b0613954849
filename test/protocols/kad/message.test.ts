import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeMessage, encodeMessage, KadDecodeError, kadMessage, MessageType, type KadMessage, type WirePeer } from '../../../src/protocols/kad/message.ts'
import { decodeFrame, encodeFrame, FrameDecoder, KadFrameError } from '../../../src/protocols/kad/protocol.ts'
import { ProtocolViolationError } from '../../../src/core/errors.ts'
// @libp2p/kad-dht does not export its codec; load the generated module by path (devDependency).
import { Message as JsMessage, Record as JsRecord } from '../../../node_modules/@libp2p/kad-dht/dist/src/message/dht.js'
import { Rng } from './rng.ts'

function randomPeer (rng: Rng): WirePeer {
  const addrs: Uint8Array[] = []
  for (let i = rng.int(4); i > 0; i--) addrs.push(rng.bytes(rng.int(40) + 1))
  return { id: rng.bytes(rng.int(2) === 0 ? 34 : 38), addrs, connection: rng.int(4) }
}

function randomMessage (rng: Rng): KadMessage {
  const m = kadMessage(rng.int(6) as MessageType)
  if (rng.int(2) === 0) m.key = rng.bytes(rng.int(60) + 1)
  if (rng.int(3) === 0) {
    m.record = { key: rng.bytes(rng.int(40) + 1), value: rng.bytes(rng.int(300) + 1), timeReceived: rng.int(2) === 0 ? '' : new Date(rng.u32() * 1000).toISOString() }
  }
  for (let i = rng.int(5); i > 0; i--) m.closerPeers.push(randomPeer(rng))
  for (let i = rng.int(3); i > 0; i--) m.providerPeers.push(randomPeer(rng))
  if (rng.int(4) === 0) m.clusterLevelRaw = (rng.u32() | 0)
  return m
}

test('property: decode(encode(m)) == m for random messages, framed and unframed', () => {
  const rng = new Rng(1)
  for (let i = 0; i < 2000; i++) {
    const m = randomMessage(rng)
    assert.deepEqual(decodeMessage(encodeMessage(m)), m)
    assert.deepEqual(decodeFrame(encodeFrame(m)), m)
  }
})

test('negative clusterLevelRaw is a 10-byte varint and round-trips', () => {
  const m = kadMessage(MessageType.PING, { clusterLevelRaw: -1 })
  const bytes = encodeMessage(m)
  assert.deepEqual([...bytes], [0x08, 0x05, 0x50, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])
  assert.equal(decodeMessage(bytes).clusterLevelRaw, -1)
  assert.equal(decodeMessage(encodeMessage({ ...m, clusterLevelRaw: -2147483648 })).clusterLevelRaw, -2147483648)
})

test('byte vector: FIND_NODE with key', () => {
  const m = kadMessage(MessageType.FIND_NODE, { key: Uint8Array.from([1, 2, 3]) })
  assert.deepEqual([...encodeFrame(m)], [7, 0x08, 0x04, 0x12, 0x03, 1, 2, 3])
})

test('compatibility with @libp2p/kad-dht: each decodes what the other encodes', () => {
  const rng = new Rng(7)
  const names = ['PUT_VALUE', 'GET_VALUE', 'ADD_PROVIDER', 'GET_PROVIDERS', 'FIND_NODE', 'PING'] as const
  const conn = ['NOT_CONNECTED', 'CONNECTED', 'CAN_CONNECT', 'CANNOT_CONNECT'] as const
  for (let i = 0; i < 300; i++) {
    const m = randomMessage(rng)
    m.clusterLevelRaw = 0
    // js writes `connection` whenever present; give every peer a non-default one so bytes match.
    for (const p of [...m.closerPeers, ...m.providerPeers]) if (p.connection === 0) p.connection = 1
    if (m.record !== undefined) { m.record.key = rng.bytes(5); m.record.value = rng.bytes(9) }
    const ours = encodeMessage(m)
    const js = JsMessage.decode(ours)
    assert.equal(js.type, names[m.type])
    assert.deepEqual(js.key, m.key)
    assert.equal(js.closer.length, m.closerPeers.length)
    for (const [j, p] of m.closerPeers.entries()) {
      assert.deepEqual(js.closer[j]?.id, p.id)
      assert.deepEqual(js.closer[j]?.multiaddrs, p.addrs)
      assert.equal(js.closer[j]?.connection, conn[p.connection])
    }
    assert.equal(js.providers.length, m.providerPeers.length)
    if (m.record !== undefined) {
      assert.ok(js.record !== undefined)
      const rec = JsRecord.decode(js.record)
      assert.deepEqual(rec.key, m.record.key)
      assert.deepEqual(rec.value, m.record.value)
      assert.equal(rec.timeReceived ?? '', m.record.timeReceived)
    }
    // js -> ours, and byte equality (both write proto3 fields in the same order here).
    const jsBytes = JsMessage.encode({
      type: names[m.type] as never,
      key: m.key,
      record: m.record === undefined ? undefined : JsRecord.encode({ key: m.record.key, value: m.record.value, timeReceived: m.record.timeReceived === '' ? undefined : m.record.timeReceived }),
      closer: m.closerPeers.map(p => ({ id: p.id, multiaddrs: p.addrs, connection: conn[p.connection] as never })),
      providers: m.providerPeers.map(p => ({ id: p.id, multiaddrs: p.addrs, connection: conn[p.connection] as never }))
    })
    assert.deepEqual(decodeMessage(jsBytes), m)
    assert.deepEqual(jsBytes, ours)
  }
  // js's clusterLevel is our clusterLevelRaw (field 10).
  const withLevel = JsMessage.encode({ type: 'PING' as never, clusterLevel: 5, closer: [], providers: [] })
  assert.equal(decodeMessage(withLevel).clusterLevelRaw, 5)
  assert.equal(JsMessage.decode(encodeMessage(kadMessage(MessageType.PING, { clusterLevelRaw: -3 }))).clusterLevel, -3)
})

test('garbage input: decoding random bytes only ever throws KadDecodeError', () => {
  const rng = new Rng(99)
  let decoded = 0
  for (let i = 0; i < 20000; i++) {
    const bytes = rng.bytes(rng.int(64))
    try {
      decodeMessage(bytes)
      decoded++
    } catch (err) {
      assert.ok(err instanceof KadDecodeError, `unexpected ${String(err)}`)
    }
  }
  assert.ok(decoded > 0 && decoded < 20000)
})

test('mutated valid messages decode or fail with KadDecodeError', () => {
  const rng = new Rng(5)
  for (let i = 0; i < 3000; i++) {
    const bytes = Uint8Array.from(encodeMessage(randomMessage(rng)))
    if (bytes.length === 0) continue
    for (let k = rng.int(4) + 1; k > 0; k--) bytes[rng.int(bytes.length)] = rng.u32() & 0xff
    try { decodeMessage(bytes) } catch (err) { assert.ok(err instanceof KadDecodeError, `unexpected ${String(err)}`) }
  }
})

test('truncated input: every strict prefix of a frame waits for more, and truncated bodies fail cleanly', () => {
  const rng = new Rng(3)
  for (let i = 0; i < 200; i++) {
    const m = randomMessage(rng)
    m.key = rng.bytes(10)
    const frame = encodeFrame(m)
    for (let cut = 0; cut < frame.length; cut++) {
      const d = new FrameDecoder()
      d.push(frame.subarray(0, cut))
      assert.equal(d.next(), undefined)
      d.push(frame.subarray(cut))
      assert.deepEqual(decodeMessage(d.next() as Uint8Array), m)
    }
    const body = encodeMessage(m)
    for (let cut = 1; cut < body.length; cut++) {
      try { decodeMessage(body.subarray(0, cut)) } catch (err) { assert.ok(err instanceof KadDecodeError) }
    }
  }
  assert.throws(() => decodeMessage(Uint8Array.from([0x12, 0x05, 1, 2])), (e: unknown) => e instanceof KadDecodeError && e.code === 'ERR_KAD_TRUNCATED')
})

test('frame decoder: many messages across arbitrary chunk boundaries', () => {
  const rng = new Rng(11)
  const messages = Array.from({ length: 50 }, () => randomMessage(rng))
  const stream = Buffer.concat(messages.map(m => encodeFrame(m)))
  const d = new FrameDecoder()
  const out: KadMessage[] = []
  for (let off = 0; off < stream.length;) {
    const n = rng.int(17) + 1
    d.push(stream.subarray(off, off + n))
    off += n
    for (let body = d.next(); body !== undefined; body = d.next()) out.push(decodeMessage(body))
  }
  assert.deepEqual(out, messages)
  assert.equal(d.bufferedBytes, 0)
})

test('frame limits are enforced when the prefix is read', () => {
  const d = new FrameDecoder(100)
  d.push(Uint8Array.from([101]))
  assert.throws(() => d.next(), (e: unknown) => e instanceof KadFrameError && e.code === 'ERR_KAD_MESSAGE_TOO_LARGE')
  // 4 MiB + 1 announced: rejected from the prefix alone, no body byte buffered.
  const big = new FrameDecoder(4 * 1024 * 1024)
  big.push(Uint8Array.from([0x81, 0x80]))
  assert.equal(big.next(), undefined)
  big.push(Uint8Array.from([0x80, 0x02]))
  assert.throws(() => big.next(), (e: unknown) => e instanceof KadFrameError && e.code === 'ERR_KAD_MESSAGE_TOO_LARGE')
  // A partial prefix already above the maximum is rejected before its last byte arrives.
  const early = new FrameDecoder(100)
  early.push(Uint8Array.from([0xff]))
  assert.throws(() => early.next(), (e: unknown) => e instanceof KadFrameError && e.code === 'ERR_KAD_MESSAGE_TOO_LARGE')
  const nonMinimal = new FrameDecoder()
  nonMinimal.push(Uint8Array.from([0x81, 0x00]))
  assert.throws(() => nonMinimal.next(), (e: unknown) => e instanceof KadFrameError && e.code === 'ERR_KAD_BAD_VARINT')
  const tooLong = new FrameDecoder(Number.MAX_SAFE_INTEGER)
  tooLong.push(new Uint8Array(9).fill(0x80))
  assert.throws(() => tooLong.next(), (e: unknown) => e instanceof KadFrameError && e.code === 'ERR_KAD_BAD_VARINT')
  assert.throws(() => encodeFrame(kadMessage(MessageType.PUT_VALUE, { key: new Uint8Array(200) }), 100), (e: unknown) => e instanceof ProtocolViolationError && e.code === 'ERR_KAD_MESSAGE_TOO_LARGE')
  assert.throws(() => decodeFrame(Uint8Array.from([1, 8, 5])), (e: unknown) => e instanceof KadFrameError && e.code === 'ERR_KAD_TRAILING_BYTES')
})
