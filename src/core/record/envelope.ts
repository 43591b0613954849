/**
 * Signed envelopes (libp2p/specs RFC 0002): a payload, its type, the signer's public key and a
 * signature over `uvarint(len(domain)) domain uvarint(len(type)) type uvarint(len(payload)) payload`.
 * The domain string separates purposes: a signature made for one domain never verifies in another.
 *
 *   message Envelope { bytes public_key = 1; bytes payload_type = 2; bytes payload = 3; bytes signature = 5; }
 */
import { reader, writer } from 'protons-runtime'
import { publicKeyFromProtobuf } from '../../identity/index.ts'
import type { PrivateKey, PublicKey } from '../../identity/types.ts'
import { PeerId } from '../../identity/peer-id.ts'
import { InvalidArgumentError, ProtocolViolationError } from '../errors.ts'
import { lengthPrefixed } from '../../utils/length-prefixed.ts'

/** Envelopes larger than this are refused before parsing: a peer record with 32 addresses is < 2 KiB. */
export const MAX_ENVELOPE_SIZE = 8 * 1024

export class EnvelopeError extends ProtocolViolationError {
  constructor (message: string, options?: { cause?: unknown }) {
    super('signed-envelope', message, 'ERR_INVALID_ENVELOPE', options)
  }
}

export interface Envelope {
  publicKey: PublicKey
  payloadType: Uint8Array
  payload: Uint8Array
  signature: Uint8Array
}

function signedData (domain: string, payloadType: Uint8Array, payload: Uint8Array): Uint8Array {
  const d = lengthPrefixed(new TextEncoder().encode(domain))
  const t = lengthPrefixed(payloadType)
  const p = lengthPrefixed(payload)
  const out = new Uint8Array(d.byteLength + t.byteLength + p.byteLength)
  out.set(d, 0)
  out.set(t, d.byteLength)
  out.set(p, d.byteLength + t.byteLength)
  return out
}

export function sealEnvelope (key: PrivateKey, domain: string, payloadType: Uint8Array, payload: Uint8Array): Envelope {
  if (domain === '') throw new InvalidArgumentError('envelope domain must not be empty')
  const signature = key.sign(signedData(domain, payloadType, payload))
  return { publicKey: key.publicKey, payloadType, payload, signature }
}

export function encodeEnvelope (e: Envelope): Uint8Array {
  const w = writer()
  w.uint32(10).bytes(e.publicKey.toProtobuf())
  w.uint32(18).bytes(e.payloadType)
  w.uint32(26).bytes(e.payload)
  w.uint32(42).bytes(e.signature)
  return w.finish()
}

/** Parses an envelope (no signature check: see `openEnvelope`). */
export function decodeEnvelope (bytes: Uint8Array): Envelope {
  if (bytes.byteLength > MAX_ENVELOPE_SIZE) throw new EnvelopeError(`envelope of ${bytes.byteLength} bytes exceeds ${MAX_ENVELOPE_SIZE}`)
  let keyBytes: Uint8Array | undefined
  let payloadType: Uint8Array | undefined
  let payload: Uint8Array | undefined
  let signature: Uint8Array | undefined
  try {
    const r = reader(bytes)
    while (r.pos < r.len) {
      const tag = r.uint32()
      switch (tag >>> 3) {
        case 1: keyBytes = r.bytes(); break
        case 2: payloadType = r.bytes(); break
        case 3: payload = r.bytes(); break
        case 5: signature = r.bytes(); break
        default: r.skipType(tag & 7)
      }
    }
  } catch (err) {
    throw new EnvelopeError('malformed envelope', { cause: err })
  }
  if (keyBytes === undefined || payloadType === undefined || payload === undefined || signature === undefined) {
    throw new EnvelopeError('envelope lacks a field')
  }
  let publicKey: PublicKey
  try {
    publicKey = publicKeyFromProtobuf(keyBytes)
  } catch (err) {
    throw new EnvelopeError('envelope public key is invalid', { cause: err })
  }
  return { publicKey, payloadType, payload, signature }
}

/**
 * Decodes and verifies an envelope for `domain` and `payloadType`; returns it with the signer's
 * PeerId. Throws EnvelopeError when anything does not match.
 */
export function openEnvelope (bytes: Uint8Array, domain: string, payloadType: Uint8Array): Envelope & { signer: PeerId } {
  const e = decodeEnvelope(bytes)
  if (!bytesEqual(e.payloadType, payloadType)) throw new EnvelopeError('unexpected payload type')
  if (!e.publicKey.verify(signedData(domain, e.payloadType, e.payload), e.signature)) throw new EnvelopeError('bad envelope signature')
  return { ...e, signer: PeerId.fromPublicKeyProtobuf(e.publicKey.toProtobuf()) }
}

export function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}
