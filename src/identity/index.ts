/**
 * The identity module's public API: keys (the peer-ids spec's four types, Ed25519 generated),
 * the keys protobuf, PeerId, key files and the Noise handshake payload.
 */
export type { KeyType, PublicKey, PrivateKey } from './types.ts'
export { PeerId } from './peer-id.ts'
export { publicKeyFromProtobuf, privateKeyFromProtobuf, publicKeyFromRaw, privateKeyFromRaw, generateKeyPair } from './keys/index.ts'
export { encodeKeyProtobuf, decodeKeyProtobuf, MAX_KEY_PROTOBUF_LENGTH } from './keys/protobuf.ts'
export { Ed25519PublicKey, Ed25519PrivateKey } from './keys/ed25519.ts'
export { Secp256k1PublicKey, Secp256k1PrivateKey } from './keys/secp256k1.ts'
export { RSAPublicKey, RSAPrivateKey, RSA_MIN_KEY_BITS, RSA_MAX_KEY_BITS } from './keys/rsa.ts'
export { ECDSAPublicKey, ECDSAPrivateKey } from './keys/ecdsa.ts'
export { saveKeyFile, loadKeyFile, loadOrCreateKeyFile, KeyFileError, KEY_FILE_MODE } from './key-file.ts'
export {
  buildNoisePayload, decodeNoisePayload, verifyNoisePayload, generateNoiseStaticKeyPair,
  NOISE_STATIC_KEY_PREFIX, type NoisePayload, type NoiseStaticKeyPair, type VerifiedNoisePayload
} from './noise.ts'

import type { PrivateKey, PublicKey } from './types.ts'
import { PeerId } from './peer-id.ts'
import { publicKeyFromProtobuf } from './keys/index.ts'

/** The PeerId of a public key (identity multihash up to 42 protobuf bytes, else SHA-256). */
export function peerIdFromPublicKey (key: PublicKey): PeerId {
  return PeerId.fromPublicKeyProtobuf(key.toProtobuf())
}

export function peerIdFromPrivateKey (key: PrivateKey): PeerId {
  return peerIdFromPublicKey(key.publicKey)
}

/** The public key inlined in a PeerId (Ed25519, secp256k1), or undefined for hashed ones. */
export function publicKeyFromPeerId (peerId: PeerId): PublicKey | undefined {
  const pb = peerId.inlinePublicKeyProtobuf()
  return pb === undefined ? undefined : publicKeyFromProtobuf(pb)
}
