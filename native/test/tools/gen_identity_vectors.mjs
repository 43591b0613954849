// Authoring-time generator of the byte vectors embedded in native/test/identity_test.cpp.
// secp256k1 and RSA keys, signatures and PeerIds come from js-libp2p (@libp2p/crypto,
// @libp2p/peer-id), the peers we must interoperate with. ECDSA comes from node:crypto in the
// spec's encoding (Data = DER SubjectPublicKeyInfo, DER signature over SHA-256), the one go-libp2p
// and rust-libp2p use: @libp2p/crypto 5 writes a different structure and raw r||s signatures.
// Run: node native/test/tools/gen_identity_vectors.mjs (fresh keys on every run; the tests embed one run).
import crypto from 'node:crypto'
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'

const hex = (u8) => Buffer.from(u8).toString('hex')
const msg = new TextEncoder().encode('libp2p-native identity test vector')
console.log(`msg  ${hex(msg)}`)

for (const [type, bits] of [['secp256k1'], ['RSA', 2048]]) {
  const key = await generateKeyPair(type, bits)
  const sig = await key.sign(msg)
  const id = peerIdFromPublicKey(key.publicKey)
  console.log(`// ${type}${bits ? ' ' + bits : ''} (js-libp2p verifies: ${await key.publicKey.verify(msg, sig)})`)
  console.log(`key  ${hex(publicKeyToProtobuf(key.publicKey))}`)
  console.log(`sig  ${hex(sig)}`)
  console.log(`peer ${hex(id.toMultihash().bytes)} ${id.toString()}`)
}

// Keys protobuf by hand: field 1 varint Type, field 2 bytes Data (lengths < 16384 here).
const varint = (n) => { const o = []; while (n >= 0x80) { o.push((n & 0x7f) | 0x80); n >>>= 7 } o.push(n); return o }
const keyPb = (type, data) => Buffer.concat([Buffer.from([0x08, type, 0x12, ...varint(data.length)]), data])
const peerOf = (pb) => pb.length <= 42
  ? Buffer.concat([Buffer.from([0x00, ...varint(pb.length)]), pb])
  : Buffer.concat([Buffer.from([0x12, 0x20]), crypto.createHash('sha256').update(pb).digest()])
for (const [curve, type, bits] of [['prime256v1', 'ec'], ['secp384r1', 'ec'], [null, 'rsa', 1024], [null, 'rsa', 2048]]) {
  const { publicKey, privateKey } = type === 'ec'
    ? crypto.generateKeyPairSync('ec', { namedCurve: curve })
    : crypto.generateKeyPairSync('rsa', { modulusLength: bits })
  const spki = publicKey.export({ format: 'der', type: 'spki' })
  const sig = crypto.sign('sha256', msg, privateKey)  // ECDSA: DER; RSA: PKCS#1 v1.5
  const pb = keyPb(type === 'ec' ? 3 : 0, spki)
  console.log(`// node:crypto ${curve ?? 'RSA ' + bits} (verifies: ${crypto.verify('sha256', msg, publicKey, sig)})`)
  console.log(`key  ${hex(pb)}`)
  console.log(`sig  ${hex(sig)}`)
  console.log(`peer ${hex(peerOf(pb))}`)
}
