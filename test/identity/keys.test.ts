import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync, sign as nodeSign, randomBytes } from 'node:crypto'
import * as theirKeys from '@libp2p/crypto/keys'
import { peerIdFromPublicKey as theirPeerIdFromPublicKey, peerIdFromString as theirPeerIdFromString } from '@libp2p/peer-id'
import {
  generateKeyPair, publicKeyFromProtobuf, privateKeyFromProtobuf, peerIdFromPublicKey, peerIdFromPrivateKey,
  publicKeyFromPeerId, decodeKeyProtobuf, encodeKeyProtobuf, ECDSAPrivateKey, ECDSAPublicKey, PeerId, RSAPublicKey
} from '../../src/identity/index.ts'
import { InvalidArgumentError } from '../../src/core/errors.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const fromHex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'))
const msg = new TextEncoder().encode('libp2p-native identity test message')

// The Ed25519 test vector of libp2p/specs peer-ids/peer-ids.md ("Test vectors").
const SPEC_ED25519_PRIVATE = '080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e'
const SPEC_ED25519_PUBLIC = '080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e'

test('Ed25519 spec vector: private protobuf yields the spec public protobuf, re-encoded identically', () => {
  const key = privateKeyFromProtobuf(fromHex(SPEC_ED25519_PRIVATE))
  assert.equal(key.type, 'Ed25519')
  assert.equal(hex(key.publicKey.toProtobuf()), SPEC_ED25519_PUBLIC)
  assert.equal(hex(key.toProtobuf()), SPEC_ED25519_PRIVATE)
  assert.equal(hex(publicKeyFromProtobuf(fromHex(SPEC_ED25519_PUBLIC)).toProtobuf()), SPEC_ED25519_PUBLIC)
})

test('Ed25519: our keys, protobufs, PeerIds and signatures match @libp2p/crypto and @libp2p/peer-id', async () => {
  for (let i = 0; i < 5; i++) {
    const ours = generateKeyPair('Ed25519')
    const theirs = theirKeys.privateKeyFromProtobuf(ours.toProtobuf())
    assert.equal(hex(theirKeys.privateKeyToProtobuf(theirs)), hex(ours.toProtobuf()))
    assert.equal(hex(theirKeys.publicKeyToProtobuf(theirs.publicKey)), hex(ours.publicKey.toProtobuf()))
    const ourId = peerIdFromPrivateKey(ours)
    const theirId = theirPeerIdFromPublicKey(theirs.publicKey)
    assert.equal(ourId.toString(), theirId.toString())
    assert.equal(ourId.toCID(), theirId.toCID().toString())
    assert.ok(ourId.toString().startsWith('12D3KooW'))
    // Ed25519 is deterministic: both sides produce the same signature.
    const ourSig = ours.sign(msg)
    assert.equal(hex(ourSig), hex(await theirs.sign(msg)))
    assert.equal(await theirs.publicKey.verify(msg, ourSig), true)
    assert.equal(ours.publicKey.verify(msg, ourSig), true)
    const bad = Uint8Array.from(ourSig); bad[5] = (bad[5] as number) ^ 1
    assert.equal(ours.publicKey.verify(msg, bad), false)
    assert.equal(ours.publicKey.verify(Uint8Array.from([1, 2, 3]), ourSig), false)
    // The key inlined in the PeerId reads back.
    assert.ok(publicKeyFromPeerId(ourId)?.equals(ours.publicKey))
  }
  const theirs = await theirKeys.generateKeyPair('Ed25519')
  const ours = privateKeyFromProtobuf(theirKeys.privateKeyToProtobuf(theirs))
  assert.ok(ours.publicKey.verify(msg, await theirs.sign(msg)))
  assert.equal(peerIdFromPublicKey(ours.publicKey).toString(), theirPeerIdFromPublicKey(theirs.publicKey).toString())
})

test('Ed25519: the legacy 96-byte private key is read when both public copies match, refused otherwise', () => {
  const key = generateKeyPair('Ed25519')
  const legacy = new Uint8Array(96)
  legacy.set(key.raw, 0); legacy.set(key.publicKey.raw, 64)
  const read = privateKeyFromProtobuf(encodeKeyProtobuf('Ed25519', legacy))
  assert.ok(read.publicKey.equals(key.publicKey))
  assert.equal(read.raw.byteLength, 64)
  legacy[95] = (legacy[95] as number) ^ 1
  assert.throws(() => privateKeyFromProtobuf(encodeKeyProtobuf('Ed25519', legacy)), InvalidArgumentError)
  // A 64-byte key whose public half is not the seed's is refused too.
  const wrong = Uint8Array.from(key.raw); wrong[63] = (wrong[63] as number) ^ 1
  assert.throws(() => privateKeyFromProtobuf(encodeKeyProtobuf('Ed25519', wrong)), InvalidArgumentError)
})

test('secp256k1: interop with @libp2p/crypto in both directions', async () => {
  const theirs = await theirKeys.generateKeyPair('secp256k1')
  const theirPub = publicKeyFromProtobuf(theirKeys.publicKeyToProtobuf(theirs.publicKey))
  assert.equal(theirPub.type, 'secp256k1')
  assert.equal(theirPub.raw.byteLength, 33)
  assert.ok(theirPub.verify(msg, await theirs.sign(msg)))
  assert.equal(theirPub.verify(new Uint8Array(4), await theirs.sign(msg)), false)
  assert.equal(peerIdFromPublicKey(theirPub).toString(), theirPeerIdFromPublicKey(theirs.publicKey).toString())

  const ours = generateKeyPair('secp256k1')
  const ourSig = ours.sign(msg)
  assert.ok(ourSig[0] === 0x30, 'DER signature')
  const theirView = theirKeys.privateKeyFromProtobuf(ours.toProtobuf())
  assert.equal(await theirView.publicKey.verify(msg, ourSig), true)
  assert.equal(hex(theirKeys.publicKeyToProtobuf(theirView.publicKey)), hex(ours.publicKey.toProtobuf()))
  assert.equal(peerIdFromPrivateKey(ours).toString(), theirPeerIdFromPublicKey(theirView.publicKey).toString())
})

test('RSA: verification of remote keys and PeerIds (SHA-256 multihash) match @libp2p/crypto', async () => {
  const theirs = await theirKeys.generateKeyPair('RSA', 2048)
  const pb = theirKeys.publicKeyToProtobuf(theirs.publicKey)
  const ours = publicKeyFromProtobuf(pb)
  assert.ok(ours instanceof RSAPublicKey)
  const sig = await theirs.sign(msg)
  assert.equal(ours.verify(msg, sig), true)
  const bad = Uint8Array.from(sig); bad[10] = (bad[10] as number) ^ 0x80
  assert.equal(ours.verify(msg, bad), false)
  assert.equal(hex(ours.toProtobuf()), hex(pb))
  const ourId = peerIdFromPublicKey(ours)
  assert.equal(ourId.bytes[0], 0x12)
  assert.equal(ourId.toString(), theirPeerIdFromPublicKey(theirs.publicKey).toString())
  assert.equal(publicKeyFromPeerId(ourId), undefined)
  // And their private key file reads and signs for their verifier.
  const ourPriv = privateKeyFromProtobuf(theirKeys.privateKeyToProtobuf(theirs))
  assert.equal(await theirs.publicKey.verify(msg, ourPriv.sign(msg)), true)
  assert.ok(ourPriv.publicKey.equals(ours))
})

test('RSA: keys below 2048 bits are refused', () => {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 })
  const der = publicKey.export({ format: 'der', type: 'spki' })
  assert.throws(() => publicKeyFromProtobuf(encodeKeyProtobuf('RSA', der)), /outside 2048/)
})

test('ECDSA (spec encoding: PKIX public key, DER signature over SHA-256) on P-256, P-384 and P-521', () => {
  for (const curve of ['prime256v1', 'secp384r1', 'secp521r1']) {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: curve })
    const pkix = publicKey.export({ format: 'der', type: 'spki' })
    const ours = publicKeyFromProtobuf(encodeKeyProtobuf('ECDSA', pkix))
    assert.ok(ours instanceof ECDSAPublicKey)
    assert.equal(ours.curve, curve)
    const sig = nodeSign('sha256', msg, { key: privateKey, dsaEncoding: 'der' })
    assert.equal(ours.verify(msg, sig), true)
    assert.equal(ours.verify(randomBytes(10), sig), false)
    // Raw r||s (IEEE P1363) is not the spec's encoding and is refused.
    assert.equal(ours.verify(msg, nodeSign('sha256', msg, { key: privateKey, dsaEncoding: 'ieee-p1363' })), false)
    const priv = new ECDSAPrivateKey(privateKey.export({ format: 'der', type: 'sec1' }))
    assert.ok(priv.publicKey.equals(ours))
    assert.ok(ours.verify(msg, priv.sign(msg)))
    // A PKIX ECDSA protobuf is longer than 42 bytes: SHA-256 PeerId.
    assert.equal(peerIdFromPublicKey(ours).bytes[0], 0x12)
    const roundTrip = privateKeyFromProtobuf(priv.toProtobuf())
    assert.ok(roundTrip.publicKey.equals(ours))
  }
  // secp256k1 in PKIX form is not an ECDSA key the spec's implementations accept.
  const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey.export({ format: 'der', type: 'spki' })
  assert.throws(() => publicKeyFromProtobuf(encodeKeyProtobuf('ECDSA', k1)), InvalidArgumentError)
})

test('keys protobuf: deterministic layout, strict required fields, unknown fields skipped', () => {
  const data = new Uint8Array(32).fill(7)
  const pb = encodeKeyProtobuf('Ed25519', data)
  assert.equal(hex(pb.subarray(0, 4)), '08011220')
  // Data before Type decodes the same (protobuf allows any order); re-encoding is canonical.
  const swapped = Uint8Array.from([0x12, 0x20, ...data, 0x08, 0x01])
  assert.equal(hex(publicKeyFromProtobuf(swapped).toProtobuf()), hex(pb))
  // An unknown varint field 3 is skipped.
  assert.equal(decodeKeyProtobuf(Uint8Array.from([...pb, 0x18, 0x05])).type, 'Ed25519')
  assert.throws(() => decodeKeyProtobuf(Uint8Array.from([0x08, 0x01])), /missing Data/)
  assert.throws(() => decodeKeyProtobuf(Uint8Array.from([0x12, 0x00])), /missing Type/)
  assert.throws(() => decodeKeyProtobuf(Uint8Array.from([0x08, 0x09, 0x12, 0x00])), /unknown key type/)
  assert.throws(() => decodeKeyProtobuf(pb.subarray(0, pb.length - 1)), /length exceeds/)
  assert.throws(() => decodeKeyProtobuf(Uint8Array.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])), InvalidArgumentError)
  assert.throws(() => decodeKeyProtobuf(new Uint8Array(20000)), /longer than/)
})

test('keys protobuf decoder: garbage and truncated input only ever throws InvalidArgumentError', () => {
  const valid = [
    generateKeyPair('Ed25519').toProtobuf(), generateKeyPair('Ed25519').publicKey.toProtobuf(),
    generateKeyPair('secp256k1').publicKey.toProtobuf(), fromHex(SPEC_ED25519_PRIVATE)
  ]
  let accepted = 0
  const tryDecode = (buf: Uint8Array): void => {
    for (const fn of [publicKeyFromProtobuf, privateKeyFromProtobuf]) {
      try { fn(buf); accepted++ } catch (err) { assert.ok(err instanceof InvalidArgumentError, `unexpected ${String(err)}`) }
    }
  }
  for (let i = 0; i < 3000; i++) tryDecode(randomBytes(i % 80))
  for (const v of valid) {
    for (let cut = 0; cut < v.length; cut++) tryDecode(v.subarray(0, cut))
    for (let i = 0; i < 300; i++) {
      const m = Uint8Array.from(v)
      m[i % m.length] = randomBytes(1)[0] as number
      tryDecode(m)
    }
  }
  assert.ok(accepted > 0, 'some mutations keep a valid key')
})

test('PeerId text forms parse back and agree with @libp2p/peer-id', () => {
  const key = generateKeyPair()
  const id = peerIdFromPrivateKey(key)
  assert.ok(PeerId.parse(id.toString()).equals(id))
  assert.ok(PeerId.parse(id.toCID()).equals(id))
  assert.equal(theirPeerIdFromString(id.toCID()).toString(), id.toString())
})
