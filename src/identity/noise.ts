/**
 * The libp2p Noise handshake payload (libp2p/specs noise/README.md):
 *   message NoiseExtensions { repeated bytes webtransport_certhashes = 1; repeated string stream_muxers = 2; }
 *   message NoiseHandshakePayload { optional bytes identity_key = 1; optional bytes identity_sig = 2;
 *                                   optional NoiseExtensions extensions = 4; }
 * identity_key is the keys protobuf PublicKey; identity_sig signs "noise-libp2p-static-key:" ||
 * the 32-byte Noise static X25519 public key. TypeScript builds our payload once per node and hands
 * it to the native Noise engine (docs/design/native-core.md); the decoder here is for tests and for
 * a pure-TS path.
 */
import { generateKeyPairSync } from 'node:crypto'
import type { PrivateKey, PublicKey } from './types.ts'
import { HandshakeError, InvalidArgumentError } from '../core/errors.ts'
import { ProtobufWriter, WIRE_LEN, readFields } from './protobuf.ts'
import { publicKeyFromProtobuf } from './keys/index.ts'
import { PeerId } from './peer-id.ts'

export const NOISE_STATIC_KEY_PREFIX = 'noise-libp2p-static-key:'
/** X25519 keys are 32 bytes (RFC 7748). */
export const NOISE_STATIC_KEY_LENGTH = 32
/** A payload travels inside one Noise message, at most 65535 bytes (Noise spec section 3). */
export const MAX_NOISE_PAYLOAD_LENGTH = 65535

const PREFIX_BYTES = new TextEncoder().encode(NOISE_STATIC_KEY_PREFIX)

export interface NoiseStaticKeyPair {
  /** X25519 secret scalar, 32 bytes. */
  secretKey: Uint8Array
  /** X25519 public key, 32 bytes. */
  publicKey: Uint8Array
}

/**
 * A fresh Noise static X25519 key pair (one per node; it is not the identity key), made by
 * node:crypto (OpenSSL) like the Ed25519 keys (src/identity/keys/ed25519.ts); @noble stays only
 * where node:crypto lacks the algorithm. The raw keys are read back from the JWK (RFC 8037).
 */
export function generateNoiseStaticKeyPair (): NoiseStaticKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519')
  const d = privateKey.export({ format: 'jwk' }).d
  const x = publicKey.export({ format: 'jwk' }).x
  if (typeof d !== 'string' || typeof x !== 'string') throw new InvalidArgumentError('X25519: node:crypto exported no raw key')
  return { secretKey: Uint8Array.from(Buffer.from(d, 'base64url')), publicKey: Uint8Array.from(Buffer.from(x, 'base64url')) }
}

function signedBytes (staticKey: Uint8Array): Uint8Array {
  const msg = new Uint8Array(PREFIX_BYTES.byteLength + staticKey.byteLength)
  msg.set(PREFIX_BYTES, 0)
  msg.set(staticKey, PREFIX_BYTES.byteLength)
  return msg
}

/** Our NoiseHandshakePayload: identity key, signature over the static key, and muxer extension. */
export function buildNoisePayload (privateKey: PrivateKey, staticNoisePublicKey: Uint8Array, streamMuxers: string[]): Uint8Array {
  if (staticNoisePublicKey.byteLength !== NOISE_STATIC_KEY_LENGTH) {
    throw new InvalidArgumentError(`Noise static public key must be ${NOISE_STATIC_KEY_LENGTH} bytes`)
  }
  const w = new ProtobufWriter()
    .bytes(1, privateKey.publicKey.toProtobuf())
    .bytes(2, privateKey.sign(signedBytes(staticNoisePublicKey)))
  if (streamMuxers.length > 0) {
    const ext = new ProtobufWriter()
    for (const muxer of streamMuxers) ext.string(2, muxer)
    w.bytes(4, ext.finish())
  }
  return w.finish()
}

export interface NoisePayload {
  identityKey: Uint8Array
  identitySig: Uint8Array
  streamMuxers: string[]
  webtransportCerthashes: Uint8Array[]
}

/** Decodes a payload without checking it; throws InvalidArgumentError on malformed bytes. */
export function decodeNoisePayload (buf: Uint8Array): NoisePayload {
  if (buf.byteLength > MAX_NOISE_PAYLOAD_LENGTH) throw new InvalidArgumentError('Noise payload too long')
  const out: NoisePayload = { identityKey: new Uint8Array(0), identitySig: new Uint8Array(0), streamMuxers: [], webtransportCerthashes: [] }
  const decoder = new TextDecoder('utf-8', { fatal: true })
  for (const f of readFields(buf)) {
    if (f.wireType !== WIRE_LEN || f.bytes === undefined) continue
    if (f.field === 1) out.identityKey = Uint8Array.from(f.bytes)
    else if (f.field === 2) out.identitySig = Uint8Array.from(f.bytes)
    else if (f.field === 4) {
      for (const e of readFields(f.bytes)) {
        if (e.wireType !== WIRE_LEN || e.bytes === undefined) continue
        if (e.field === 1) out.webtransportCerthashes.push(Uint8Array.from(e.bytes))
        else if (e.field === 2) {
          try {
            out.streamMuxers.push(decoder.decode(e.bytes))
          } catch {
            throw new InvalidArgumentError('Noise payload: stream muxer name is not UTF-8')
          }
        }
      }
    }
  }
  return out
}

export interface VerifiedNoisePayload {
  publicKey: PublicKey
  peerId: PeerId
  streamMuxers: string[]
}

/**
 * Decodes and checks the remote's payload against its Noise static key: the identity key must
 * parse and its signature over the static key must verify. Throws HandshakeError otherwise.
 */
export function verifyNoisePayload (buf: Uint8Array, remoteStaticKey: Uint8Array): VerifiedNoisePayload {
  let payload: NoisePayload
  let publicKey: PublicKey
  try {
    payload = decodeNoisePayload(buf)
    publicKey = publicKeyFromProtobuf(payload.identityKey)
  } catch (err) {
    throw new HandshakeError(`bad Noise handshake payload: ${(err as Error).message}`, 'ERR_HANDSHAKE', { cause: err })
  }
  if (!publicKey.verify(signedBytes(remoteStaticKey), payload.identitySig)) {
    throw new HandshakeError('Noise handshake payload: the identity signature over the static key does not verify', 'ERR_BAD_SIGNATURE')
  }
  return { publicKey, peerId: PeerId.fromPublicKeyProtobuf(publicKey.toProtobuf()), streamMuxers: payload.streamMuxers }
}
