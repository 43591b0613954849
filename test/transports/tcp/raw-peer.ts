/**
 * A deliberately minimal libp2p peer over a raw net.Socket, for bad-input tests: it speaks
 * multistream-select and a Noise XX initiator (Noise_XX_25519_ChaChaPoly_SHA256, libp2p noise spec)
 * written from the specs with node:crypto and @noble/curves, so a test can complete a real
 * handshake with the native listener and then send malformed Yamux frames inside Noise.
 */
import { connect, type Socket } from 'node:net'
import { createCipheriv, createDecipheriv, createHash, createHmac } from 'node:crypto'
import { x25519 } from '@noble/curves/ed25519.js'
import { buildNoisePayload, generateKeyPair } from '../../../src/identity/index.ts'

const PROTOCOL_NAME = 'Noise_XX_25519_ChaChaPoly_SHA256'  // exactly 32 bytes: h = name
const enc = new TextEncoder()

function sha256 (...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}
function hmac (key: Uint8Array, ...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const h = createHmac('sha256', key)
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}
function hkdf (ck: Uint8Array, ikm: Uint8Array): [Uint8Array<ArrayBuffer>, Uint8Array<ArrayBuffer>] {
  const temp = hmac(ck, ikm)
  const o1 = hmac(temp, Uint8Array.of(1))
  const o2 = hmac(temp, o1, Uint8Array.of(2))
  return [o1, o2]
}
function nonce (n: number): Uint8Array {
  const b = new Uint8Array(12)
  new DataView(b.buffer).setBigUint64(4, BigInt(n), true)
  return b
}
function seal (key: Uint8Array, n: number, ad: Uint8Array, pt: Uint8Array): Uint8Array {
  const c = createCipheriv('chacha20-poly1305', key, nonce(n), { authTagLength: 16 })
  c.setAAD(ad, { plaintextLength: pt.byteLength })
  const body = Buffer.concat([c.update(pt), c.final(), c.getAuthTag()])
  return new Uint8Array(body)
}
function open (key: Uint8Array, n: number, ad: Uint8Array, ct: Uint8Array): Uint8Array {
  const d = createDecipheriv('chacha20-poly1305', key, nonce(n), { authTagLength: 16 })
  d.setAAD(ad, { plaintextLength: ct.byteLength - 16 })
  d.setAuthTag(ct.subarray(ct.byteLength - 16))
  return new Uint8Array(Buffer.concat([d.update(ct.subarray(0, ct.byteLength - 16)), d.final()]))
}
function concat (...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.byteLength }
  return out
}
export function mssLine (text: string): Uint8Array<ArrayBuffer> {
  const body = enc.encode(`${text}\n`)
  return concat(Uint8Array.of(body.byteLength), body)  // lengths here are < 128: one-byte uvarint
}
function u16 (n: number): Uint8Array {
  return Uint8Array.of(n >> 8, n & 0xff)
}

/** Buffers socket bytes and lets a test await exact amounts. */
export class RawPeer {
  readonly socket: Socket
  private buf: Uint8Array<ArrayBuffer> = new Uint8Array(0)
  private waiter: (() => void) | undefined
  closed = false
  private sendKey: Uint8Array | undefined
  private sendN = 0
  recvKey: Uint8Array | undefined

  private constructor (socket: Socket) {
    this.socket = socket
    socket.on('data', (d: Buffer) => { this.buf = concat(this.buf, d); this.waiter?.() })
    socket.on('close', () => { this.closed = true; this.waiter?.() })
    socket.on('error', () => {})
  }

  static async connect (host: string, port: number): Promise<RawPeer> {
    const socket = connect({ host, port })
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
    socket.setNoDelay(true)
    return new RawPeer(socket)
  }

  write (b: Uint8Array): void { this.socket.write(b) }

  async read (n: number): Promise<Uint8Array> {
    while (this.buf.byteLength < n) {
      if (this.closed) throw new Error('socket closed')
      await new Promise<void>(resolve => { this.waiter = resolve })
      this.waiter = undefined
    }
    const out = this.buf.slice(0, n)
    this.buf = this.buf.slice(n)
    return out
  }

  /** Resolves once the remote has closed the TCP connection. */
  async waitClosed (): Promise<void> {
    while (!this.closed) {
      await new Promise<void>(resolve => { this.waiter = resolve })
      this.waiter = undefined
    }
  }

  async readMssLine (): Promise<string> {
    const len = (await this.read(1))[0] as number
    return new TextDecoder().decode(await this.read(len)).trimEnd()
  }

  /** multistream /noise then a Noise XX handshake as initiator; returns when transport keys are set. */
  async handshake (streamMuxers: string[] = ['/yamux/1.0.0']): Promise<void> {
    this.write(concat(mssLine('/multistream/1.0.0'), mssLine('/noise')))
    if (await this.readMssLine() !== '/multistream/1.0.0') throw new Error('bad mss header')
    if (await this.readMssLine() !== '/noise') throw new Error('noise refused')

    let h: Uint8Array<ArrayBuffer> = new Uint8Array(enc.encode(PROTOCOL_NAME))
    let ck = h
    let k: Uint8Array | undefined
    let n = 0
    const mixHash = (d: Uint8Array): void => { h = sha256(h, d) }
    const mixKey = (ikm: Uint8Array): void => { [ck, k] = hkdf(ck, ikm); n = 0 }
    const encryptAndHash = (pt: Uint8Array): Uint8Array => {
      const ct = k === undefined ? pt : seal(k, n++, h, pt)
      mixHash(ct)
      return ct
    }
    const decryptAndHash = (ct: Uint8Array): Uint8Array => {
      const pt = k === undefined ? ct : open(k, n++, h, ct)
      mixHash(ct)
      return pt
    }
    mixHash(new Uint8Array(0))  // empty prologue
    const eSec = x25519.utils.randomSecretKey()
    const ePub = x25519.getPublicKey(eSec)
    const sSec = x25519.utils.randomSecretKey()
    const sPub = x25519.getPublicKey(sSec)
    // -> e
    mixHash(ePub)
    const m1 = concat(ePub, encryptAndHash(new Uint8Array(0)))
    this.write(concat(u16(m1.byteLength), m1))
    // <- e, ee, s, es
    const len2 = new DataView((await this.read(2)).buffer).getUint16(0)
    const m2 = await this.read(len2)
    const re = m2.subarray(0, 32)
    mixHash(re)
    mixKey(x25519.getSharedSecret(eSec, re))
    const rs = decryptAndHash(m2.subarray(32, 80))
    mixKey(x25519.getSharedSecret(eSec, rs))
    decryptAndHash(m2.subarray(80))  // the listener's payload: not checked here
    // -> s, se
    const payload = buildNoisePayload(generateKeyPair('Ed25519'), sPub, streamMuxers)
    const encS = encryptAndHash(sPub)
    mixKey(x25519.getSharedSecret(sSec, re))
    const m3 = concat(encS, encryptAndHash(payload))
    this.write(concat(u16(m3.byteLength), m3))
    const [k1, k2] = hkdf(ck, new Uint8Array(0))
    this.sendKey = k1
    this.recvKey = k2
  }

  /** One Noise transport message carrying `plaintext`. */
  sendEncrypted (plaintext: Uint8Array): void {
    if (this.sendKey === undefined) throw new Error('no handshake')
    const ct = seal(this.sendKey, this.sendN++, new Uint8Array(0), plaintext)
    this.write(concat(u16(ct.byteLength), ct))
  }

  private recvN = 0

  /** The plaintext of the next Noise transport message from the remote. */
  async readEncrypted (): Promise<Uint8Array> {
    if (this.recvKey === undefined) throw new Error('no handshake')
    const len = new DataView((await this.read(2)).buffer).getUint16(0)
    return open(this.recvKey, this.recvN++, new Uint8Array(0), await this.read(len))
  }

  close (): void { this.socket.destroy() }
}

/** Parses Yamux frames out of a plaintext byte stream (headers, skipping data bodies). */
export class YamuxFrameReader {
  private buf: Uint8Array<ArrayBuffer> = new Uint8Array(0)
  push (b: Uint8Array): Array<{ type: number, flags: number, streamId: number, length: number, body: Uint8Array }> {
    this.buf = concat(this.buf, b)
    const out: Array<{ type: number, flags: number, streamId: number, length: number, body: Uint8Array }> = []
    for (;;) {
      if (this.buf.byteLength < 12) break
      const v = new DataView(this.buf.buffer, this.buf.byteOffset, 12)
      const f = { type: v.getUint8(1), flags: v.getUint16(2), streamId: v.getUint32(4), length: v.getUint32(8) }
      const body = f.type === 0 ? f.length : 0
      if (this.buf.byteLength < 12 + body) break
      out.push({ ...f, body: this.buf.slice(12, 12 + body) })
      this.buf = this.buf.slice(12 + body)
    }
    return out
  }
}

export { concat }

/** A 12-byte Yamux header. */
export function yamuxHeader (version: number, type: number, flags: number, streamId: number, length: number): Uint8Array {
  const b = new Uint8Array(12)
  const v = new DataView(b.buffer)
  v.setUint8(0, version)
  v.setUint8(1, type)
  v.setUint16(2, flags)
  v.setUint32(4, streamId)
  v.setUint32(8, length)
  return b
}
