/**
 * Signed envelopes and peer records: round trip, tampering, wrong domain or signer, garbage input,
 * and both directions against js-libp2p's @libp2p/peer-record.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import { RecordEnvelope, PeerRecord as JsPeerRecord } from '@libp2p/peer-record'
import { privateKeyFromProtobuf as jsPrivateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { generateKeyPair, peerIdFromPrivateKey } from '../../../src/identity/index.ts'
import { decodeEnvelope, encodeEnvelope, EnvelopeError, openEnvelope, sealEnvelope } from '../../../src/core/record/envelope.ts'
import { decodePeerRecord, openPeerRecord, PEER_RECORD_DOMAIN, PEER_RECORD_PAYLOAD_TYPE, signPeerRecord } from '../../../src/core/record/peer-record.ts'

const key = generateKeyPair()
const addrs = [multiaddr('/ip4/1.2.3.4/tcp/4001'), multiaddr('/ip6/::1/udp/4001/quic-v1')]

test('a signed peer record round-trips with a 64-bit sequence number', () => {
  const seq = 1_700_000_000_123n
  const bytes = signPeerRecord(key, seq, addrs)
  const record = openPeerRecord(bytes)
  assert.ok(record.peerId.equals(peerIdFromPrivateKey(key)))
  assert.equal(record.seq, seq)
  assert.deepEqual(record.addresses.map(String), addrs.map(String))
})

test('tampering, another domain, another payload type or another signer is refused', () => {
  const bytes = signPeerRecord(key, 1n, addrs)
  const e = decodeEnvelope(bytes)
  const tampered = encodeEnvelope({ ...e, payload: Uint8Array.from([...e.payload.slice(0, -1), (e.payload.at(-1) as number) ^ 1]) })
  assert.throws(() => openPeerRecord(tampered), EnvelopeError)
  assert.throws(() => openEnvelope(bytes, 'another-domain', PEER_RECORD_PAYLOAD_TYPE), /signature/)
  assert.throws(() => openEnvelope(bytes, PEER_RECORD_DOMAIN, Uint8Array.from([1])), /payload type/)
  // A record naming peer A, validly signed by peer B.
  const other = generateKeyPair()
  const forged = encodeEnvelope(sealEnvelope(other, PEER_RECORD_DOMAIN, PEER_RECORD_PAYLOAD_TYPE, e.payload))
  assert.throws(() => openPeerRecord(forged), /another peer/)
})

test('garbage input throws EnvelopeError, never anything else', () => {
  const valid = signPeerRecord(key, 7n, addrs)
  for (let i = 0; i < 2000; i++) {
    const input = i % 2 === 0
      ? randomBytes(i % 200)
      : (() => { const b = Uint8Array.from(valid); b[i % b.length] = (b[i % b.length] as number) ^ (1 + (i % 255)); return b.subarray(0, b.length - (i % 7)) })()
    try {
      openPeerRecord(input)
    } catch (err) {
      assert.ok(err instanceof EnvelopeError, `unexpected ${String(err)}`)
    }
    try { decodePeerRecord(input) } catch (err) { assert.ok(err instanceof EnvelopeError, `unexpected ${String(err)}`) }
  }
})

test('interop: js-libp2p opens our record, and we open js-libp2p\'s', async () => {
  const ours = signPeerRecord(key, 42n, addrs)
  const env = await RecordEnvelope.openAndCertify(ours, JsPeerRecord.DOMAIN)
  const rec = JsPeerRecord.createFromProtobuf(env.payload)
  assert.equal(rec.peerId.toString(), peerIdFromPrivateKey(key).toString())
  assert.equal(rec.seqNumber, 42n)
  assert.deepEqual(rec.multiaddrs.map(String), addrs.map(String))

  const jsKey = jsPrivateKeyFromProtobuf(key.toProtobuf())
  const theirs = await RecordEnvelope.seal(new JsPeerRecord({ peerId: peerIdFromString(peerIdFromPrivateKey(key).toString()), multiaddrs: addrs, seqNumber: 99n }), jsKey)
  const opened = openPeerRecord(theirs.marshal())
  assert.equal(opened.seq, 99n)
  assert.deepEqual(opened.addresses.map(String), addrs.map(String))
})

test('PeerRecordCache verifies a record once, still refuses bad ones, and stays bounded', async () => {
  const { PeerRecordCache } = await import('../../../src/core/record/peer-record.ts')
  const cache = new PeerRecordCache(2)
  const r1 = signPeerRecord(key, 1n, addrs)
  const first = cache.open(r1)
  assert.equal(cache.open(Uint8Array.from(r1)), first, 'same bytes: the cached record')
  const e = decodeEnvelope(r1)
  const bad = encodeEnvelope({ ...e, signature: Uint8Array.from(e.signature.map((b, i) => i === 0 ? b ^ 1 : b)) })
  assert.throws(() => cache.open(bad), EnvelopeError)
  assert.throws(() => cache.open(bad), EnvelopeError, 'failures are not cached as successes')
  const r2 = signPeerRecord(key, 2n, addrs)
  const r3 = signPeerRecord(key, 3n, addrs)
  cache.open(r2)
  cache.open(r3)
  assert.notEqual(cache.open(r1), first, 'r1 was evicted (size 2) and verified again')
})
