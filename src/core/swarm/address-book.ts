/**
 * Known dialable addresses of remote peers, used when dialing by PeerId. Fed by the user
 * (`swarm.addPeerAddress`), by successful outbound dials, and by behaviours' `newExternalAddrOfPeer`
 * (identify's listen addresses). Bounded in peers and in addresses per peer; the least recently
 * used peer and the oldest address go first.
 */
import type { Multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '../../identity/peer-id.ts'

/**
 * Peers remembered. 10,000 matches the scale target of one Swarm (10k connections); beyond it the
 * least recently touched peer is forgotten (about 32 addresses * 60 bytes + overhead ≈ 2–4 KiB each,
 * so at most ~40 MiB in the pathological full case, usually far less).
 */
export const DEFAULT_ADDRESS_BOOK_MAX_PEERS = 10_000
/**
 * Addresses per peer. Identify lets a peer announce any number; js-libp2p's peer store and most
 * real nodes stay well under 32 (IPv4/IPv6 × TCP/QUIC × a few interfaces).
 */
export const DEFAULT_ADDRESS_BOOK_MAX_ADDRS_PER_PEER = 32

export interface AddressBookOptions {
  maxPeers?: number
  maxAddressesPerPeer?: number
}

interface Entry {
  peerId: PeerId
  /** key (multiaddr string) → address; Map keeps insertion order, oldest first. */
  addrs: Map<string, Multiaddr>
}

export class AddressBook {
  private readonly peers = new Map<string, Entry>()
  private readonly maxPeers: number
  private readonly maxAddrs: number

  constructor (options: AddressBookOptions = {}) {
    this.maxPeers = options.maxPeers ?? DEFAULT_ADDRESS_BOOK_MAX_PEERS
    this.maxAddrs = options.maxAddressesPerPeer ?? DEFAULT_ADDRESS_BOOK_MAX_ADDRS_PER_PEER
  }

  get size (): number { return this.peers.size }

  /** Adds (or refreshes) an address; returns true when it was new. `/p2p/` suffixes are removed. */
  add (peerId: PeerId, addr: Multiaddr): boolean {
    const key = peerId.toString()
    let entry = this.peers.get(key)
    if (entry === undefined) {
      entry = { peerId, addrs: new Map() }
      if (this.peers.size >= this.maxPeers) {
        const oldest = this.peers.keys().next()
        if (oldest.done !== true) this.peers.delete(oldest.value)
      }
    } else {
      this.peers.delete(key)
    }
    this.peers.set(key, entry)
    const bare = stripP2p(addr)
    const addrKey = bare.toString()
    const isNew = !entry.addrs.has(addrKey)
    entry.addrs.delete(addrKey)
    entry.addrs.set(addrKey, bare)
    if (entry.addrs.size > this.maxAddrs) {
      const oldest = entry.addrs.keys().next()
      if (oldest.done !== true) entry.addrs.delete(oldest.value)
    }
    return isNew
  }

  remove (peerId: PeerId, addr?: Multiaddr): boolean {
    const key = peerId.toString()
    if (addr === undefined) return this.peers.delete(key)
    const entry = this.peers.get(key)
    if (entry === undefined) return false
    const removed = entry.addrs.delete(stripP2p(addr).toString())
    if (entry.addrs.size === 0) this.peers.delete(key)
    return removed
  }

  /** Newest first: the most recently confirmed address is the best guess. */
  get (peerId: PeerId): Multiaddr[] {
    const entry = this.peers.get(peerId.toString())
    if (entry === undefined) return []
    return [...entry.addrs.values()].reverse()
  }

  peerIds (): PeerId[] {
    return [...this.peers.values()].map(e => e.peerId)
  }
}

/** Multiaddr protocol code of `/p2p/`. */
const CODE_P2P = 421

/** The address without a trailing `/p2p/<id>` (and the id, when present). */
export function splitP2p (addr: Multiaddr): { address: Multiaddr, peerIdText: string | undefined } {
  const components = addr.getComponents()
  const last = components[components.length - 1]
  if (last === undefined || last.code !== CODE_P2P) return { address: addr, peerIdText: undefined }
  return { address: addr.decapsulateCode(CODE_P2P), peerIdText: last.value }
}

export function stripP2p (addr: Multiaddr): Multiaddr {
  return splitP2p(addr).address
}
