// Writes the seed corpora of noise_fuzz and noise_payload_fuzz (native/test/corpus/noise*/):
// valid NoiseHandshakePayloads signed with a fixed Ed25519 identity over the fuzz target's fixed
// responder static key (X25519 secret 32 x 0x42). Run: node native/test/tools/gen_noise_seeds.mjs
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

const dir = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'corpus')
const varint = (n) => { const o = []; while (n >= 0x80) { o.push((n & 0x7f) | 0x80); n >>>= 7 } o.push(n); return Buffer.from(o) }
const field = (num, bytes) => Buffer.concat([varint(num << 3 | 2), varint(bytes.length), bytes])
const x25519Pub = (fill) => {
  const priv = crypto.createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), Buffer.alloc(32, fill)]), format: 'der', type: 'pkcs8' })
  return crypto.createPublicKey(priv).export({ format: 'der', type: 'spki' }).subarray(12)
}
const edKey = crypto.createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.alloc(32, 7)]), format: 'der', type: 'pkcs8' })
const edPub = crypto.createPublicKey(edKey).export({ format: 'der', type: 'spki' }).subarray(12)
const keyPb = Buffer.concat([Buffer.from([0x08, 0x01, 0x12, 0x20]), edPub])
const sig = crypto.sign(null, Buffer.concat([Buffer.from('noise-libp2p-static-key:'), x25519Pub(0x42)]), edKey)
const ext = Buffer.concat([field(1, Buffer.from('1220' + 'ab'.repeat(32), 'hex')), field(2, Buffer.from('/yamux/1.0.0'))])
const payload = Buffer.concat([field(1, keyPb), field(2, sig), field(4, ext)])
const payloadNoExt = Buffer.concat([field(1, keyPb), field(2, sig)])

const write = (sub, name, bytes) => fs.writeFileSync(path.join(dir, sub, name), bytes)
write('noise_payload', 'full', payload)
write('noise_payload', 'no_extensions', payloadNoExt)
write('noise_payload', 'deprecated_data', Buffer.concat([payloadNoExt, field(3, Buffer.from('early'))]))
// noise_fuzz: mode byte, split byte, then bytes.
write('noise', 'payload_valid', Buffer.concat([Buffer.from([1, 0]), payload]))
write('noise', 'payload_bad_sig', Buffer.concat([Buffer.from([1, 0]), field(1, keyPb), field(2, Buffer.alloc(64, 1))]))
const m1 = Buffer.concat([Buffer.from([0x00, 0x20]), x25519Pub(0x11)])
write('noise', 'raw_message1', Buffer.concat([Buffer.from([0, 17]), m1]))
write('noise', 'raw_message1_and_3', Buffer.concat([Buffer.from([0, 40]), m1, Buffer.from([0x00, 0x50]), Buffer.alloc(0x50, 0x5a)]))
