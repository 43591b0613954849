/**
 * Kademlia framing: each message is `uvarint(length) || protobuf` (kad-dht spec; the multiformats
 * unsigned-varint, at most 9 bytes, minimally encoded). `FrameDecoder` is a pure incremental
 * decoder: feed chunks, pull whole message bodies. The length is checked against the maximum when
 * the prefix is read, before any of the body is buffered (rust-yamux's rule).
 */
import { ProtocolViolationError } from '../../core/errors.ts'
import { decodeMessage, encodeMessage, type KadMessage } from './message.ts'

/**
 * Default maximum message size: go-libp2p's `network.MessageSizeMax` (4 MiB), which Go peers
 * (the majority of Amino) read up to; `KadConfig.maxMessageSize` overrides it per node.
 */
export const DEFAULT_MAX_MESSAGE_SIZE = 4 * 1024 * 1024
/** multiformats unsigned-varint spec: at most 9 bytes (63 bits) in practice. */
export const MAX_UVARINT_LENGTH = 9

export class KadFrameError extends ProtocolViolationError {
  constructor (message: string, code: string) {
    super('kad', message, code)
  }
}

function uvarintBytes (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) { out.push((n % 128) | 0x80); n = Math.floor(n / 128) }
  out.push(n)
  return Uint8Array.from(out)
}

/** Encodes `m` with its length prefix in one buffer (one `send()` per message). */
export function encodeFrame (m: KadMessage, maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE): Uint8Array {
  const body = encodeMessage(m)
  if (body.byteLength > maxMessageSize) {
    throw new KadFrameError(`message of ${body.byteLength} bytes exceeds the maximum of ${maxMessageSize}`, 'ERR_KAD_MESSAGE_TOO_LARGE')
  }
  const prefix = uvarintBytes(body.byteLength)
  const out = new Uint8Array(prefix.byteLength + body.byteLength)
  out.set(prefix, 0)
  out.set(body, prefix.byteLength)
  return out
}

/**
 * Incremental frame decoder. `push(chunk)` then `next()` until it returns undefined. Errors
 * (`KadFrameError`): ERR_KAD_BAD_VARINT (non-minimal or over 9 bytes), ERR_KAD_MESSAGE_TOO_LARGE
 * (prefix over the maximum). The caller must reset the stream on any error.
 */
export class FrameDecoder {
  private readonly chunks: Uint8Array[] = []
  private buffered = 0
  private expected = -1
  constructor (private readonly maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE) {}

  push (chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return
    this.chunks.push(chunk)
    this.buffered += chunk.byteLength
  }

  /** Bytes held and not yet returned. */
  get bufferedBytes (): number { return this.buffered }

  /** The next whole message body, or undefined if more bytes are needed. */
  next (): Uint8Array | undefined {
    if (this.expected < 0) {
      const header = this.readPrefix()
      if (header === undefined) return undefined
      this.expected = header
    }
    if (this.buffered < this.expected) return undefined
    const body = this.take(this.expected)
    this.expected = -1
    return body
  }

  /** Parses the length prefix if complete; consumes it. */
  private readPrefix (): number | undefined {
    let value = 0
    let mul = 1
    let i = 0
    for (const chunk of this.chunks) {
      for (let j = 0; j < chunk.byteLength; j++) {
        const b = chunk[j] as number
        value += (b & 0x7f) * mul
        mul *= 128
        i++
        if ((b & 0x80) === 0) {
          if (b === 0 && i > 1) throw new KadFrameError('non-minimal length prefix', 'ERR_KAD_BAD_VARINT')
          if (value > this.maxMessageSize) {
            throw new KadFrameError(`message length ${value} exceeds the maximum of ${this.maxMessageSize}`, 'ERR_KAD_MESSAGE_TOO_LARGE')
          }
          this.take(i)
          return value
        }
        if (i >= MAX_UVARINT_LENGTH) throw new KadFrameError('length prefix longer than 9 bytes', 'ERR_KAD_BAD_VARINT')
        // Stop early: a prefix already above the maximum needs no more bytes to be rejected.
        if (value > this.maxMessageSize) {
          throw new KadFrameError(`message length over ${this.maxMessageSize} announced`, 'ERR_KAD_MESSAGE_TOO_LARGE')
        }
      }
    }
    return undefined
  }

  private take (n: number): Uint8Array {
    this.buffered -= n
    const first = this.chunks[0]
    if (first !== undefined && first.byteLength >= n) {
      const out = first.subarray(0, n)
      if (first.byteLength === n) this.chunks.shift()
      else this.chunks[0] = first.subarray(n)
      return out
    }
    const out = new Uint8Array(n)
    let off = 0
    while (off < n) {
      const c = this.chunks[0] as Uint8Array
      const k = Math.min(c.byteLength, n - off)
      out.set(c.subarray(0, k), off)
      off += k
      if (k === c.byteLength) this.chunks.shift()
      else this.chunks[0] = c.subarray(k)
    }
    return out
  }
}

/** Decodes a single complete frame (prefix + body), e.g. a test vector. */
export function decodeFrame (frame: Uint8Array, maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE): KadMessage {
  const d = new FrameDecoder(maxMessageSize)
  d.push(frame)
  const body = d.next()
  if (body === undefined) throw new KadFrameError('truncated frame', 'ERR_KAD_TRUNCATED')
  if (d.bufferedBytes !== 0) throw new KadFrameError('trailing bytes after frame', 'ERR_KAD_TRAILING_BYTES')
  return decodeMessage(body)
}
