/**
 * Ed25519 keys (peer-ids spec): the public Data is the 32-byte key; the private Data is
 * seed || public (64 bytes), or the legacy seed || public || public (96 bytes), accepted when the
 * two copies match. Signatures are plain RFC 8032 Ed25519 over the message.
 *
 * Signing and verifying go through node:crypto (OpenSSL), not @noble/curves: on this machine a
 * noble verify costs 1.2 to 3.8 ms against about 0.1 ms with OpenSSL, and identify verifies a
 * signed peer record on every new connection (bench/micro/identity.bench.ts measures both in one
 * run). @noble stays only for what node:crypto lacks (secp256k1).
 *
 * node:crypto takes no raw Ed25519 bytes directly; it takes them as a JWK (RFC 8037: `d` is the
 * seed, `x` the public key, both base64url) or wrapped in the fixed DER header of a PKCS#8 or SPKI
 * structure (RFC 8410). Both give the same OpenSSL key, but the DER path goes through OpenSSL 3's
 * generic decoder chain and measured 360 us per private and 76 us per public import here, against
 * 42 us and 6 us for the JWK (which Node hands to EVP_PKEY_new_raw_*_key), so we import JWKs.
 * The bench shows the DER variant too. Each KeyObject is built once per key and kept.
 * OpenSSL verifies as RFC 8032 says (S < L, canonical encodings), the strict mode we used with
 * noble (zip215: false), as libsodium and Go's crypto/ed25519 do; test/identity/ed25519.test.ts
 * checks that it refuses S + L and agrees with noble on altered signatures.
 */
import { createPrivateKey, createPublicKey, randomBytes, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto'
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

function base64url (raw: Uint8Array): string {
  return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64url')
}

/**
 * A node:crypto private KeyObject from a 32-byte seed. Node reads only `d` of a private OKP JWK
 * (OpenSSL derives the public key from it), but requires `x` to be a string.
 */
function privateKeyObject (seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: base64url(seed), x: '' }, format: 'jwk' })
}

/** The 32-byte public key of a private KeyObject. */
function rawPublicKey (key: KeyObject): Uint8Array {
  const { x } = createPublicKey(key).export({ format: 'jwk' })
  if (typeof x !== 'string') throw new InvalidArgumentError('Ed25519: node:crypto exported no public key')
  return Uint8Array.from(Buffer.from(x, 'base64url'))
}

export class Ed25519PublicKey implements PublicKey {
  readonly type = 'Ed25519' as const
  readonly raw: Uint8Array
  private protobuf: Uint8Array | undefined
  /** Built on the first verify; undefined also when OpenSSL refused the point (see verify). */
  private keyObject: KeyObject | undefined
  private keyObjectFailed = false

  constructor (raw: Uint8Array) {
    if (raw.byteLength !== ED25519_PUBLIC_KEY_LENGTH) throw new InvalidArgumentError(`Ed25519 public key must be ${ED25519_PUBLIC_KEY_LENGTH} bytes, got ${raw.byteLength}`)
    this.raw = Uint8Array.from(raw)
  }

  private getKeyObject (): KeyObject | undefined {
    if (this.keyObject === undefined && !this.keyObjectFailed) {
      try {
        this.keyObject = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: base64url(this.raw) }, format: 'jwk' })
      } catch {
        this.keyObjectFailed = true
      }
    }
    return this.keyObject
  }

  toProtobuf (): Uint8Array {
    this.protobuf ??= encodeKeyProtobuf(this.type, this.raw)
    return this.protobuf
  }

  verify (data: Uint8Array, signature: Uint8Array): boolean {
    if (signature.byteLength !== ED25519_SIGNATURE_LENGTH) return false
    const key = this.getKeyObject()
    if (key === undefined) return false
    try {
      // A null algorithm is the only one Ed25519 takes: PureEdDSA over the whole message.
      return cryptoVerify(null, data, key, signature)
    } catch {
      // Kept for safety: OpenSSL answers false (not an exception) for a key that is not a point.
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
  private readonly keyObject: KeyObject

  constructor (seed: Uint8Array, publicKey?: Uint8Array) {
    if (seed.byteLength !== ED25519_SEED_LENGTH) throw new InvalidArgumentError(`Ed25519 seed must be ${ED25519_SEED_LENGTH} bytes`)
    this.keyObject = privateKeyObject(seed)
    const derived = rawPublicKey(this.keyObject)
    if (publicKey !== undefined && !bytesEqual(publicKey, derived)) {
      throw new InvalidArgumentError('Ed25519 private key: the public half does not match the seed')
    }
    this.publicKey = new Ed25519PublicKey(derived)
    this.raw = new Uint8Array(ED25519_PRIVATE_KEY_LENGTH)
    this.raw.set(seed, 0)
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
    // Any 32 random bytes are a valid seed (RFC 8032 section 5.1.5), as noble's randomSecretKey made.
    return new Ed25519PrivateKey(randomBytes(ED25519_SEED_LENGTH))
  }

  toProtobuf (): Uint8Array {
    return encodeKeyProtobuf(this.type, this.raw)
  }

  sign (data: Uint8Array): Uint8Array {
    const sig = cryptoSign(null, data, this.keyObject)
    return new Uint8Array(sig.buffer, sig.byteOffset, sig.byteLength)
  }
}
