// An independent, minimal reference of Noise_XX_25519_ChaChaPoly_SHA256, written from the Noise
// spec (revision 34: §5.1 CipherState, §5.2 SymmetricState, §5.3 HandshakeState, §4 crypto
// functions) with node:crypto only and no code shared with native/core/noise. It runs the XX
// handshake on fixed inputs of our own choosing (keys derived from labels, our prologue and
// payloads) and prints the known-answer vector that noise_test.cpp's xx_known_answer_transcript
// checks byte for byte: two implementations of the spec that must agree.
// Run: node native/test/tools/noise_xx_vector.mjs
import crypto from 'node:crypto'

const HASHLEN = 32
const PROTOCOL_NAME = 'Noise_XX_25519_ChaChaPoly_SHA256'
const MAX_NONCE = 2n ** 64n - 1n  // §5.1: nonce 2^64-1 is reserved

const sha256 = (...parts) => crypto.createHash('sha256').update(Buffer.concat(parts)).digest()
const hmac = (key, ...parts) => crypto.createHmac('sha256', key).update(Buffer.concat(parts)).digest()

// §4.3 HKDF with two outputs.
function hkdf2 (chainingKey, ikm) {
  const tempKey = hmac(chainingKey, ikm)
  const out1 = hmac(tempKey, Buffer.from([0x01]))
  const out2 = hmac(tempKey, out1, Buffer.from([0x02]))
  return [out1, out2]
}

// §4.1 25519: raw 32-byte keys wrapped in the fixed PKCS#8 / SPKI DER prefixes of RFC 8410.
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex')
const privKey = (raw) => crypto.createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' })
const pubKey = (raw) => crypto.createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' })
const keyPair = (secret) => ({
  secret,
  public: crypto.createPublicKey(privKey(secret)).export({ format: 'der', type: 'spki' }).subarray(X25519_SPKI_PREFIX.length)
})
const dh = (secret, pub) => crypto.diffieHellman({ privateKey: privKey(secret), publicKey: pubKey(pub) })

// §12.3 ChaChaPoly: 96-bit nonce = 32 zero bits, then the counter as 64-bit little endian.
function nonceBytes (n) {
  const iv = Buffer.alloc(12)
  iv.writeBigUInt64LE(n, 4)
  return iv
}
function aeadEncrypt (k, n, ad, plaintext) {
  const c = crypto.createCipheriv('chacha20-poly1305', k, nonceBytes(n), { authTagLength: 16 })
  c.setAAD(ad, { plaintextLength: plaintext.length })
  return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()])
}
function aeadDecrypt (k, n, ad, ciphertext) {
  const d = crypto.createDecipheriv('chacha20-poly1305', k, nonceBytes(n), { authTagLength: 16 })
  d.setAAD(ad, { plaintextLength: ciphertext.length - 16 })
  d.setAuthTag(ciphertext.subarray(ciphertext.length - 16))
  return Buffer.concat([d.update(ciphertext.subarray(0, ciphertext.length - 16)), d.final()])
}

// §5.1 CipherState.
class CipherState {
  constructor (k = null) { this.k = k; this.n = 0n }
  hasKey () { return this.k !== null }
  encryptWithAd (ad, plaintext) {
    if (!this.hasKey()) return Buffer.from(plaintext)
    if (this.n === MAX_NONCE) throw new Error('nonce exhausted')
    return aeadEncrypt(this.k, this.n++, ad, plaintext)
  }
  decryptWithAd (ad, ciphertext) {
    if (!this.hasKey()) return Buffer.from(ciphertext)
    if (this.n === MAX_NONCE) throw new Error('nonce exhausted')
    const plaintext = aeadDecrypt(this.k, this.n, ad, ciphertext)  // throws on a bad tag
    this.n++
    return plaintext
  }
}

// §5.2 SymmetricState.
class SymmetricState {
  constructor (protocolName) {
    const name = Buffer.from(protocolName)
    this.h = name.length <= HASHLEN ? Buffer.concat([name, Buffer.alloc(HASHLEN - name.length)]) : sha256(name)
    this.ck = Buffer.from(this.h)
    this.cs = new CipherState()
  }
  mixKey (ikm) {
    const [ck, tempK] = hkdf2(this.ck, ikm)
    this.ck = ck
    this.cs = new CipherState(tempK)  // HASHLEN is 32: no truncation
  }
  mixHash (data) { this.h = sha256(this.h, data) }
  encryptAndHash (plaintext) {
    const ciphertext = this.cs.encryptWithAd(this.h, plaintext)
    this.mixHash(ciphertext)
    return ciphertext
  }
  decryptAndHash (ciphertext) {
    const plaintext = this.cs.decryptWithAd(this.h, ciphertext)
    this.mixHash(ciphertext)
    return plaintext
  }
  split () {
    const [k1, k2] = hkdf2(this.ck, Buffer.alloc(0))
    return [new CipherState(k1), new CipherState(k2)]
  }
}

// §5.3 HandshakeState for XX (§7.5): no pre-messages.
const XX = [['e'], ['e', 'ee', 's', 'es'], ['s', 'se']]
const DHLEN = 32

class HandshakeState {
  constructor ({ initiator, prologue, s, e }) {
    this.initiator = initiator
    this.ss = new SymmetricState(PROTOCOL_NAME)
    this.ss.mixHash(prologue)
    this.s = s
    this.e = e  // fixed ephemeral key pair in place of GENERATE_KEYPAIR()
    this.rs = null
    this.re = null
    this.step = 0
  }
  // The DH tokens: ee, es, se with the roles of §5.3.
  dhToken (token) {
    if (token === 'ee') return dh(this.e.secret, this.re)
    if (token === 'es') return this.initiator ? dh(this.e.secret, this.rs) : dh(this.s.secret, this.re)
    if (token === 'se') return this.initiator ? dh(this.s.secret, this.re) : dh(this.e.secret, this.rs)
    throw new Error(`unknown token ${token}`)
  }
  writeMessage (payload) {
    const out = []
    for (const token of XX[this.step++]) {
      if (token === 'e') { out.push(this.e.public); this.ss.mixHash(this.e.public) }
      else if (token === 's') out.push(this.ss.encryptAndHash(this.s.public))
      else this.ss.mixKey(this.dhToken(token))
    }
    out.push(this.ss.encryptAndHash(payload))
    return Buffer.concat(out)
  }
  readMessage (message) {
    let at = 0
    for (const token of XX[this.step++]) {
      if (token === 'e') {
        this.re = message.subarray(at, at + DHLEN); at += DHLEN
        this.ss.mixHash(this.re)
      } else if (token === 's') {
        const len = this.ss.cs.hasKey() ? DHLEN + 16 : DHLEN
        this.rs = this.ss.decryptAndHash(message.subarray(at, at + len)); at += len
      } else this.ss.mixKey(this.dhToken(token))
    }
    return this.ss.decryptAndHash(message.subarray(at))
  }
}

// Runs the whole XX exchange for `inputs` and returns every byte the test checks. Both sides run
// here and read each other's messages, so the vector is at least self-consistent.
export function transcript ({ prologue, initStatic, initEphemeral, respStatic, respEphemeral, payloads }) {
  const init = new HandshakeState({ initiator: true, prologue, s: keyPair(initStatic), e: keyPair(initEphemeral) })
  const resp = new HandshakeState({ initiator: false, prologue, s: keyPair(respStatic), e: keyPair(respEphemeral) })
  const messages = []
  for (let i = 0; i < 3; i++) {
    const [w, r] = i % 2 === 0 ? [init, resp] : [resp, init]
    const wire = w.writeMessage(payloads[i])
    if (!r.readMessage(wire).equals(payloads[i])) throw new Error(`message ${i}: payload mismatch`)
    messages.push(wire)
  }
  if (!init.ss.h.equals(resp.ss.h)) throw new Error('handshake hashes differ')
  if (!init.rs.equals(resp.s.public) || !resp.rs.equals(init.s.public)) throw new Error('remote statics wrong')
  const [i1, i2] = init.ss.split()
  const [r1, r2] = resp.ss.split()
  // Transport messages keep alternating: odd indices from the responder (c2), even from the
  // initiator (c1), as noise_test.cpp sends them.
  for (let i = 3; i < payloads.length; i++) {
    const [send, recv] = i % 2 === 0 ? [i1, r1] : [r2, i2]
    const ct = send.encryptWithAd(Buffer.alloc(0), payloads[i])
    if (!recv.decryptWithAd(Buffer.alloc(0), ct).equals(payloads[i])) throw new Error(`message ${i}: payload mismatch`)
    messages.push(ct)
  }
  return { initStaticPublic: init.s.public, respStaticPublic: resp.s.public, messages, handshakeHash: init.ss.h }
}

// Our fixed inputs: private keys are SHA-256 of labels, the prologue and payloads are our text.
const label = (s) => sha256(Buffer.from(`libp2p-native noise XX vector: ${s}`))
export const INPUTS = {
  prologue: Buffer.from('libp2p-native known-answer prologue'),
  initStatic: label('initiator static'),
  initEphemeral: label('initiator ephemeral'),
  respStatic: label('responder static'),
  respEphemeral: label('responder ephemeral'),
  payloads: [
    Buffer.from('first handshake payload, in the clear'),
    Buffer.from('second: encrypted under ee+es'),
    Buffer.from('third: after se'),
    Buffer.from('transport from the responder'),
    Buffer.from('transport from the initiator'),
    Buffer.alloc(0)  // an empty transport message: the tag alone
  ]
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const hex = (b) => Buffer.from(b).toString('hex')
  const t = transcript(INPUTS)
  console.log(`prologue           ${hex(INPUTS.prologue)}`)
  console.log(`init static        ${hex(INPUTS.initStatic)}`)
  console.log(`init ephemeral     ${hex(INPUTS.initEphemeral)}`)
  console.log(`resp static        ${hex(INPUTS.respStatic)}`)
  console.log(`resp ephemeral     ${hex(INPUTS.respEphemeral)}`)
  console.log(`init static pub    ${hex(t.initStaticPublic)}`)
  console.log(`resp static pub    ${hex(t.respStaticPublic)}`)
  INPUTS.payloads.forEach((p, i) => {
    console.log(`payload ${i}          ${hex(p)}`)
    console.log(`ciphertext ${i}       ${hex(t.messages[i])}`)
  })
  console.log(`handshake hash     ${hex(t.handshakeHash)}`)
}
