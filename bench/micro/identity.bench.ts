/**
 * Ed25519 sign and verify: @noble/curves (what src/identity used before) against node:crypto
 * (what it uses now), in one run on the same key and message. Identify verifies a signed peer
 * record on every new connection, so verify is the figure that matters for connection setup.
 *   node --import tsx bench/micro/identity.bench.ts [timeMs]
 * The DER tasks show the other way to hand raw keys to node:crypto (RFC 8410 PKCS#8/SPKI headers),
 * which src/identity/keys/ed25519.ts does not take because OpenSSL's DER decoding is slower.
 * Prints tinybench's table, then one JSON line with the mean of each task in microseconds.
 */
import { Bench } from 'tinybench'
import { createPrivateKey, createPublicKey, randomBytes, verify as cryptoVerify } from 'node:crypto'
import { ed25519 } from '@noble/curves/ed25519.js'
import { Ed25519PrivateKey, Ed25519PublicKey } from '../../src/identity/keys/ed25519.ts'

/** Time budget per task: short by default, because two cores are shared (helper rules). */
const TIME_MS = Number(process.argv[2] ?? 300)
/** A signed peer record envelope is a few hundred bytes. */
const MESSAGE_BYTES = 256

const seed = randomBytes(32)
const msg = randomBytes(MESSAGE_BYTES)
const key = new Ed25519PrivateKey(seed)
const pub = key.publicKey.raw
const sig = key.sign(msg)
if (!ed25519.verify(sig, msg, pub, { zip215: false })) throw new Error('noble does not accept our signature')

/** RFC 8410 DER headers: the 32-byte seed (PKCS#8) or public key (SPKI) follows each. */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
const pkcs8 = Buffer.concat([PKCS8_PREFIX, seed])
const spki = Buffer.concat([SPKI_PREFIX, pub])

let sink = 0
const bench = new Bench({ time: TIME_MS, warmupTime: 50 })
bench
  .add('noble sign', () => { sink ^= ed25519.sign(msg, seed)[0] as number })
  .add('node:crypto sign', () => { sink ^= key.sign(msg)[0] as number })
  .add('noble verify', () => { if (!ed25519.verify(sig, msg, pub, { zip215: false })) throw new Error('verify failed') })
  // A fresh Ed25519PublicKey per verify, as for a remote peer's key: includes building the KeyObject.
  .add('node:crypto verify (new key)', () => { if (!new Ed25519PublicKey(pub).verify(msg, sig)) throw new Error('verify failed') })
  .add('node:crypto verify (new key, DER import)', () => {
    const k = createPublicKey({ key: spki, format: 'der', type: 'spki' })
    if (!cryptoVerify(null, msg, k, sig)) throw new Error('verify failed')
  })
  .add('node:crypto verify (cached key)', () => { if (!key.publicKey.verify(msg, sig)) throw new Error('verify failed') })
  .add('noble getPublicKey', () => { sink ^= ed25519.getPublicKey(seed)[0] as number })
  .add('node:crypto key from seed', () => { sink ^= new Ed25519PrivateKey(seed).publicKey.raw[0] as number })
  .add('node:crypto key from seed (DER import)', () => {
    const k = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })
    sink ^= createPublicKey(k).export({ format: 'der', type: 'spki' })[SPKI_PREFIX.byteLength] as number
  })

await bench.run()
console.table(bench.table())
const means: Record<string, number> = {}
for (const task of bench.tasks) {
  const r = task.result as { latency?: { mean?: number } } | undefined
  if (r?.latency?.mean !== undefined) means[task.name] = +(r.latency.mean * 1000).toFixed(2)
}
console.log(JSON.stringify({ bench: 'ed25519', messageBytes: MESSAGE_BYTES, meanUs: means, sink }))
