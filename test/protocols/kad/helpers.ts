import { PeerId } from '../../../src/identity/peer-id.ts'
import type { Rng } from './rng.ts'

/** A random peer id (a sha2-256 multihash, as RSA/ECDSA peer ids are). */
export function randomPeerId (rng: Rng): PeerId {
  const mh = new Uint8Array(34)
  mh[0] = 0x12; mh[1] = 32
  mh.set(rng.bytes(32), 2)
  return PeerId.fromBytes(mh)
}
