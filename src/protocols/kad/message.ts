/**
 * The Kademlia wire message (libp2p kad-dht spec, `/ipfs/kad/1.0.0`), encoded and decoded by hand
 * as proto3 (the schema is small and fixed; a hand codec avoids a generated module and lets the
 * decoder reject malformed input with one closed error set):
 *
 *   message Record  { bytes key = 1; bytes value = 2; string timeReceived = 5; }
 *   message Peer    { bytes id = 1; repeated bytes addrs = 2; ConnectionType connection = 3; }
 *   message Message { MessageType type = 1; int32 clusterLevelRaw = 10; bytes key = 2;
 *                     Record record = 3; repeated Peer closerPeers = 8; repeated Peer providerPeers = 9; }
 *
 * Fields 3 and 4 of Record (author, signature) were removed from the spec; like every unknown field
 * they are skipped. Encoding writes fields in field-number order and omits proto3 defaults (type 0,
 * connection 0, empty repeated), as go-libp2p-kad-dht does. Addresses stay raw bytes here; the
 * handler parses them into multiaddrs and drops unparsable ones.
 */
import { ProtocolViolationError } from '../../core/errors.ts'

export const MessageType = {
  PUT_VALUE: 0,
  GET_VALUE: 1,
  ADD_PROVIDER: 2,
  GET_PROVIDERS: 3,
  FIND_NODE: 4,
  PING: 5
} as const
export type MessageType = typeof MessageType[keyof typeof MessageType]
export const MESSAGE_TYPE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(MessageType).map(([k, v]) => [v, k]))

export const ConnectionType = {
  NOT_CONNECTED: 0,
  CONNECTED: 1,
  CAN_CONNECT: 2,
  CANNOT_CONNECT: 3
} as const
export type ConnectionType = typeof ConnectionType[keyof typeof ConnectionType]

export interface WireRecord {
  key: Uint8Array
  value: Uint8Array
  /** RFC 3339 time the record was received (set by the storing node); '' when absent. */
  timeReceived: string
}

export interface WirePeer {
  /** PeerId multihash bytes. */
  id: Uint8Array
  /** Multiaddr bytes. */
  addrs: Uint8Array[]
  connection: number
}

export interface KadMessage {
  /** A `MessageType`; a number outside it is kept so the handler can answer it as unsupported. */
  type: number
  clusterLevelRaw: number
  key?: Uint8Array
  record?: WireRecord
  closerPeers: WirePeer[]
  providerPeers: WirePeer[]
}

const PROTOCOL = 'kad'

/** Decoding errors: one code each, so a caller (and a metric) can tell them apart. */
export class KadDecodeError extends ProtocolViolationError {
  constructor (message: string, code = 'ERR_KAD_BAD_MESSAGE') {
    super(PROTOCOL, message, code)
  }
}

// ---- writer ---------------------------------------------------------------------------------

const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder('utf-8', { fatal: true })

function varintSize (v: number): number {
  let n = 1
  while (v >= 0x80) { v = Math.floor(v / 128); n++ }
  return n
}

/** Size of an int32 as proto3 writes it: negative values are 10-byte sign-extended varints. */
function int32Size (v: number): number {
  return v < 0 ? 10 : varintSize(v)
}

class Writer {
  readonly buf: Uint8Array
  pos = 0
  constructor (size: number) { this.buf = new Uint8Array(size) }

  varint (v: number): void {
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 128) | 0x80
      v = Math.floor(v / 128)
    }
    this.buf[this.pos++] = v
  }

  int32 (v: number): void {
    if (v >= 0) { this.varint(v); return }
    // Two's complement over 64 bits: low 32 bits of v, then all-ones high bits.
    let lo = v >>> 0
    for (let i = 0; i < 4; i++) { this.buf[this.pos++] = (lo & 0x7f) | 0x80; lo >>>= 7 }
    // 5th byte: 4 low bits from lo, 3 bits of the (all-ones) high word.
    this.buf[this.pos++] = (lo & 0x0f) | 0x70 | 0x80
    for (let i = 0; i < 4; i++) this.buf[this.pos++] = 0xff
    this.buf[this.pos++] = 0x01
  }

  bytes (b: Uint8Array): void {
    this.varint(b.byteLength)
    this.buf.set(b, this.pos)
    this.pos += b.byteLength
  }
}

function bytesFieldSize (len: number): number { return 1 + varintSize(len) + len }

function recordSize (r: WireRecord, time: Uint8Array): number {
  return (r.key.byteLength > 0 ? bytesFieldSize(r.key.byteLength) : 0) +
    (r.value.byteLength > 0 ? bytesFieldSize(r.value.byteLength) : 0) +
    (time.byteLength > 0 ? bytesFieldSize(time.byteLength) : 0)
}

function peerSize (p: WirePeer): number {
  let n = p.id.byteLength > 0 ? bytesFieldSize(p.id.byteLength) : 0
  for (const a of p.addrs) n += bytesFieldSize(a.byteLength)
  if (p.connection !== 0) n += 1 + varintSize(p.connection)
  return n
}

function writePeer (w: Writer, field: number, p: WirePeer): void {
  w.varint((field << 3) | 2)
  w.varint(peerSize(p))
  if (p.id.byteLength > 0) { w.varint((1 << 3) | 2); w.bytes(p.id) }
  for (const a of p.addrs) { w.varint((2 << 3) | 2); w.bytes(a) }
  if (p.connection !== 0) { w.varint(3 << 3); w.varint(p.connection) }
}

/** Encodes a message (without the length prefix). */
export function encodeMessage (m: KadMessage): Uint8Array {
  const time = m.record === undefined ? undefined : textEncoder.encode(m.record.timeReceived)
  let size = 0
  if (m.type !== 0) size += 1 + varintSize(m.type)
  if (m.key !== undefined && m.key.byteLength > 0) size += bytesFieldSize(m.key.byteLength)
  if (m.record !== undefined) size += bytesFieldSize(recordSize(m.record, time as Uint8Array))
  for (const p of m.closerPeers) size += bytesFieldSize(peerSize(p))
  for (const p of m.providerPeers) size += bytesFieldSize(peerSize(p))
  if (m.clusterLevelRaw !== 0) size += 1 + int32Size(m.clusterLevelRaw)

  const w = new Writer(size)
  if (m.type !== 0) { w.varint(1 << 3); w.varint(m.type) }
  if (m.key !== undefined && m.key.byteLength > 0) { w.varint((2 << 3) | 2); w.bytes(m.key) }
  if (m.record !== undefined) {
    const r = m.record
    const t = time as Uint8Array
    w.varint((3 << 3) | 2)
    w.varint(recordSize(r, t))
    if (r.key.byteLength > 0) { w.varint((1 << 3) | 2); w.bytes(r.key) }
    if (r.value.byteLength > 0) { w.varint((2 << 3) | 2); w.bytes(r.value) }
    if (t.byteLength > 0) { w.varint((5 << 3) | 2); w.bytes(t) }
  }
  for (const p of m.closerPeers) writePeer(w, 8, p)
  for (const p of m.providerPeers) writePeer(w, 9, p)
  if (m.clusterLevelRaw !== 0) { w.varint(10 << 3); w.int32(m.clusterLevelRaw) }
  if (w.pos !== size) throw new Error(`kad encoder size mismatch: ${w.pos} != ${size}`)
  return w.buf
}

// ---- reader ---------------------------------------------------------------------------------

const WIRE_VARINT = 0
const WIRE_I64 = 1
const WIRE_LEN = 2
const WIRE_I32 = 5

class Reader {
  pos: number
  constructor (readonly buf: Uint8Array, start: number, readonly end: number) { this.pos = start }

  /** Reads a varint of up to 10 bytes; returns the low 32 bits and the value if it is below 2^53. */
  private raw (): { lo: number, value: number } {
    let lo = 0
    let value = 0
    let mul = 1
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new KadDecodeError('truncated varint', 'ERR_KAD_TRUNCATED')
      const b = this.buf[this.pos++] as number
      if (i < 5) lo = (lo | ((b & 0x7f) << (7 * i))) >>> 0
      value += (b & 0x7f) * mul
      mul *= 128
      if ((b & 0x80) === 0) return { lo, value }
    }
    throw new KadDecodeError('varint longer than 10 bytes')
  }

  /** An unsigned varint that must fit a JS safe integer (lengths, tags, enums). */
  uint (): number {
    const { value } = this.raw()
    if (value > Number.MAX_SAFE_INTEGER) throw new KadDecodeError('varint too large')
    return value
  }

  int32 (): number {
    return this.raw().lo | 0
  }

  bytes (): Uint8Array {
    const len = this.uint()
    if (len > this.end - this.pos) throw new KadDecodeError(`length ${len} runs past the end of the message`, 'ERR_KAD_TRUNCATED')
    const out = this.buf.subarray(this.pos, this.pos + len)
    this.pos += len
    return out
  }

  skip (wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT: this.raw(); return
      case WIRE_I64: this.advance(8); return
      case WIRE_LEN: this.bytes(); return
      case WIRE_I32: this.advance(4); return
      default: throw new KadDecodeError(`unsupported wire type ${wireType}`)
    }
  }

  private advance (n: number): void {
    if (n > this.end - this.pos) throw new KadDecodeError('truncated fixed-width field', 'ERR_KAD_TRUNCATED')
    this.pos += n
  }
}

function expectWire (field: string, got: number, want: number): void {
  if (got !== want) throw new KadDecodeError(`field ${field} has wire type ${got}, expected ${want}`)
}

/** Copies a view so a decoded message never pins the (possibly large, possibly native) input. */
function copy (b: Uint8Array): Uint8Array { return new Uint8Array(b) }

function readRecord (r: Reader): WireRecord {
  const body = r.bytes()
  const sub = new Reader(body, 0, body.byteLength)
  const rec: WireRecord = { key: new Uint8Array(0), value: new Uint8Array(0), timeReceived: '' }
  while (sub.pos < sub.end) {
    const tag = sub.uint()
    const field = Math.floor(tag / 8)
    const wt = tag & 7
    switch (field) {
      case 1: expectWire('Record.key', wt, WIRE_LEN); rec.key = copy(sub.bytes()); break
      case 2: expectWire('Record.value', wt, WIRE_LEN); rec.value = copy(sub.bytes()); break
      case 5: {
        expectWire('Record.timeReceived', wt, WIRE_LEN)
        try {
          rec.timeReceived = textDecoder.decode(sub.bytes())
        } catch {
          throw new KadDecodeError('Record.timeReceived is not valid UTF-8')
        }
        break
      }
      default:
        if (field === 0) throw new KadDecodeError('field number 0')
        sub.skip(wt)
    }
  }
  return rec
}

function readPeer (r: Reader, name: string): WirePeer {
  const body = r.bytes()
  const sub = new Reader(body, 0, body.byteLength)
  const peer: WirePeer = { id: new Uint8Array(0), addrs: [], connection: 0 }
  while (sub.pos < sub.end) {
    const tag = sub.uint()
    const field = Math.floor(tag / 8)
    const wt = tag & 7
    switch (field) {
      case 1: expectWire(`${name}.id`, wt, WIRE_LEN); peer.id = copy(sub.bytes()); break
      case 2: expectWire(`${name}.addrs`, wt, WIRE_LEN); peer.addrs.push(copy(sub.bytes())); break
      case 3: expectWire(`${name}.connection`, wt, WIRE_VARINT); peer.connection = sub.int32(); break
      default:
        if (field === 0) throw new KadDecodeError('field number 0')
        sub.skip(wt)
    }
  }
  return peer
}

/** Decodes one message (the bytes after the length prefix). Throws `KadDecodeError`. */
export function decodeMessage (buf: Uint8Array): KadMessage {
  const r = new Reader(buf, 0, buf.byteLength)
  const m: KadMessage = { type: 0, clusterLevelRaw: 0, closerPeers: [], providerPeers: [] }
  while (r.pos < r.end) {
    const tag = r.uint()
    const field = Math.floor(tag / 8)
    const wt = tag & 7
    switch (field) {
      case 1: expectWire('type', wt, WIRE_VARINT); m.type = r.int32(); break
      case 2: expectWire('key', wt, WIRE_LEN); m.key = copy(r.bytes()); break
      case 3: expectWire('record', wt, WIRE_LEN); m.record = readRecord(r); break
      case 8: expectWire('closerPeers', wt, WIRE_LEN); m.closerPeers.push(readPeer(r, 'closerPeers')); break
      case 9: expectWire('providerPeers', wt, WIRE_LEN); m.providerPeers.push(readPeer(r, 'providerPeers')); break
      case 10: expectWire('clusterLevelRaw', wt, WIRE_VARINT); m.clusterLevelRaw = r.int32(); break
      default:
        if (field === 0) throw new KadDecodeError('field number 0')
        r.skip(wt)
    }
  }
  return m
}

/** Builds a message with empty defaults. */
export function kadMessage (type: MessageType, fields: Partial<KadMessage> = {}): KadMessage {
  return { type, clusterLevelRaw: 0, closerPeers: [], providerPeers: [], ...fields }
}
