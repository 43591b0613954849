/**
 * The node's external addresses: candidates (what remotes say they saw, e.g. identify's observed
 * address) and confirmed addresses (set by the user or confirmed by a behaviour such as AutoNAT).
 * As in rust-libp2p, the Swarm never promotes a candidate by itself; it counts observations so a
 * user or behaviour can decide (`candidates()` is sorted by count).
 */
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * Candidates remembered. Each connection may report one observed address; behind a symmetric NAT
 * every connection sees a new port, so the list must be capped. rust-libp2p's identify keeps an
 * LRU of 16 translated candidates per behaviour; 64 leaves room for several transports.
 */
export const DEFAULT_MAX_EXTERNAL_ADDR_CANDIDATES = 64
/** Confirmed external addresses. rust-libp2p caps its `ExternalAddresses` at 20; we follow it. */
export const DEFAULT_MAX_CONFIRMED_EXTERNAL_ADDRS = 20

export interface Candidate { address: Multiaddr, observations: number }

export class ExternalAddresses {
  private readonly candidateMap = new Map<string, Candidate>()
  private readonly confirmedMap = new Map<string, Multiaddr>()
  private readonly maxCandidates: number
  private readonly maxConfirmed: number

  constructor (maxCandidates = DEFAULT_MAX_EXTERNAL_ADDR_CANDIDATES, maxConfirmed = DEFAULT_MAX_CONFIRMED_EXTERNAL_ADDRS) {
    this.maxCandidates = maxCandidates
    this.maxConfirmed = maxConfirmed
  }

  /** Records an observation; returns the candidate (count updated). */
  addCandidate (address: Multiaddr): Candidate {
    const key = address.toString()
    let c = this.candidateMap.get(key)
    if (c === undefined) {
      c = { address, observations: 0 }
      if (this.candidateMap.size >= this.maxCandidates) this.evictLeastObserved()
    } else {
      this.candidateMap.delete(key)
    }
    c.observations++
    this.candidateMap.set(key, c)
    return c
  }

  private evictLeastObserved (): void {
    let victim: string | undefined
    let min = Infinity
    // Oldest first in Map order, so ties evict the oldest.
    for (const [key, c] of this.candidateMap) {
      if (c.observations < min) { min = c.observations; victim = key }
    }
    if (victim !== undefined) this.candidateMap.delete(victim)
  }

  /** Most observed first. */
  candidates (): Candidate[] {
    return [...this.candidateMap.values()].sort((a, b) => b.observations - a.observations)
  }

  /**
   * Marks an address confirmed. Returns false when it already was. When full, the oldest confirmed
   * address is dropped and returned in `evicted` (the Swarm reports it expired).
   */
  confirm (address: Multiaddr): { added: boolean, evicted?: Multiaddr } {
    const key = address.toString()
    if (this.confirmedMap.has(key)) return { added: false }
    let evicted: Multiaddr | undefined
    if (this.confirmedMap.size >= this.maxConfirmed) {
      const oldest = this.confirmedMap.entries().next()
      if (oldest.done !== true) {
        this.confirmedMap.delete(oldest.value[0])
        evicted = oldest.value[1]
      }
    }
    this.confirmedMap.set(key, address)
    return evicted === undefined ? { added: true } : { added: true, evicted }
  }

  expire (address: Multiaddr): boolean {
    return this.confirmedMap.delete(address.toString())
  }

  isConfirmed (address: Multiaddr): boolean {
    return this.confirmedMap.has(address.toString())
  }

  confirmed (): Multiaddr[] {
    return [...this.confirmedMap.values()]
  }
}
