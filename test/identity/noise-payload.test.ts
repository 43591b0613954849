import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import * as theirKeys from '@libp2p/crypto/keys'
// Not exported by the package: reached by path to cross-check bytes against js-libp2p's Noise.
import { createHandshakePayload, decodeHandshakePayload } from '../../node_modules/@chainsafe/libp2p-noise/dist/src/utils.js'
import { x25519 } from '@noble/curves/ed25519.js'
import {
  buildNoisePayload, decodeNoisePayload, verifyNoisePayload, generateNoiseStaticKeyPair, generateKeyPair, peerIdFromPrivateKey
} from '../../src/identity/index.ts'
import { HandshakeError, InvalidArgumentError } from '../../src/core/errors.ts'

test('Noise static key pair: X25519, public key derived from the secret', () => {
  const a = generateNoiseStaticKeyPair()
  const b = generateNoiseStaticKeyPair()
  assert.equal(a.publicKey.byteLength, 32)
  assert.deepEqual(x25519.getPublicKey(a.secretKey), a.publicKey)
  assert.deepEqual(x25519.getSharedSecret(a.secretKey, b.publicKey), x25519.getSharedSecret(b.secretKey, a.publicKey))
})

test('Noise payload: byte-identical to @chainsafe/libp2p-noise for an Ed25519 identity, and accepted by it', async () => {
  const key = generateKeyPair('Ed25519')
  const stat = generateNoiseStaticKeyPair()
  const ours = buildNoisePayload(key, stat.publicKey, ['/yamux/1.0.0'])
  const theirKey = theirKeys.privateKeyFromProtobuf(key.toProtobuf())
  const theirs = await createHandshakePayload(theirKey, stat.publicKey, { streamMuxers: ['/yamux/1.0.0'], webtransportCerthashes: [] })
  assert.equal(Buffer.from(ours).toString('hex'), Buffer.from(theirs.subarray()).toString('hex'))
  const decoded = await decodeHandshakePayload(ours, stat.publicKey as Uint8Array<ArrayBuffer>)
  assert.deepEqual(decoded.extensions?.streamMuxers, ['/yamux/1.0.0'])
  // The wrong static key makes their verifier refuse it.
  await assert.rejects(decodeHandshakePayload(ours, generateNoiseStaticKeyPair().publicKey as Uint8Array<ArrayBuffer>))
})

test('Noise payload: verify yields the remote PeerId and muxers; a wrong static key or signature is a HandshakeError', () => {
  const key = generateKeyPair('secp256k1')
  const stat = generateNoiseStaticKeyPair()
  const payload = buildNoisePayload(key, stat.publicKey, ['/yamux/1.0.0', '/mplex/6.7.0'])
  const v = verifyNoisePayload(payload, stat.publicKey)
  assert.ok(v.peerId.equals(peerIdFromPrivateKey(key)))
  assert.deepEqual(v.streamMuxers, ['/yamux/1.0.0', '/mplex/6.7.0'])
  assert.throws(() => verifyNoisePayload(payload, generateNoiseStaticKeyPair().publicKey), (e: Error) => e instanceof HandshakeError && (e as HandshakeError).code === 'ERR_BAD_SIGNATURE')
  const noMuxers = decodeNoisePayload(buildNoisePayload(key, stat.publicKey, []))
  assert.deepEqual(noMuxers.streamMuxers, [])
  assert.throws(() => buildNoisePayload(key, new Uint8Array(31), []), InvalidArgumentError)
})

test('Noise payload decoder: garbage and mutations only throw typed errors', () => {
  const key = generateKeyPair('Ed25519')
  const stat = generateNoiseStaticKeyPair()
  const payload = buildNoisePayload(key, stat.publicKey, ['/yamux/1.0.0'])
  let ok = 0
  const attempt = (buf: Uint8Array): void => {
    try { decodeNoisePayload(buf); ok++ } catch (err) { assert.ok(err instanceof InvalidArgumentError, String(err)) }
    try { verifyNoisePayload(buf, stat.publicKey) } catch (err) { assert.ok(err instanceof HandshakeError, String(err)) }
  }
  for (let i = 0; i < 2000; i++) attempt(randomBytes(i % 150))
  for (let cut = 0; cut < payload.length; cut++) attempt(payload.subarray(0, cut))
  for (let i = 0; i < 1000; i++) {
    const m = Uint8Array.from(payload)
    m[i % m.length] = (m[i % m.length] as number) ^ (1 + (i % 255))
    attempt(m)
  }
  assert.ok(ok > 0)
})
