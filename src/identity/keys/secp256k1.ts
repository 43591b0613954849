/**
 * secp256k1 keys (peer-ids spec): the public Data is the standard Bitcoin encoding (33-byte
 * compressed point; we also read the 65-byte uncompressed form and keep the bytes as given, since
 * the PeerId hashes them), the private Data the 32-byte scalar. Signatures are ECDSA over SHA-256
 * of the message, DER-encoded (BIP-62 DER), made and checked with @noble/curves.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { sha256 } from '@noble/hashes/sha2.js'
import type { PrivateKey, PublicKey } from '../types.ts'
import { InvalidArgumentError } from '../../core/errors.ts'
import { encodeKeyProtobuf } from './protobuf.ts'
import { bytesEqual } from './util.ts'

export const SECP256K1_PUBLIC_KEY_LENGTH = 33
export const SECP256K1_UNCOMPRESSED_PUBLIC_KEY_LENGTH = 65
export const SECP256K1_PRIVATE_KEY_LENGTH = 32
/** Longest DER ECDSA signature over a 256-bit curve: 2 + 2 * (2 + 33). */
export const SECP256K1_MAX_DER_SIGNATURE_LENGTH = 72

export class Secp256k1PublicKey implements PublicKey {
  readonly type = 'secp256k1' as const
  readonly raw: Uint8Array

  constructor (raw: Uint8Array) {
    if (raw.byteLength !== SECP256K1_PUBLIC_KEY_LENGTH && raw.byteLength !== SECP256K1_UNCOMPRESSED_PUBLIC_KEY_LENGTH) {
      throw new InvalidArgumentError(`secp256k1 public key must be ${SECP256K1_PUBLIC_KEY_LENGTH} (or ${SECP256K1_UNCOMPRESSED_PUBLIC_KEY_LENGTH}) bytes, got ${raw.byteLength}`)
    }
    if (!secp256k1.utils.isValidPublicKey(raw, raw.byteLength === SECP256K1_PUBLIC_KEY_LENGTH)) {
      throw new InvalidArgumentError('secp256k1 public key is not a point on the curve')
    }
    this.raw = Uint8Array.from(raw)
  }

  toProtobuf (): Uint8Array {
    return encodeKeyProtobuf(this.type, this.raw)
  }

  verify (data: Uint8Array, signature: Uint8Array): boolean {
    if (signature.byteLength > SECP256K1_MAX_DER_SIGNATURE_LENGTH) return false
    try {
      // lowS: false accepts high-S signatures too: go-libp2p and node:crypto signers do not normalise S.
      return secp256k1.verify(signature, sha256(data), this.raw, { prehash: false, format: 'der', lowS: false })
    } catch {
      return false
    }
  }

  equals (other: PublicKey): boolean {
    return other.type === this.type && bytesEqual(other.raw, this.raw)
  }
}

export class Secp256k1PrivateKey implements PrivateKey {
  readonly type = 'secp256k1' as const
  readonly publicKey: Secp256k1PublicKey
  readonly raw: Uint8Array

  constructor (raw: Uint8Array) {
    if (raw.byteLength !== SECP256K1_PRIVATE_KEY_LENGTH || !secp256k1.utils.isValidSecretKey(raw)) {
      throw new InvalidArgumentError('invalid secp256k1 private key')
    }
    this.raw = Uint8Array.from(raw)
    this.publicKey = new Secp256k1PublicKey(secp256k1.getPublicKey(this.raw, true))
  }

  static generate (): Secp256k1PrivateKey {
    return new Secp256k1PrivateKey(secp256k1.utils.randomSecretKey())
  }

  toProtobuf (): Uint8Array {
    return encodeKeyProtobuf(this.type, this.raw)
  }

  sign (data: Uint8Array): Uint8Array {
    return secp256k1.sign(sha256(data), this.raw, { prehash: false, format: 'der' })
  }
}
