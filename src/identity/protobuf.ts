/**
 * A minimal protobuf reader and writer for the few small messages identity code needs (the keys
 * protobuf of the peer-ids spec and the Noise handshake payload). Hand-written rather than
 * generated: the messages have two to four fields, and the writer must be deterministic (fields
 * in number order, no defaults skipped for `required` fields) because PeerIds hash these bytes.
 *
 * The reader is strict about framing (truncated varints and lengths are errors) and skips
 * unknown fields of known wire types, as protobuf requires for forward compatibility.
 */
import { InvalidArgumentError } from '../core/errors.ts'

/** Protobuf wire types (protobuf encoding spec). */
export const WIRE_VARINT = 0
export const WIRE_I64 = 1
export const WIRE_LEN = 2
export const WIRE_I32 = 5

/** A varint is at most 10 bytes for 64 bits (protobuf encoding spec); we only need 32 bits. */
const MAX_VARINT32_BYTES = 5

export class ProtobufError extends InvalidArgumentError {}

export function varintLength (value: number): number {
  let n = 1
  while (value >= 0x80) { value = Math.floor(value / 128); n++ }
  return n
}

export function writeVarint (out: Uint8Array, offset: number, value: number): number {
  while (value >= 0x80) {
    out[offset++] = (value & 0x7f) | 0x80
    value = Math.floor(value / 128)
  }
  out[offset++] = value
  return offset
}

/** Builds a message from fields written in the order given (callers give them in field order). */
export class ProtobufWriter {
  private readonly parts: Uint8Array[] = []
  private length = 0

  varint (field: number, value: number): this {
    const buf = new Uint8Array(varintLength(field << 3) + varintLength(value))
    writeVarint(buf, writeVarint(buf, 0, (field << 3) | WIRE_VARINT), value)
    return this.push(buf)
  }

  bytes (field: number, value: Uint8Array): this {
    const tag = (field << 3) | WIRE_LEN
    const head = new Uint8Array(varintLength(tag) + varintLength(value.byteLength))
    writeVarint(head, writeVarint(head, 0, tag), value.byteLength)
    this.push(head)
    return this.push(value)
  }

  string (field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value))
  }

  finish (): Uint8Array {
    const out = new Uint8Array(this.length)
    let offset = 0
    for (const part of this.parts) { out.set(part, offset); offset += part.byteLength }
    return out
  }

  private push (buf: Uint8Array): this {
    this.parts.push(buf)
    this.length += buf.byteLength
    return this
  }
}

export interface ProtobufField {
  field: number
  wireType: number
  /** Set for varint fields (values above 2^32 are rejected). */
  varint?: number
  /** Set for length-delimited fields: a view into the input. */
  bytes?: Uint8Array
}

/**
 * End offset of the varint read by the last `readVarint32` call. A module variable rather than a
 * returned pair: readFields runs on every handshake and identify, and an object or closure per
 * varint cost more than the parse itself (511 ns for a 2-field key message, against 160 ns for
 * @libp2p/crypto's generated decoder; bench/micro/codecs.bench.ts).
 */
let varintEnd = 0

/** Reads a varint of at most 32 bits at `offset`; sets `varintEnd`. */
function readVarint32 (buf: Uint8Array, offset: number): number {
  const end = buf.length
  let value = 0
  let scale = 1
  for (let i = 0; i < MAX_VARINT32_BYTES; i++) {
    if (offset >= end) throw new ProtobufError('protobuf: truncated varint')
    const byte = buf[offset++] as number
    value += (byte & 0x7f) * scale
    if (byte < 0x80) {
      if (value > 0xffffffff) throw new ProtobufError('protobuf: varint out of range')
      varintEnd = offset
      return value
    }
    scale *= 128
  }
  throw new ProtobufError('protobuf: varint too long')
}

/** Reads every field of a message; throws ProtobufError on malformed framing. */
export function readFields (buf: Uint8Array): ProtobufField[] {
  const fields: ProtobufField[] = []
  const end = buf.length
  let offset = 0
  while (offset < end) {
    // One-byte tags (fields 1-15) and lengths below 128 are the common case: no call.
    let tag = buf[offset] as number
    if (tag < 0x80) offset++
    else { tag = readVarint32(buf, offset); offset = varintEnd }
    const field = tag >>> 3
    const wireType = tag & 7
    if (field === 0) throw new ProtobufError('protobuf: field number 0')
    switch (wireType) {
      case WIRE_VARINT: {
        const value = readVarint32(buf, offset)
        offset = varintEnd
        // Every field object has all four properties, in one order: one hidden class.
        fields.push({ field, wireType, varint: value, bytes: undefined })
        break
      }
      case WIRE_LEN: {
        let length = offset < end ? buf[offset] as number : 0x80
        if (length < 0x80) offset++
        else { length = readVarint32(buf, offset); offset = varintEnd }
        if (length > end - offset) throw new ProtobufError('protobuf: length exceeds message')
        fields.push({ field, wireType, varint: undefined, bytes: buf.subarray(offset, offset + length) })
        offset += length
        break
      }
      case WIRE_I64:
      case WIRE_I32: {
        const size = wireType === WIRE_I64 ? 8 : 4
        if (size > end - offset) throw new ProtobufError('protobuf: truncated fixed field')
        offset += size
        fields.push({ field, wireType, varint: undefined, bytes: undefined })
        break
      }
      default:
        throw new ProtobufError(`protobuf: unsupported wire type ${wireType}`)
    }
  }
  return fields
}
