/**
 * Unsigned-varint length-prefixed messages (multiformats unsigned-varint), the framing of
 * identify, request-response and most libp2p protocols. The length is checked against the
 * caller's limit as soon as the prefix is read, before any of the body is buffered.
 */
import { ProtocolViolationError } from '../core/errors.ts'
import type { ByteReader } from './byte-reader.ts'

/**
 * Prefix bytes read at most. 5 varint bytes encode up to 2^35-1, far beyond any message limit
 * we accept (the unsigned-varint spec caps varints at 9 bytes; no libp2p message needs more than 4).
 */
export const MAX_LENGTH_PREFIX_BYTES = 5

export function uvarintLength (value: number): number {
  let n = 1
  while (value >= 0x80) { value = Math.floor(value / 128); n++ }
  return n
}

/** `payload` with its varint length in front, in one buffer (one `send()`). */
export function lengthPrefixed (payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(uvarintLength(payload.byteLength) + payload.byteLength)
  let value = payload.byteLength
  let offset = 0
  while (value >= 0x80) {
    out[offset++] = (value & 0x7f) | 0x80
    value = Math.floor(value / 128)
  }
  out[offset++] = value
  out.set(payload, offset)
  return out
}

/**
 * Reads one length-prefixed message. Returns undefined when the stream ends cleanly before the
 * first prefix byte; throws ProtocolViolationError on a bad prefix, an oversized length, or an end
 * inside the message.
 */
export async function readLengthPrefixed (reader: ByteReader, maxLength: number, protocol: string): Promise<Uint8Array | undefined> {
  let length = 0
  for (let i = 0; ; i++) {
    if (i >= MAX_LENGTH_PREFIX_BYTES) throw new ProtocolViolationError(protocol, 'length prefix too long', 'ERR_BAD_LENGTH_PREFIX')
    const b = await reader.readExactly(1)
    if (b === undefined) {
      if (i === 0) return undefined
      throw new ProtocolViolationError(protocol, 'stream ended inside a length prefix', 'ERR_BAD_LENGTH_PREFIX')
    }
    const byte = b[0] as number
    if (i > 0 && byte === 0) throw new ProtocolViolationError(protocol, 'non-minimal length prefix', 'ERR_BAD_LENGTH_PREFIX')
    length += (byte & 0x7f) * 2 ** (7 * i)
    if ((byte & 0x80) === 0) break
  }
  if (length > maxLength) throw new ProtocolViolationError(protocol, `message of ${length} bytes exceeds the limit of ${maxLength}`, 'ERR_MESSAGE_TOO_LARGE')
  if (length === 0) return new Uint8Array(0)
  const body = await reader.readExactly(length)
  if (body === undefined) throw new ProtocolViolationError(protocol, `stream ended inside a ${length}-byte message`, 'ERR_TRUNCATED_MESSAGE')
  return body
}
