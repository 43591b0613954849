/**
 * ECDSA keys (peer-ids spec, as go-libp2p and rust-libp2p implement it): the public Data is a PKIX
 * (SubjectPublicKeyInfo) DER, the private Data a SEC1 `ECPrivateKey` DER (go's
 * x509.MarshalECPrivateKey). Signatures are ECDSA over SHA-256 of the message, ASN.1 DER-encoded.
 * Curves P-256, P-384 and P-521; node:crypto (OpenSSL) does the work.
 *
 * Note: js-libp2p's @libp2p/crypto (5.x) departs from this: its ECDSA public Data is a SEC1-shaped
 * structure and its signatures are raw r||s. We follow the spec; see test/identity/keys.test.ts.
 */
import { createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto'
import type { PrivateKey, PublicKey } from '../types.ts'
import { InvalidArgumentError } from '../../core/errors.ts'
import { encodeKeyProtobuf } from './protobuf.ts'
import { bytesEqual } from './util.ts'

/** OpenSSL names of the curves the spec's implementations use (go: elliptic.P256/P384/P521). */
export const ECDSA_CURVES: ReadonlySet<string> = new Set(['prime256v1', 'secp384r1', 'secp521r1'])
/** Longest DER signature for P-521: SEQUENCE header 3 + 2 * (2 + 67). */
export const ECDSA_MAX_DER_SIGNATURE_LENGTH = 141

function checkCurve (key: KeyObject): void {
  const curve = key.asymmetricKeyDetails?.namedCurve
  if (key.asymmetricKeyType !== 'ec' || curve === undefined || !ECDSA_CURVES.has(curve)) {
    throw new InvalidArgumentError(`unsupported ECDSA key (type ${key.asymmetricKeyType ?? '?'}, curve ${curve ?? '?'})`)
  }
}

export class ECDSAPublicKey implements PublicKey {
  readonly type = 'ECDSA' as const
  readonly raw: Uint8Array
  private readonly key: KeyObject

  constructor (pkixDer: Uint8Array, key?: KeyObject) {
    this.raw = Uint8Array.from(pkixDer)
    if (key === undefined) {
      try {
        key = createPublicKey({ key: Buffer.from(this.raw), format: 'der', type: 'spki' })
      } catch (err) {
        throw new InvalidArgumentError(`invalid ECDSA public key (PKIX DER expected): ${(err as Error).message}`)
      }
    }
    checkCurve(key)
    this.key = key
  }

  /** The curve's OpenSSL name: prime256v1, secp384r1 or secp521r1. */
  get curve (): string {
    return this.key.asymmetricKeyDetails?.namedCurve ?? ''
  }

  toProtobuf (): Uint8Array {
    return encodeKeyProtobuf(this.type, this.raw)
  }

  verify (data: Uint8Array, signature: Uint8Array): boolean {
    if (signature.byteLength > ECDSA_MAX_DER_SIGNATURE_LENGTH) return false
    try {
      return cryptoVerify('sha256', data, { key: this.key, dsaEncoding: 'der' }, signature)
    } catch {
      return false
    }
  }

  equals (other: PublicKey): boolean {
    return other.type === this.type && bytesEqual(other.raw, this.raw)
  }
}

export class ECDSAPrivateKey implements PrivateKey {
  readonly type = 'ECDSA' as const
  readonly publicKey: ECDSAPublicKey
  /** SEC1 DER. */
  readonly raw: Uint8Array
  private readonly key: KeyObject

  constructor (sec1Der: Uint8Array) {
    this.raw = Uint8Array.from(sec1Der)
    try {
      this.key = createPrivateKey({ key: Buffer.from(this.raw), format: 'der', type: 'sec1' })
    } catch (err) {
      throw new InvalidArgumentError(`invalid ECDSA private key (SEC1 DER expected): ${(err as Error).message}`)
    }
    checkCurve(this.key)
    const pub = createPublicKey(this.key)
    this.publicKey = new ECDSAPublicKey(pub.export({ format: 'der', type: 'spki' }), pub)
  }

  toProtobuf (): Uint8Array {
    return encodeKeyProtobuf(this.type, this.raw)
  }

  sign (data: Uint8Array): Uint8Array {
    return cryptoSign('sha256', data, { key: this.key, dsaEncoding: 'der' })
  }
}
