/**
 * S/Kademlia disjoint lookup paths (Baumgart & Mies, "S/Kademlia: A Practicable Approach Towards
 * Secure Key-Based Routing", 2007, §4.4; rust-libp2p's `ClosestDisjointPeersIter`).
 *
 * d = α independent lookups run side by side. The known closest peers are dealt round-robin to the
 * paths; each path continues only from the peers its own responses return; and a peer belongs to
 * the first path that contacts it: no other path ever contacts it (it counts as failed there). An
 * adversary holding a region of the keyspace must therefore sit on every path to hide the target.
 * This is stricter than rust-libp2p, which starts every path from all known peers and lets a path
 * count another path's peer as answered (without its closer peers); here no peer ever appears on
 * two paths, the S/Kademlia definition. Each path keeps the full parallelism, as in Rust, so up to
 * d·α requests are in flight (the seed: "roughly α × k peers contacted").
 *
 * The lookup ends when every path has ended; the result is the union of the paths' results,
 * closest first, at most numResults.
 */
import type { PeerId } from '../../../identity/peer-id.ts'
import { compareDistance, keyFromPeer } from '../kbucket/key.ts'
import { ClosestPeersIter, type ClosestPeersConfig, type IterState, type QueryPeersIter } from './closest.ts'

export class ClosestDisjointPeersIter implements QueryPeersIter {
  readonly target: Uint8Array
  readonly paths: ClosestPeersIter[]
  /** Peer → index of the path that contacted it. */
  private readonly claimedBy = new Map<string, number>()
  private readonly numResults: number
  private cancelled = false

  constructor (target: Uint8Array, knownClosest: readonly PeerId[], config: ClosestPeersConfig, numPaths: number, exclude: readonly PeerId[] = []) {
    if (numPaths < 1) throw new RangeError('numPaths must be ≥ 1')
    this.target = target
    this.numResults = config.numResults
    const perPath: PeerId[][] = Array.from({ length: numPaths }, () => [])
    knownClosest.forEach((p, i) => { (perPath[i % numPaths] as PeerId[]).push(p) })
    this.paths = perPath.map((initial, index) => {
      const it = new ClosestPeersIter(target, initial, config, exclude)
      it.canContact = (peer) => {
        const id = peer.toString()
        const owner = this.claimedBy.get(id)
        if (owner !== undefined && owner !== index) return false
        this.claimedBy.set(id, index)
        return true
      }
      return it
    })
  }

  get isFinished (): boolean { return this.cancelled || this.paths.every(p => p.isFinished) }

  get requests (): number { return this.paths.reduce((n, p) => n + p.requests, 0) }

  /** The path that contacted `peer`, if any. */
  pathOf (peer: PeerId): number | undefined { return this.claimedBy.get(peer.toString()) }

  next (now: number): IterState {
    if (this.cancelled) return { state: 'finished', reason: 'cancelled' }
    const contact: PeerId[] = []
    let timedOut = false
    for (const p of this.paths) {
      const s = p.next(now)
      if (s.state === 'contact') contact.push(...s.peers)
      else if (s.state === 'finished' && s.reason === 'timeout') timedOut = true
    }
    if (contact.length > 0) return { state: 'contact', peers: contact }
    if (this.paths.every(p => p.isFinished)) return { state: 'finished', reason: timedOut ? 'timeout' : 'converged' }
    return { state: 'waiting' }
  }

  onSuccess (peer: PeerId, closerPeers: readonly PeerId[]): boolean {
    const path = this.claimedBy.get(peer.toString())
    if (path === undefined || this.cancelled) return false
    return (this.paths[path] as ClosestPeersIter).onSuccess(peer, closerPeers)
  }

  onFailure (peer: PeerId): boolean {
    const path = this.claimedBy.get(peer.toString())
    if (path === undefined || this.cancelled) return false
    return (this.paths[path] as ClosestPeersIter).onFailure(peer)
  }

  finish (): void {
    this.cancelled = true
    for (const p of this.paths) p.finish()
  }

  result (): PeerId[] {
    const seen = new Set<string>()
    const all: Array<{ peer: PeerId, hash: Uint8Array }> = []
    for (const p of this.paths) {
      for (const peer of p.result()) {
        const id = peer.toString()
        if (seen.has(id)) continue
        seen.add(id)
        all.push({ peer, hash: keyFromPeer(peer).hash })
      }
    }
    all.sort((a, b) => compareDistance(this.target, a.hash, b.hash))
    return all.slice(0, this.numResults).map(x => x.peer)
  }

  nextDeadline (): number | undefined {
    let min: number | undefined
    for (const p of this.paths) {
      const d = p.nextDeadline()
      if (d !== undefined && (min === undefined || d < min)) min = d
    }
    return min
  }
}
