/**
 * Peer records (libp2p/specs RFC 0003): a peer's addresses with a sequence number, signed by the
 * peer inside an envelope (domain `libp2p-peer-record`, payload type the multicodec
 * `libp2p-peer-record` 0x0301, as uvarint bytes 0x03 0x01).
 *
 *   message PeerRecord {
 *     message AddressInfo { bytes multiaddr = 1; }
 *     bytes peer_id = 1; uint64 seq = 2; repeated AddressInfo addresses = 3;
 *   }
 */
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { reader, writer } from 'protons-runtime'
import { PeerId } from '../../identity/peer-id.ts'
import type { PrivateKey } from '../../identity/types.ts'
import { encodeEnvelope, EnvelopeError, openEnvelope, sealEnvelope } from './envelope.ts'

export const PEER_RECORD_DOMAIN = 'libp2p-peer-record'
/** Multicodec `libp2p-peer-record` (0x0301) as an unsigned varint. */
export const PEER_RECORD_PAYLOAD_TYPE = Uint8Array.from([0x03, 0x01])
/** Addresses kept from a received record; more are ignored (same bound as the address book). */
export const MAX_PEER_RECORD_ADDRESSES = 32

export interface PeerRecord {
  peerId: PeerId
  seq: bigint
  addresses: Multiaddr[]
}

export function encodePeerRecord (r: PeerRecord): Uint8Array {
  const w = writer()
  w.uint32(10).bytes(r.peerId.bytes)
  w.uint32(16).uint64(r.seq)
  for (const a of r.addresses) w.uint32(26).fork().uint32(10).bytes(a.bytes).ldelim()
  return w.finish()
}

export function decodePeerRecord (bytes: Uint8Array): PeerRecord {
  let peerId: PeerId | undefined
  let seq = 0n
  const addresses: Multiaddr[] = []
  try {
    const r = reader(bytes)
    while (r.pos < r.len) {
      const tag = r.uint32()
      switch (tag >>> 3) {
        case 1: peerId = PeerId.fromBytes(r.bytes()); break
        case 2: seq = r.uint64(); break
        case 3: {
          const info = reader(r.bytes())
          while (info.pos < info.len) {
            const t = info.uint32()
            if (t >>> 3 === 1) {
              const raw = info.bytes()
              if (addresses.length < MAX_PEER_RECORD_ADDRESSES) {
                try { addresses.push(multiaddr(raw)) } catch { /* an address we cannot parse is skipped */ }
              }
            } else info.skipType(t & 7)
          }
          break
        }
        default: r.skipType(tag & 7)
      }
    }
  } catch (err) {
    throw new EnvelopeError('malformed peer record', { cause: err })
  }
  if (peerId === undefined) throw new EnvelopeError('peer record lacks a peer id')
  return { peerId, seq, addresses }
}

/** Signs a record of `key`'s own peer: the bytes to put in identify's `signedPeerRecord`. */
export function signPeerRecord (key: PrivateKey, seq: bigint, addresses: readonly Multiaddr[]): Uint8Array {
  const peerId = PeerId.fromPublicKeyProtobuf(key.publicKey.toProtobuf())
  const payload = encodePeerRecord({ peerId, seq, addresses: [...addresses] })
  return encodeEnvelope(sealEnvelope(key, PEER_RECORD_DOMAIN, PEER_RECORD_PAYLOAD_TYPE, payload))
}

/** Verifies a signed peer record; the record's peer must be the signer. */
export function openPeerRecord (bytes: Uint8Array): PeerRecord {
  const e = openEnvelope(bytes, PEER_RECORD_DOMAIN, PEER_RECORD_PAYLOAD_TYPE)
  const record = decodePeerRecord(e.payload)
  if (!record.peerId.equals(e.signer)) throw new EnvelopeError('peer record is signed by another peer')
  return record
}

/**
 * Verified records remembered by `PeerRecordCache`. Verifying costs one signature check (an
 * Ed25519 verify is milliseconds in pure JS); a peer sends the same record on every connection and
 * every identify round, so a node with many connections to few peers verifies each record once.
 * 1024 records of ~300 bytes is ~0.5 MiB at most.
 */
export const PEER_RECORD_CACHE_SIZE = 1024

/** `openPeerRecord` with a bounded LRU of records already verified, keyed by their exact bytes. */
export class PeerRecordCache {
  private readonly entries = new Map<string, PeerRecord>()
  private readonly size: number

  constructor (size = PEER_RECORD_CACHE_SIZE) {
    this.size = size
  }

  open (bytes: Uint8Array): PeerRecord {
    const key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
    const hit = this.entries.get(key)
    if (hit !== undefined) {
      this.entries.delete(key)
      this.entries.set(key, hit)
      return hit
    }
    const record = openPeerRecord(bytes)
    if (this.entries.size >= this.size) {
      const oldest = this.entries.keys().next()
      if (oldest.done !== true) this.entries.delete(oldest.value)
    }
    this.entries.set(key, record)
    return record
  }
}
