/**
 * Admission checks before a peer enters the routing table (go-libp2p-kad-dht's `lookupCheck`):
 * the candidate must answer a FIND_NODE before it is inserted, which keeps unreachable peers and
 * peers that only dialled us out of the table. At most `concurrency` checks run at once
 * (Go `LookupCheckConcurrency` = 256); further candidates wait in a bounded FIFO.
 *
 * Pure: the behaviour takes work with `start(now)`, runs the FIND_NODE, and reports with
 * `finish(peer, ok)`; `expire(now)` fails checks whose deadline passed.
 */
import type { Multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '../../../identity/peer-id.ts'

/**
 * Candidates that may wait for a check slot. 4x Go's concurrency: a startup burst of connections
 * (a bootstrap returns k peers per response, α responses at once) fits, while a flood of inbound
 * connections cannot grow the queue without bound; the oldest waiting candidate is dropped.
 */
export const MAX_ADMISSION_QUEUE = 1024

export interface AdmissionCandidate {
  peer: PeerId
  addrs: Multiaddr[]
}

export class AdmissionQueue {
  private readonly waiting = new Map<string, AdmissionCandidate>()
  private readonly running = new Map<string, { candidate: AdmissionCandidate, deadline: number }>()
  dropped = 0

  constructor (private readonly concurrency: number, private readonly timeout: number) {}

  get inFlight (): number { return this.running.size }
  get queued (): number { return this.waiting.size }

  /** Queues a candidate unless it is already queued or being checked. Returns false if it was ignored. */
  enqueue (peer: PeerId, addrs: readonly Multiaddr[]): boolean {
    const id = peer.toString()
    if (this.running.has(id)) return false
    const existing = this.waiting.get(id)
    if (existing !== undefined) {
      for (const a of addrs) if (!existing.addrs.some(x => x.equals(a))) existing.addrs.push(a)
      return false
    }
    if (this.waiting.size >= MAX_ADMISSION_QUEUE) {
      const oldest = this.waiting.keys().next().value as string
      this.waiting.delete(oldest)
      this.dropped++
    }
    this.waiting.set(id, { peer, addrs: [...addrs] })
    return true
  }

  /** Candidates to check now (moves them to running), never exceeding the concurrency. */
  start (now: number): AdmissionCandidate[] {
    const out: AdmissionCandidate[] = []
    for (const [id, c] of this.waiting) {
      if (this.running.size >= this.concurrency) break
      this.waiting.delete(id)
      this.running.set(id, { candidate: c, deadline: now + this.timeout })
      out.push(c)
    }
    return out
  }

  /** The check of `peer` ended; returns the candidate if it passed and was being checked. */
  finish (peer: PeerId, ok: boolean): AdmissionCandidate | undefined {
    const id = peer.toString()
    const r = this.running.get(id)
    if (r === undefined) return undefined
    this.running.delete(id)
    return ok ? r.candidate : undefined
  }

  /** Fails the checks whose deadline passed; returns their peers. */
  expire (now: number): PeerId[] {
    const out: PeerId[] = []
    for (const [id, r] of this.running) {
      if (r.deadline <= now) { this.running.delete(id); out.push(r.candidate.peer) }
    }
    return out
  }

  isPending (peer: PeerId): boolean {
    const id = peer.toString()
    return this.waiting.has(id) || this.running.has(id)
  }

  cancel (peer: PeerId): void {
    const id = peer.toString()
    this.waiting.delete(id)
    this.running.delete(id)
  }

  nextDeadline (): number | undefined {
    let min: number | undefined
    for (const r of this.running.values()) if (min === undefined || r.deadline < min) min = r.deadline
    return min
  }
}
