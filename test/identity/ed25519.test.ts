import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { ed25519 } from '@noble/curves/ed25519.js'
import { Ed25519PrivateKey, Ed25519PublicKey } from '../../src/identity/keys/ed25519.ts'
import { generateKeyPair } from '../../src/identity/index.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const fromHex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'))

// RFC 8032 section 7.1, TEST 1 (empty message) and TEST 2 (one byte).
const RFC8032 = [
  {
    seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    pub: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    msg: '',
    sig: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'
  },
  {
    seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    pub: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    msg: '72',
    sig: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00'
  }
]

test('Ed25519 (node:crypto): RFC 8032 vectors give the spec public key and signature, and verify', () => {
  for (const v of RFC8032) {
    const key = new Ed25519PrivateKey(fromHex(v.seed))
    assert.equal(hex(key.publicKey.raw), v.pub)
    assert.equal(hex(key.raw), v.seed + v.pub)
    assert.equal(hex(key.sign(fromHex(v.msg))), v.sig)
    assert.equal(new Ed25519PublicKey(fromHex(v.pub)).verify(fromHex(v.msg), fromHex(v.sig)), true)
  }
})

test('Ed25519 (node:crypto): agrees with @noble/curves (strict mode) on keys, signatures and verdicts', () => {
  for (let i = 0; i < 20; i++) {
    const seed = randomBytes(32)
    const msg = randomBytes(i * 17)
    const ours = new Ed25519PrivateKey(seed)
    assert.equal(hex(ours.publicKey.raw), hex(ed25519.getPublicKey(seed)))
    const sig = ours.sign(msg)
    assert.equal(hex(sig), hex(ed25519.sign(msg, seed)))
    // Verify the same signature repeatedly: the cached KeyObject must give the same answer.
    assert.equal(ours.publicKey.verify(msg, sig), true)
    assert.equal(ours.publicKey.verify(msg, sig), true)
    const bad = Uint8Array.from(sig)
    bad[i % 64] = (bad[i % 64] as number) ^ (1 << (i % 8))
    const nobleVerdict = ed25519.verify(bad, msg, ours.publicKey.raw, { zip215: false })
    assert.equal(ours.publicKey.verify(msg, bad), nobleVerdict)
    assert.equal(nobleVerdict, false)
  }
})

test('Ed25519 (node:crypto): generated keys are usable by noble and read back from their raw form', () => {
  const key = generateKeyPair('Ed25519')
  const msg = new TextEncoder().encode('generated')
  assert.equal(ed25519.verify(key.sign(msg), msg, key.publicKey.raw), true)
  assert.equal(hex(Ed25519PrivateKey.fromRaw(key.raw).sign(msg)), hex(key.sign(msg)))
  assert.notEqual(hex(generateKeyPair('Ed25519').raw), hex(key.raw))
})

// L, the group order, little-endian (RFC 8032 section 5.1).
const L = fromHex('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010')

test('Ed25519 (node:crypto): strict verification refuses S + L, wrong lengths and non-points without throwing', () => {
  const v = RFC8032[1]!
  const sig = fromHex(v.sig)
  const malleable = Uint8Array.from(sig)
  let carry = 0
  for (let i = 0; i < 32; i++) {
    const sum = (sig[32 + i] as number) + (L[i] as number) + carry
    malleable[32 + i] = sum & 0xff
    carry = sum >> 8
  }
  assert.equal(carry, 0)
  const pub = new Ed25519PublicKey(fromHex(v.pub))
  assert.equal(pub.verify(fromHex(v.msg), malleable), false)
  assert.equal(ed25519.verify(malleable, fromHex(v.msg), fromHex(v.pub), { zip215: false }), false)
  assert.equal(pub.verify(fromHex(v.msg), sig.subarray(0, 63)), false)
  assert.equal(pub.verify(fromHex(v.msg), new Uint8Array(65)), false)
  // y = 2 is not the y coordinate of any curve point (x^2 would be a non-square).
  const notAPoint = new Uint8Array(32); notAPoint[0] = 2
  let onCurve = true
  try { ed25519.Point.fromHex(hex(notAPoint)) } catch { onCurve = false }
  assert.equal(onCurve, false)
  const bogus = new Ed25519PublicKey(notAPoint)
  assert.equal(bogus.verify(fromHex(v.msg), sig), false)
  assert.equal(bogus.verify(fromHex(v.msg), sig), false)
})
