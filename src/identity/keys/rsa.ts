/**
 * RSA keys (peer-ids spec): the public Data is a PKIX (SubjectPublicKeyInfo) DER; the private
 * Data is a PKCS#1 DER. Signatures are RSASSA-PKCS1-v1_5 over SHA-256 of the message. Verified
 * and signed with node:crypto (OpenSSL). We never generate RSA keys: they are for talking to peers
 * that use them (older go-libp2p and kubo nodes).
 */
import { createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify, constants, type KeyObject } from 'node:crypto'
import type { PrivateKey, PublicKey } from '../types.ts'
import { InvalidArgumentError } from '../../core/errors.ts'
import { encodeKeyProtobuf } from './protobuf.ts'
import { bytesEqual } from './util.ts'

/** go-libp2p's MinRsaKeyBits: smaller keys are refused as too weak. */
export const RSA_MIN_KEY_BITS = 2048
/** go-libp2p's maxRsaKeyBits: larger keys are refused so a peer cannot make us burn CPU verifying. */
export const RSA_MAX_KEY_BITS = 8192

function checkSize (key: KeyObject): void {
  if (key.asymmetricKeyType !== 'rsa') throw new InvalidArgumentError(`expected an RSA key, got ${key.asymmetricKeyType ?? 'unknown'}`)
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0
  if (bits < RSA_MIN_KEY_BITS || bits > RSA_MAX_KEY_BITS) {
    throw new InvalidArgumentError(`RSA key of ${bits} bits is outside ${RSA_MIN_KEY_BITS}..${RSA_MAX_KEY_BITS}`)
  }
}

export class RSAPublicKey implements PublicKey {
  readonly type = 'RSA' as const
  /** PKIX DER. */
  readonly raw: Uint8Array
  private readonly key: KeyObject

  constructor (pkixDer: Uint8Array, key?: KeyObject) {
    this.raw = Uint8Array.from(pkixDer)
    if (key === undefined) {
      try {
        key = createPublicKey({ key: Buffer.from(this.raw), format: 'der', type: 'spki' })
      } catch (err) {
        throw new InvalidArgumentError(`invalid RSA public key (PKIX DER expected): ${(err as Error).message}`)
      }
    }
    checkSize(key)
    this.key = key
  }

  toProtobuf (): Uint8Array {
    return encodeKeyProtobuf(this.type, this.raw)
  }

  verify (data: Uint8Array, signature: Uint8Array): boolean {
    try {
      return cryptoVerify('sha256', data, { key: this.key, padding: constants.RSA_PKCS1_PADDING }, signature)
    } catch {
      return false
    }
  }

  equals (other: PublicKey): boolean {
    return other.type === this.type && bytesEqual(other.raw, this.raw)
  }
}

export class RSAPrivateKey implements PrivateKey {
  readonly type = 'RSA' as const
  readonly publicKey: RSAPublicKey
  /** PKCS#1 DER. */
  readonly raw: Uint8Array
  private readonly key: KeyObject

  constructor (pkcs1Der: Uint8Array) {
    this.raw = Uint8Array.from(pkcs1Der)
    try {
      this.key = createPrivateKey({ key: Buffer.from(this.raw), format: 'der', type: 'pkcs1' })
    } catch (err) {
      throw new InvalidArgumentError(`invalid RSA private key (PKCS#1 DER expected): ${(err as Error).message}`)
    }
    checkSize(this.key)
    const pub = createPublicKey(this.key)
    this.publicKey = new RSAPublicKey(pub.export({ format: 'der', type: 'spki' }), pub)
  }

  toProtobuf (): Uint8Array {
    return encodeKeyProtobuf(this.type, this.raw)
  }

  sign (data: Uint8Array): Uint8Array {
    return cryptoSign('sha256', data, { key: this.key, padding: constants.RSA_PKCS1_PADDING })
  }
}
