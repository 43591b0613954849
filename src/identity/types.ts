/**
 * Identity types shared by every module. Implementations live beside this file
 * (keys/, peer-id.ts); other modules import only these types and the functions in index.ts.
 */

/** Key types of the libp2p keys protobuf (peer-ids spec): enum KeyType. */
export type KeyType = 'RSA' | 'Ed25519' | 'secp256k1' | 'ECDSA'

export interface PublicKey {
  readonly type: KeyType
  /** The key's `Data` field as the peer-ids spec defines it for its type. */
  readonly raw: Uint8Array
  /** The keys protobuf `PublicKey { Type, Data }`, deterministic encoding. */
  toProtobuf(): Uint8Array
  /** Verifies a signature as the peer-ids spec defines it for this key type. */
  verify(data: Uint8Array, signature: Uint8Array): boolean
  equals(other: PublicKey): boolean
}

export interface PrivateKey {
  readonly type: KeyType
  readonly publicKey: PublicKey
  /** The key's private `Data` field as the peer-ids spec defines it for its type. */
  readonly raw: Uint8Array
  /** The keys protobuf `PrivateKey { Type, Data }`. */
  toProtobuf(): Uint8Array
  sign(data: Uint8Array): Uint8Array
}
