/**
 * Ed25519 keys (peer-ids spec): the public Data is the 32-byte key; the private Data is
 * seed || public (64 bytes), or the legacy seed || public || public (96 bytes), accepted when the
 * two copies match. Signatures are plain RFC 8032 Ed25519 over the message.
 */
import { ed25519 } from '@noble/curves/ed25519.js'
import type { PrivateKey, PublicKey } from '../types.ts'
import { InvalidArgumentError } from '../../core/errors.ts'
import { encodeKeyProtobuf } from './protobuf.ts'
import { bytesEqual } from './util.ts'

export const ED25519_PUBLIC_KEY_LENGTH = 32
export const ED25519_SEED_LENGTH = 32
export const ED25519_PRIVATE_KEY_LENGTH = 64
/** The older private key form the spec still asks implementations to read. */
export const ED25519_LEGACY_PRIVATE_KEY_LENGTH = 96
export const ED25519_SIGNATURE_LENGTH = 64

export class Ed25519PublicKey implements PublicKey {
  readonly type = 'Ed25519' as const
  readonly raw: Uint8Array
  private protobuf: Uint8Array | undefined

  constructor (raw: Uint8Array) {
    if (raw.byteLength !== ED25519_PUBLIC_KEY_LENGTH) throw new InvalidArgumentError(`Ed25519 public key must be ${ED25519_PUBLIC_KEY_LENGTH} bytes, got ${raw.byteLength}`)
    this.raw = Uint8Array.from(raw)
  }

  toProtobuf (): Uint8Array {
    this.protobuf ??= encodeKeyProtobuf(this.type, this.raw)
    return this.protobuf
  }

  verify (data: Uint8Array, signature: Uint8Array): boolean {
    if (signature.byteLength !== ED25519_SIGNATURE_LENGTH) return false
    try {
      // zip215: false is RFC 8032's strict verification, as libsodium and go's crypto/ed25519 do.
      return ed25519.verify(signature, data, this.raw, { zip215: false })
    } catch {
      return false
    }
  }

  equals (other: PublicKey): boolean {
    return other.type === this.type && bytesEqual(other.raw, this.raw)
  }
}

export class Ed25519PrivateKey implements PrivateKey {
  readonly type = 'Ed25519' as const
  readonly publicKey: Ed25519PublicKey
  /** seed || public, 64 bytes. */
  readonly raw: Uint8Array
  private readonly seed: Uint8Array

  constructor (seed: Uint8Array, publicKey?: Uint8Array) {
    if (seed.byteLength !== ED25519_SEED_LENGTH) throw new InvalidArgumentError(`Ed25519 seed must be ${ED25519_SEED_LENGTH} bytes`)
    this.seed = Uint8Array.from(seed)
    const derived = ed25519.getPublicKey(this.seed)
    if (publicKey !== undefined && !bytesEqual(publicKey, derived)) {
      throw new InvalidArgumentError('Ed25519 private key: the public half does not match the seed')
    }
    this.publicKey = new Ed25519PublicKey(derived)
    this.raw = new Uint8Array(ED25519_PRIVATE_KEY_LENGTH)
    this.raw.set(this.seed, 0)
    this.raw.set(derived, ED25519_SEED_LENGTH)
  }

  /** From the private key Data field (64 bytes, or the legacy 96). */
  static fromRaw (data: Uint8Array): Ed25519PrivateKey {
    if (data.byteLength === ED25519_LEGACY_PRIVATE_KEY_LENGTH) {
      const a = data.subarray(32, 64)
      const b = data.subarray(64, 96)
      if (!bytesEqual(a, b)) throw new InvalidArgumentError('legacy Ed25519 private key: the two public key copies differ')
      return new Ed25519PrivateKey(data.subarray(0, 32), a)
    }
    if (data.byteLength !== ED25519_PRIVATE_KEY_LENGTH) {
      throw new InvalidArgumentError(`Ed25519 private key must be ${ED25519_PRIVATE_KEY_LENGTH} bytes, got ${data.byteLength}`)
    }
    return new Ed25519PrivateKey(data.subarray(0, 32), data.subarray(32, 64))
  }

  static generate (): Ed25519PrivateKey {
    return new Ed25519PrivateKey(ed25519.utils.randomSecretKey())
  }

  toProtobuf (): Uint8Array {
    return encodeKeyProtobuf(this.type, this.raw)
  }

  sign (data: Uint8Array): Uint8Array {
    return ed25519.sign(data, this.seed)
  }
}
