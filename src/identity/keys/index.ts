/**
 * Key constructors by type: from the keys protobuf, from a type and raw Data, and generation.
 */
import type { KeyType, PrivateKey, PublicKey } from '../types.ts'
import { InvalidArgumentError } from '../../core/errors.ts'
import { decodeKeyProtobuf } from './protobuf.ts'
import { Ed25519PrivateKey, Ed25519PublicKey } from './ed25519.ts'
import { Secp256k1PrivateKey, Secp256k1PublicKey } from './secp256k1.ts'
import { RSAPrivateKey, RSAPublicKey } from './rsa.ts'
import { ECDSAPrivateKey, ECDSAPublicKey } from './ecdsa.ts'

/** A public key from its type and the spec's `Data` encoding for that type. */
export function publicKeyFromRaw (type: KeyType, data: Uint8Array): PublicKey {
  switch (type) {
    case 'Ed25519': return new Ed25519PublicKey(data)
    case 'secp256k1': return new Secp256k1PublicKey(data)
    case 'RSA': return new RSAPublicKey(data)
    case 'ECDSA': return new ECDSAPublicKey(data)
  }
}

/** A private key from its type and the spec's `Data` encoding for that type. */
export function privateKeyFromRaw (type: KeyType, data: Uint8Array): PrivateKey {
  switch (type) {
    case 'Ed25519': return Ed25519PrivateKey.fromRaw(data)
    case 'secp256k1': return new Secp256k1PrivateKey(data)
    case 'RSA': return new RSAPrivateKey(data)
    case 'ECDSA': return new ECDSAPrivateKey(data)
  }
}

/** Decodes a keys protobuf `PublicKey`; throws InvalidArgumentError on bad bytes or keys. */
export function publicKeyFromProtobuf (buf: Uint8Array): PublicKey {
  const { type, data } = decodeKeyProtobuf(buf)
  return publicKeyFromRaw(type, data)
}

/** Decodes a keys protobuf `PrivateKey`; throws InvalidArgumentError on bad bytes or keys. */
export function privateKeyFromProtobuf (buf: Uint8Array): PrivateKey {
  const { type, data } = decodeKeyProtobuf(buf)
  return privateKeyFromRaw(type, data)
}

/**
 * A new key pair. Ed25519 is the default of every libp2p implementation; secp256k1 is offered for
 * tests and for users who need it. RSA and ECDSA keys are only read, never made here.
 */
export function generateKeyPair (type: 'Ed25519' | 'secp256k1' = 'Ed25519'): PrivateKey {
  switch (type) {
    case 'Ed25519': return Ed25519PrivateKey.generate()
    case 'secp256k1': return Secp256k1PrivateKey.generate()
    default: throw new InvalidArgumentError(`cannot generate ${String(type)} keys`)
  }
}
