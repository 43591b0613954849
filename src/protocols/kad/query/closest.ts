/**
 * The iterative lookup as a pure state machine (rust-libp2p's `ClosestPeersIter`, with
 * go-libp2p-kad-dht's β termination). It reads no clock and does no I/O: the caller asks
 * `next(now)` which peers to contact, sends the requests, and reports each outcome with
 * `onSuccess(peer, closerPeers)` or `onFailure(peer)`.
 *
 * Call order: `next(now)` → for each returned peer, eventually `onSuccess`/`onFailure` → `next`
 * again (at the latest at `nextDeadline()`). `finish()` ends it early (cancellation, quorum).
 *
 * Rules (Kademlia paper §2.3, "node lookup"):
 *  - at most α requests are in flight; a request past `peerTimeout` stops counting against α
 *    (the peer is "unresponsive", as in Rust) but a late answer is still accepted;
 *  - the lookup ends when the β closest peers that have not failed have all answered (Go's
 *    `Resiliency`); with β = replication factor this is Rust's rule ("the k closest have
 *    answered"); or when no peer is left to contact and none is in flight; or at the query deadline;
 *  - the result is the `numResults` closest peers not known to have failed: answered, in flight
 *    or not yet contacted (Go's `GetClosestNInStates(Heard, Waiting, Queried)`). With β = k this is
 *    exactly the k closest that answered (the lookup only converges once they have); with β < k it
 *    still names k peers, so a put or provide reaches k peers although only β were awaited.
 */
import type { PeerId } from '../../../identity/peer-id.ts'
import { compareDistance, keyFromPeer } from '../kbucket/key.ts'

/**
 * Most peers one lookup keeps track of. A lookup contacts O(α·log n) peers and learns at most
 * k = 20 from each, so even in a 10^7-peer network (log2 ≈ 23 rounds) it learns about
 * 10·23·20 ≈ 4,600 ids, most of them far from the target; the 1,000 closest are all a converging
 * lookup can use. Beyond it the farthest not-in-flight peer is dropped: memory per query is bounded.
 */
export const MAX_PEERS_PER_QUERY = 1000

export type PeerState = 'notContacted' | 'waiting' | 'unresponsive' | 'succeeded' | 'failed'

export interface ClosestPeersConfig {
  /** α: requests in flight at once. */
  parallelism: number
  /** β: closest non-failed peers that must have answered to end the lookup. */
  resiliency: number
  /** How many closest answering peers the result holds (Rust's replication factor, Go's k). */
  numResults: number
  /** Per-request timeout (ms) after which a peer stops counting against α. */
  peerTimeout: number
  /** Absolute deadline of the whole lookup (ms), or undefined. */
  deadline?: number
  /**
   * Go's `runLookupWithFollowup`: once β converged, also ask every peer among the `numResults`
   * closest that was not contacted yet (without walking on from their answers). Used for record
   * and provider lookups, so holders among the k closest are not skipped by an early β stop.
   */
  followup?: boolean
}

export type IterState =
  | { state: 'contact', peers: PeerId[] }
  | { state: 'waiting' }
  | { state: 'finished', reason: 'converged' | 'exhausted' | 'timeout' | 'cancelled' }

interface Entry {
  peer: PeerId
  hash: Uint8Array
  state: PeerState
  deadline: number
}

export interface QueryPeersIter {
  next(now: number): IterState
  onSuccess(peer: PeerId, closerPeers: readonly PeerId[]): boolean
  onFailure(peer: PeerId): boolean
  finish(): void
  readonly isFinished: boolean
  /** The closest peers not known to have failed, closest first (at most numResults). */
  result(): PeerId[]
  nextDeadline(): number | undefined
  /** Requests sent so far (for metrics: messages per lookup). */
  readonly requests: number
}

export class ClosestPeersIter implements QueryPeersIter {
  readonly target: Uint8Array
  private readonly config: ClosestPeersConfig
  /** Sorted by distance to the target, closest first. */
  private readonly peers: Entry[] = []
  private readonly byId = new Map<string, Entry>()
  private inFlight = 0
  private finishedReason: 'converged' | 'exhausted' | 'timeout' | 'cancelled' | undefined
  requests = 0
  /** Optional veto: may this peer be contacted now? (disjoint paths claim peers through it). */
  canContact: ((peer: PeerId) => boolean) | undefined
  /** Peers never to add (the local node). */
  private readonly exclude: Set<string>

  constructor (target: Uint8Array, knownClosest: readonly PeerId[], config: ClosestPeersConfig, exclude: readonly PeerId[] = []) {
    if (config.parallelism < 1 || config.numResults < 1 || config.resiliency < 1) throw new RangeError('parallelism, numResults and resiliency must be ≥ 1')
    this.target = target
    this.config = config
    this.exclude = new Set(exclude.map(p => p.toString()))
    this.addPeers(knownClosest)
  }

  get isFinished (): boolean { return this.finishedReason !== undefined }

  /** States of every tracked peer, closest first (tests, debugging). */
  states (): Array<{ peer: PeerId, state: PeerState }> {
    return this.peers.map(e => ({ peer: e.peer, state: e.state }))
  }

  next (now: number): IterState {
    if (this.finishedReason !== undefined) return { state: 'finished', reason: this.finishedReason }
    if (this.config.deadline !== undefined && now >= this.config.deadline) return this.end('timeout')
    // Requests past their timeout stop holding a slot.
    for (const e of this.peers) {
      if (e.state === 'waiting' && now >= e.deadline) { e.state = 'unresponsive'; this.inFlight-- }
    }
    if (this.followupSet !== undefined || this.converged()) {
      if (this.config.followup !== true) return this.end('converged')
      return this.nextFollowup(now)
    }
    const contact: PeerId[] = []
    // Peers closer than the current one that answered or may still answer.
    let live = 0
    for (const e of this.peers) {
      if (this.inFlight >= this.config.parallelism) break
      if (e.state === 'succeeded' || e.state === 'waiting') { live++; continue }
      if (e.state !== 'notContacted') continue
      // Never contact beyond the numResults-th closest peer that may still answer: such a peer
      // cannot enter the result (Rust stops its walk there too).
      if (live >= this.config.numResults) break
      if (this.canContact !== undefined && !this.canContact(e.peer)) { e.state = 'failed'; continue }
      e.state = 'waiting'
      e.deadline = now + this.config.peerTimeout
      this.inFlight++
      this.requests++
      live++
      contact.push(e.peer)
    }
    if (contact.length > 0) return { state: 'contact', peers: contact }
    // Nothing to send and nothing counted in flight: only unresponsive peers could still answer,
    // and Rust ends here too (its `num_waiting` excludes them).
    if (this.inFlight === 0) return this.end('exhausted')
    return { state: 'waiting' }
  }

  onSuccess (peer: PeerId, closerPeers: readonly PeerId[]): boolean {
    if (this.finishedReason !== undefined) return false
    const e = this.byId.get(peer.toString())
    if (e === undefined || (e.state !== 'waiting' && e.state !== 'unresponsive')) return false
    if (e.state === 'waiting') this.inFlight--
    e.state = 'succeeded'
    this.addPeers(closerPeers)
    return true
  }

  onFailure (peer: PeerId): boolean {
    if (this.finishedReason !== undefined) return false
    const e = this.byId.get(peer.toString())
    if (e === undefined || (e.state !== 'waiting' && e.state !== 'unresponsive')) return false
    if (e.state === 'waiting') this.inFlight--
    e.state = 'failed'
    return true
  }

  finish (): void {
    if (this.finishedReason === undefined) this.end('cancelled')
  }

  result (): PeerId[] {
    const out: PeerId[] = []
    for (const e of this.peers) {
      if (e.state === 'failed' || e.state === 'unresponsive') continue
      out.push(e.peer)
      if (out.length >= this.config.numResults) break
    }
    return out
  }

  nextDeadline (): number | undefined {
    if (this.finishedReason !== undefined) return undefined
    let min = this.config.deadline
    for (const e of this.peers) if (e.state === 'waiting' && (min === undefined || e.deadline < min)) min = e.deadline
    return min
  }

  /** Whether the peer is tracked and in which state. */
  stateOf (peer: PeerId): PeerState | undefined {
    return this.byId.get(peer.toString())?.state
  }

  // ---- internals ---------------------------------------------------------------------------

  /** Peers still to ask in the follow-up phase (ids), fixed when it starts. */
  private followupSet: Set<string> | undefined

  private nextFollowup (now: number): IterState {
    if (this.followupSet === undefined) {
      this.followupSet = new Set()
      let n = 0
      for (const e of this.peers) {
        if (e.state === 'failed' || e.state === 'unresponsive') continue
        if (++n > this.config.numResults) break
        if (e.state === 'notContacted') this.followupSet.add(e.peer.toString())
      }
    }
    const contact: PeerId[] = []
    for (const id of this.followupSet) {
      if (this.inFlight >= this.config.parallelism) break
      const e = this.byId.get(id)
      this.followupSet.delete(id)
      if (e === undefined || e.state !== 'notContacted') continue
      if (this.canContact !== undefined && !this.canContact(e.peer)) { e.state = 'failed'; continue }
      e.state = 'waiting'
      e.deadline = now + this.config.peerTimeout
      this.inFlight++
      this.requests++
      contact.push(e.peer)
    }
    if (contact.length > 0) return { state: 'contact', peers: contact }
    if (this.inFlight === 0 && this.followupSet.size === 0) return this.end('converged')
    return { state: 'waiting' }
  }

  private end (reason: 'converged' | 'exhausted' | 'timeout' | 'cancelled'): IterState {
    this.finishedReason = reason
    return { state: 'finished', reason }
  }

  /** The β (at most numResults) closest peers that did not fail have all answered. */
  private converged (): boolean {
    const need = Math.min(this.config.resiliency, this.config.numResults)
    let seen = 0
    for (const e of this.peers) {
      if (e.state === 'failed' || e.state === 'unresponsive') continue
      if (e.state !== 'succeeded') return false
      if (++seen >= need) return true
    }
    return false
  }

  private addPeers (peers: readonly PeerId[]): void {
    for (const peer of peers) {
      const id = peer.toString()
      if (this.byId.has(id) || this.exclude.has(id)) continue
      const e: Entry = { peer, hash: keyFromPeer(peer).hash, state: 'notContacted', deadline: 0 }
      // Binary search for the insertion point.
      let lo = 0
      let hi = this.peers.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (compareDistance(this.target, (this.peers[mid] as Entry).hash, e.hash) < 0) lo = mid + 1
        else hi = mid
      }
      if (lo >= MAX_PEERS_PER_QUERY) continue
      this.peers.splice(lo, 0, e)
      this.byId.set(id, e)
      if (this.peers.length > MAX_PEERS_PER_QUERY) {
        // Drop the farthest peer that is not in flight.
        for (let i = this.peers.length - 1; i >= 0; i--) {
          const x = this.peers[i] as Entry
          if (x.state === 'notContacted' || x.state === 'failed') {
            this.peers.splice(i, 1)
            this.byId.delete(x.peer.toString())
            break
          }
        }
      }
    }
  }
}
