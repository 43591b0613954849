/**
 * PeerId: the multihash of a peer's public key protobuf (peer-ids spec). Keys whose protobuf is at
 * most 42 bytes (Ed25519, secp256k1) use the identity multihash, so the key can be read back out of
 * the id; larger ones (RSA, ECDSA) use SHA-256. Two text forms: base58btc of the multihash
 * (`12D3KooW…`, `Qm…`) and CIDv1 with the `libp2p-key` codec (0x72) in base32 (`bafz…`).
 */
import { base58btc } from 'multiformats/bases/base58'
import { base32 } from 'multiformats/bases/base32'
import { CID } from 'multiformats/cid'
import { sha256 } from '@noble/hashes/sha2.js'
import { InvalidArgumentError } from '../core/errors.ts'

/** Multicodec of a CID that names a libp2p public key. */
export const LIBP2P_KEY_CODEC = 0x72
/** Multihash code of the identity hash. */
export const IDENTITY_MULTIHASH = 0x00
/** Multihash code of SHA-256. */
export const SHA256_MULTIHASH = 0x12
/** The peer-ids spec: key protobufs up to this length are inlined with the identity multihash. */
export const MAX_INLINE_KEY_LENGTH = 42

export class PeerId {
  /** The multihash bytes. */
  readonly bytes: Uint8Array
  private text: string | undefined

  private constructor (multihash: Uint8Array) {
    this.bytes = multihash
  }

  /** From the public key protobuf bytes (`PublicKey { Type, Data }`). */
  static fromPublicKeyProtobuf (keyProtobuf: Uint8Array): PeerId {
    if (keyProtobuf.length <= MAX_INLINE_KEY_LENGTH) {
      const mh = new Uint8Array(2 + keyProtobuf.length)
      mh[0] = IDENTITY_MULTIHASH
      mh[1] = keyProtobuf.length
      mh.set(keyProtobuf, 2)
      return new PeerId(mh)
    }
    const mh = new Uint8Array(34)
    mh[0] = SHA256_MULTIHASH
    mh[1] = 32
    mh.set(sha256(keyProtobuf), 2)
    return new PeerId(mh)
  }

  /** From multihash bytes, validated. */
  static fromBytes (multihash: Uint8Array): PeerId {
    if (multihash.length < 2) throw new InvalidArgumentError('peer id multihash is too short')
    const code = multihash[0]
    const length = multihash[1]
    if (code === IDENTITY_MULTIHASH) {
      if (length === undefined || length > MAX_INLINE_KEY_LENGTH || multihash.length !== 2 + length) {
        throw new InvalidArgumentError('bad identity multihash in peer id')
      }
    } else if (code === SHA256_MULTIHASH) {
      if (length !== 32 || multihash.length !== 34) throw new InvalidArgumentError('bad sha2-256 multihash in peer id')
    } else {
      throw new InvalidArgumentError(`unsupported multihash code 0x${(code as number).toString(16)} in peer id`)
    }
    return new PeerId(Uint8Array.from(multihash))
  }

  /** From either text form: base58btc multihash, or a CIDv1 with the libp2p-key codec. */
  static parse (text: string): PeerId {
    if (text.startsWith('1') || text.startsWith('Q')) {
      let bytes: Uint8Array
      try {
        bytes = base58btc.decode(`z${text}`)
      } catch (err) {
        throw new InvalidArgumentError(`invalid base58btc peer id: ${text}`)
      }
      return PeerId.fromBytes(bytes)
    }
    let cid: CID
    try {
      cid = CID.parse(text, text.startsWith('b') ? base32 : undefined)
    } catch (err) {
      throw new InvalidArgumentError(`invalid peer id: ${text}`)
    }
    if (cid.code !== LIBP2P_KEY_CODEC) throw new InvalidArgumentError(`CID is not a libp2p-key (codec 0x${cid.code.toString(16)}): ${text}`)
    return PeerId.fromBytes(cid.multihash.bytes)
  }

  /** The public key protobuf, when it is inlined (identity multihash). */
  inlinePublicKeyProtobuf (): Uint8Array | undefined {
    return this.bytes[0] === IDENTITY_MULTIHASH ? this.bytes.subarray(2) : undefined
  }

  /** base58btc of the multihash, the usual text form. */
  toString (): string {
    this.text ??= base58btc.encode(this.bytes).slice(1)
    return this.text
  }

  /** CIDv1 (libp2p-key) in base32. */
  toCID (): string {
    return CID.createV1(LIBP2P_KEY_CODEC, decodeDigest(this.bytes)).toString(base32)
  }

  equals (other: PeerId | undefined): boolean {
    if (other === undefined || other.bytes.length !== this.bytes.length) return false
    for (let i = 0; i < this.bytes.length; i++) if (this.bytes[i] !== other.bytes[i]) return false
    return true
  }

  toJSON (): string {
    return this.toString()
  }
}

function decodeDigest (multihash: Uint8Array): { code: number, size: number, digest: Uint8Array<ArrayBuffer>, bytes: Uint8Array<ArrayBuffer> } {
  const bytes = Uint8Array.from(multihash)
  return { code: bytes[0] as number, size: bytes[1] as number, digest: bytes.subarray(2), bytes }
}
