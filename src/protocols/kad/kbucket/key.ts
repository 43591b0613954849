/**
 * Keys of the Kademlia keyspace. Every key (a PeerId's multihash bytes, a record key, a CID's
 * multihash) is mapped into the 256-bit space by SHA-256 (kad-dht spec: "the SHA256 hash of the
 * key"), and closeness is the XOR of two such hashes read as a big-endian unsigned integer
 * (Maymounkov & Mazières, "Kademlia", IPTPS 2002, §2.1).
 */
import { sha256 } from '@noble/hashes/sha2.js'
import type { PeerId } from '../../../identity/peer-id.ts'

/** Bits in a key: SHA-256 output. */
export const KEY_BITS = 256
export const KEY_BYTES = KEY_BITS / 8

/** A key with its preimage (what goes on the wire) and its hash (where it lives in the keyspace). */
export interface KadKey {
  readonly preimage: Uint8Array
  readonly hash: Uint8Array
}

export function keyFromBytes (preimage: Uint8Array): KadKey {
  return { preimage, hash: sha256(preimage) }
}

export function keyFromPeer (peer: PeerId): KadKey {
  return keyFromBytes(peer.bytes)
}

/** `a XOR b` (32 bytes). */
export function distance (a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(KEY_BYTES)
  for (let i = 0; i < KEY_BYTES; i++) out[i] = (a[i] as number) ^ (b[i] as number)
  return out
}

/** Compares `d(x, target)` with `d(y, target)` without allocating: <0 when x is closer. */
export function compareDistance (target: Uint8Array, x: Uint8Array, y: Uint8Array): number {
  for (let i = 0; i < KEY_BYTES; i++) {
    const dx = (x[i] as number) ^ (target[i] as number)
    const dy = (y[i] as number) ^ (target[i] as number)
    if (dx !== dy) return dx - dy
  }
  return 0
}

/** Number of leading bits `a` and `b` share (256 when equal). */
export function commonPrefixLength (a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < KEY_BYTES; i++) {
    const x = (a[i] as number) ^ (b[i] as number)
    if (x !== 0) return i * 8 + Math.clz32(x) - 24
  }
  return KEY_BITS
}

/**
 * The bucket of `other` in a table whose local key is `local`: bucket i holds keys at distance in
 * [2^i, 2^(i+1)), so i = 255 - commonPrefixLength (rust-libp2p's numbering). -1 for the local key.
 */
export function bucketIndex (local: Uint8Array, other: Uint8Array): number {
  return KEY_BITS - 1 - commonPrefixLength(local, other)
}

export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

/** Lower-case hex, used as a map key for hashes and preimages. */
export function toHex (b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
}

/**
 * Largest common prefix length for which refresh generates a target (Go `maxCplForRefresh` = 15):
 * finding a preimage whose hash shares exactly c bits with ours takes 2^(c+1) hashes on average,
 * so 15 bounds one refresh target to about 65,000 hashes; deeper buckets are reached by the
 * self-lookup that every refresh starts with.
 */
export const MAX_CPL_FOR_REFRESH = 15

/**
 * A random peer-id-shaped preimage (a sha2-256 multihash) whose hash shares exactly `cpl` leading
 * bits with `local`. `random(n)` supplies random bytes (the caller's source, so tests can seed it).
 */
export function randomKeyForCpl (local: Uint8Array, cpl: number, random: (n: number) => Uint8Array): KadKey {
  if (cpl < 0 || cpl > MAX_CPL_FOR_REFRESH) throw new RangeError(`cpl must be in [0, ${MAX_CPL_FOR_REFRESH}], got ${cpl}`)
  const preimage = new Uint8Array(34)
  preimage[0] = 0x12
  preimage[1] = 32
  // 2^(cpl+1) expected tries; 64x that gives a failure probability below e^-64.
  const maxTries = 64 * 2 ** (cpl + 1)
  for (let i = 0; i < maxTries; i++) {
    preimage.set(random(32), 2)
    const hash = sha256(preimage)
    if (commonPrefixLength(local, hash) === cpl) return { preimage: Uint8Array.from(preimage), hash }
  }
  throw new Error(`no key with cpl ${cpl} after ${maxTries} tries: the random source is not random`)
}
