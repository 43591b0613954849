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

/** Reads every field of a message; throws ProtobufError on malformed framing. */
export function readFields (buf: Uint8Array): ProtobufField[] {
  const fields: ProtobufField[] = []
  let offset = 0
  const readVarint = (): number => {
    let value = 0
    for (let i = 0; i < MAX_VARINT32_BYTES; i++) {
      if (offset >= buf.length) throw new ProtobufError('protobuf: truncated varint')
      const byte = buf[offset++] as number
      value += (byte & 0x7f) * 2 ** (7 * i)
      if ((byte & 0x80) === 0) {
        if (value > 0xffffffff) throw new ProtobufError('protobuf: varint out of range')
        return value
      }
    }
    throw new ProtobufError('protobuf: varint too long')
  }
  while (offset < buf.length) {
    const tag = readVarint()
    const field = Math.floor(tag / 8)
    const wireType = tag & 7
    if (field === 0) throw new ProtobufError('protobuf: field number 0')
    switch (wireType) {
      case WIRE_VARINT:
        fields.push({ field, wireType, varint: readVarint() })
        break
      case WIRE_LEN: {
        const length = readVarint()
        if (length > buf.length - offset) throw new ProtobufError('protobuf: length exceeds message')
        fields.push({ field, wireType, bytes: buf.subarray(offset, offset + length) })
        offset += length
        break
      }
      case WIRE_I64:
      case WIRE_I32: {
        const size = wireType === WIRE_I64 ? 8 : 4
        if (size > buf.length - offset) throw new ProtobufError('protobuf: truncated fixed field')
        offset += size
        fields.push({ field, wireType })
        break
      }
      default:
        throw new ProtobufError(`protobuf: unsupported wire type ${wireType}`)
    }
  }
  return fields
}
