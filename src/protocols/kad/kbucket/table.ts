/**
 * The Kademlia routing table.
 *
 * Implementation notes
 * --------------------
 * Maymounkov & Mazières, "Kademlia: A Peer-to-peer Information System Based on the XOR Metric"
 * (IPTPS 2002):
 *  - §2.2: for each 0 ≤ i < 160 (here 256, the SHA-256 width) a node keeps a list, the k-bucket, of
 *    contacts at distance [2^i, 2^(i+1)) from itself, at most k of them, sorted by time last seen,
 *    least-recently seen at the head. We keep 256 fixed buckets (rust-libp2p's layout) rather than
 *    the paper's §2.4 split-on-demand tree: the result is the same set of contacts, and an index is
 *    one count-leading-zeros.
 *  - §2.2: when a contact is seen again it moves to the tail. When a new contact arrives at a full
 *    bucket the paper pings the least-recently seen one and keeps it if it answers ("live nodes are
 *    never removed"), because uptime predicts further uptime. rust-libp2p implements that as a
 *    *pending entry*: the newcomer waits `pendingTimeout`; if the head (a disconnected entry) has not
 *    reconnected by then, the newcomer replaces it, otherwise the newcomer is dropped. We do the same.
 *    Entries are connected or disconnected; disconnected entries sit before connected ones, so the
 *    head is always the best eviction candidate.
 *  - Go (go-libp2p-kbucket) adds: a peer whose measured RTT exceeds the latency tolerance is
 *    evicted at once for a newcomer (`RoutingTableLatencyTolerance`); a diversity filter; and a
 *    user filter. Both are here as `latencyTolerance`, `DiversityFilter`, `routingTableFilter`.
 *  - §2.3 (bucket refresh): a bucket not looked up within an hour is refreshed by a lookup of a
 *    random key in its range. `bucketsToRefresh(now)` says which (Go's `RoutingTableRefreshPeriod`,
 *    bounded by `MAX_CPL_FOR_REFRESH` as Go does).
 *
 * Everything here is pure: no I/O, no timers; time is the `now` argument (ms). The behaviour does
 * the pinging/dialing and reports back with `update`/`setDisconnected`/`remove`.
 */
import type { Multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '../../../identity/peer-id.ts'
import type { IpDiversityConfig, PeerFilter } from '../config.ts'
import { DiversityFilter } from './diversity.ts'
import { bucketIndex, compareDistance, KEY_BITS, keyFromPeer, MAX_CPL_FOR_REFRESH } from './key.ts'

export type EntryStatus = 'connected' | 'disconnected'

export interface TableEntry {
  readonly peer: PeerId
  /** SHA-256 of the peer id. */
  readonly hash: Uint8Array
  addrs: Multiaddr[]
  status: EntryStatus
  /** When the entry was inserted (ms). */
  addedAt: number
  /** Last time we heard from the peer (ms). */
  lastSeen: number
  /** Last measured round-trip time (ms), if any. */
  rtt: number | undefined
}

interface PendingEntry {
  entry: TableEntry
  /** When the pending entry may replace the bucket's head (ms). */
  readyAt: number
}

export interface RoutingTableOptions {
  kBucketSize: number
  pendingTimeout: number
  latencyTolerance: number
  ipDiversity: IpDiversityConfig | null
  routingTableFilter: PeerFilter | null
}

export type UpdateResult =
  | { type: 'inserted', bucket: number }
  | { type: 'updated', bucket: number }
  /** Inserted in place of a peer slower than the latency tolerance (Go). */
  | { type: 'replaced', bucket: number, evicted: PeerId }
  /** The bucket is full; the newcomer waits for `disconnected` (the head) to stay away until `readyAt`. */
  | { type: 'pending', bucket: number, disconnected: PeerId, readyAt: number }
  | { type: 'full', bucket: number }
  | { type: 'rejected', reason: 'self' | 'filter' | 'diversity', detail?: string }

/** An applied pending entry: `inserted` took the place of `evicted`. */
export interface AppliedPending {
  bucket: number
  inserted: PeerId
  evicted: PeerId
}

export class RoutingTable {
  readonly local: PeerId
  readonly localHash: Uint8Array
  private readonly buckets: TableEntry[][] = Array.from({ length: KEY_BITS }, () => [])
  private readonly pending: Array<PendingEntry | undefined> = new Array(KEY_BITS).fill(undefined)
  /** Peer id text → entry, for O(1) lookups. */
  private readonly index = new Map<string, TableEntry>()
  /** Last time each bucket was refreshed (a lookup for a key in it ran, or a peer was added). */
  private readonly refreshedAt: number[] = new Array(KEY_BITS).fill(Number.NEGATIVE_INFINITY)
  private readonly diversity: DiversityFilter | undefined
  private readonly opts: RoutingTableOptions

  constructor (local: PeerId, opts: RoutingTableOptions, now = 0) {
    this.local = local
    this.localHash = keyFromPeer(local).hash
    this.opts = opts
    this.diversity = opts.ipDiversity === null ? undefined : new DiversityFilter(opts.ipDiversity)
    this.refreshedAt.fill(now)
  }

  get size (): number { return this.index.size }

  has (peer: PeerId): boolean { return this.index.has(peer.toString()) }

  get (peer: PeerId): TableEntry | undefined { return this.index.get(peer.toString()) }

  bucketOf (hash: Uint8Array): number { return bucketIndex(this.localHash, hash) }

  /** Entries of every bucket, for metrics and tests. */
  bucketSizes (): number[] { return this.buckets.map(b => b.length) }

  *entries (): Iterable<TableEntry> {
    for (const b of this.buckets) yield * b
  }

  /**
   * A peer was seen (`connected`) or an address was learned for it (`disconnected`, e.g. from
   * `addAddress`). Inserts, updates, or parks the peer as pending for a full bucket.
   */
  update (peer: PeerId, addrs: readonly Multiaddr[], status: EntryStatus, now: number): UpdateResult {
    if (peer.equals(this.local)) return { type: 'rejected', reason: 'self' }
    const id = peer.toString()
    const existing = this.index.get(id)
    if (existing !== undefined) {
      const bucket = this.bucketOf(existing.hash)
      mergeAddrs(existing, addrs)
      if (status === 'connected') {
        existing.lastSeen = now
        // Seen again: to the tail (paper §2.2). If it was the disconnected head a newcomer was
        // waiting on, `applyPending` now finds a connected head (or another disconnected one).
        this.moveToTail(bucket, existing, 'connected')
      }
      return { type: 'updated', bucket }
    }
    const entry: TableEntry = { peer, hash: keyFromPeer(peer).hash, addrs: [...addrs], status, addedAt: now, lastSeen: now, rtt: undefined }
    const bucket = this.bucketOf(entry.hash)
    if (this.opts.routingTableFilter !== null && !this.opts.routingTableFilter(peer, addrs)) {
      return { type: 'rejected', reason: 'filter' }
    }
    if (this.diversity !== undefined) {
      const verdict = this.diversity.check(addrs, bucket)
      if (!verdict.ok) return { type: 'rejected', reason: 'diversity', detail: `${verdict.group} full in ${verdict.scope}` }
    }
    const list = this.buckets[bucket] as TableEntry[]
    if (list.length < this.opts.kBucketSize) {
      this.insert(bucket, entry, now)
      return { type: 'inserted', bucket }
    }
    // Full bucket. Go: evict the slowest peer above the latency tolerance.
    let slow: TableEntry | undefined
    for (const e of list) if (e.rtt !== undefined && e.rtt > this.opts.latencyTolerance && (slow === undefined || e.rtt > (slow.rtt as number))) slow = e
    if (slow !== undefined) {
      this.removeEntry(bucket, slow)
      this.insert(bucket, entry, now)
      return { type: 'replaced', bucket, evicted: slow.peer }
    }
    // Rust / paper: park the newcomer while the disconnected head gets its chance to come back.
    const head = list[0] as TableEntry
    if (head.status === 'disconnected') {
      const current = this.pending[bucket]
      if (current === undefined || current.readyAt <= now || current.entry.peer.equals(peer)) {
        const readyAt = current?.entry.peer.equals(peer) === true ? current.readyAt : now + this.opts.pendingTimeout
        this.pending[bucket] = { entry, readyAt }
        return { type: 'pending', bucket, disconnected: head.peer, readyAt }
      }
    }
    return { type: 'full', bucket }
  }

  /** A connected entry lost its last connection: it moves to the disconnected (head) section. */
  setDisconnected (peer: PeerId): void {
    const e = this.index.get(peer.toString())
    if (e === undefined || e.status === 'disconnected') return
    this.moveToTail(this.bucketOf(e.hash), e, 'disconnected')
  }

  /** Records a measured round-trip time (ms), used for latency eviction. */
  recordRtt (peer: PeerId, rtt: number): void {
    const e = this.index.get(peer.toString())
    if (e !== undefined) e.rtt = rtt
  }

  remove (peer: PeerId): TableEntry | undefined {
    const e = this.index.get(peer.toString())
    if (e === undefined) return undefined
    const bucket = this.bucketOf(e.hash)
    this.removeEntry(bucket, e)
    // A waiting newcomer takes the freed slot at once.
    const p = this.pending[bucket]
    if (p !== undefined) {
      this.pending[bucket] = undefined
      this.insertChecked(bucket, p.entry, p.entry.lastSeen)
    }
    return e
  }

  /**
   * Applies pending entries whose timeout passed: if the head is still disconnected, the newcomer
   * replaces it; if it reconnected, the newcomer is dropped. Returns the replacements made.
   */
  applyPending (now: number): AppliedPending[] {
    const applied: AppliedPending[] = []
    for (let bucket = 0; bucket < KEY_BITS; bucket++) {
      const p = this.pending[bucket]
      if (p === undefined || p.readyAt > now) continue
      this.pending[bucket] = undefined
      const list = this.buckets[bucket] as TableEntry[]
      const head = list[0]
      if (head === undefined || list.length < this.opts.kBucketSize) {
        this.insertChecked(bucket, p.entry, now)
        continue
      }
      if (head.status !== 'disconnected') continue
      this.removeEntry(bucket, head)
      if (this.insertChecked(bucket, p.entry, now)) applied.push({ bucket, inserted: p.entry.peer, evicted: head.peer })
      else this.insert(bucket, head, head.addedAt) // the newcomer no longer passes the filters: keep the head
    }
    return applied
  }

  /** The earliest time a pending entry becomes ready, for the caller's timer. */
  nextPendingDeadline (): number | undefined {
    let min: number | undefined
    for (const p of this.pending) if (p !== undefined && (min === undefined || p.readyAt < min)) min = p.readyAt
    return min
  }

  pendingOf (bucket: number): { peer: PeerId, readyAt: number } | undefined {
    const p = this.pending[bucket]
    return p === undefined ? undefined : { peer: p.entry.peer, readyAt: p.readyAt }
  }

  /**
   * The `count` entries closest to `target` (a 32-byte hash), closest first. `filter` drops
   * entries (Go's query-peer filter). Reads the target's bucket and those below it first, which
   * hold every entry closer than anything above (proof in the body).
   */
  closest (target: Uint8Array, count: number, filter?: (e: TableEntry) => boolean): TableEntry[] {
    if (count <= 0) return []
    const out: TableEntry[] = []
    const push = (list: readonly TableEntry[]): void => {
      for (const e of list) if (filter === undefined || filter(e)) out.push(e)
    }
    const ti = bucketIndex(this.localHash, target)
    if (ti < 0) {
      for (const b of this.buckets) push(b)
    } else {
      // Every key in buckets 0..ti agrees with the target above bit 255-ti, so its distance to the
      // target is below 2^(ti+1); every key in bucket j > ti differs from the target at bit 255-j,
      // so its distance is at least 2^j. Buckets above ti are needed only when those are short.
      push(this.buckets[ti] as TableEntry[])
      for (let i = ti - 1; i >= 0; i--) push(this.buckets[i] as TableEntry[])
      if (out.length < count) for (let i = ti + 1; i < KEY_BITS; i++) push(this.buckets[i] as TableEntry[])
    }
    out.sort((a, b) => compareDistance(target, a.hash, b.hash))
    if (out.length > count) out.length = count
    return out
  }

  /** Marks the bucket of `hash` refreshed at `now` (a lookup for a key in its range ran). */
  markRefreshed (hash: Uint8Array, now: number): void {
    const b = this.bucketOf(hash)
    if (b >= 0) this.refreshedAt[b] = now
  }

  /**
   * Common prefix lengths to refresh now: every cpl from 0 up to one past the deepest non-empty
   * bucket (capped at MAX_CPL_FOR_REFRESH, as Go), whose bucket was not refreshed within `interval`.
   */
  cplsToRefresh (now: number, interval: number): number[] {
    let maxCpl = 0
    for (let b = 0; b < KEY_BITS; b++) if ((this.buckets[b] as TableEntry[]).length > 0) maxCpl = Math.max(maxCpl, KEY_BITS - 1 - b)
    const limit = Math.min(maxCpl + 1, MAX_CPL_FOR_REFRESH)
    const out: number[] = []
    for (let cpl = 0; cpl <= limit; cpl++) {
      if (now - (this.refreshedAt[KEY_BITS - 1 - cpl] as number) >= interval) out.push(cpl)
    }
    return out
  }

  // ---- internals ---------------------------------------------------------------------------

  private insertChecked (bucket: number, entry: TableEntry, now: number): boolean {
    if (this.index.has(entry.peer.toString())) return false
    if (this.opts.routingTableFilter !== null && !this.opts.routingTableFilter(entry.peer, entry.addrs)) return false
    if (this.diversity !== undefined && !this.diversity.check(entry.addrs, bucket).ok) return false
    if ((this.buckets[bucket] as TableEntry[]).length >= this.opts.kBucketSize) return false
    this.insert(bucket, entry, now)
    return true
  }

  private insert (bucket: number, entry: TableEntry, now: number): void {
    const list = this.buckets[bucket] as TableEntry[]
    entry.addedAt = Math.min(entry.addedAt, now)
    if (entry.status === 'connected') list.push(entry)
    else list.splice(firstConnected(list), 0, entry)
    this.index.set(entry.peer.toString(), entry)
    this.diversity?.add(entry.peer.toString(), entry.addrs, bucket)
    this.refreshedAt[bucket] = Math.max(this.refreshedAt[bucket] as number, now)
  }

  private removeEntry (bucket: number, entry: TableEntry): void {
    const list = this.buckets[bucket] as TableEntry[]
    const i = list.indexOf(entry)
    if (i >= 0) list.splice(i, 1)
    this.index.delete(entry.peer.toString())
    this.diversity?.remove(entry.peer.toString())
  }

  /** Moves an entry to the tail of its section: connected at the end, disconnected before the first connected. */
  private moveToTail (bucket: number, entry: TableEntry, status: EntryStatus): void {
    const list = this.buckets[bucket] as TableEntry[]
    const i = list.indexOf(entry)
    if (i >= 0) list.splice(i, 1)
    entry.status = status
    if (status === 'connected') list.push(entry)
    else list.splice(firstConnected(list), 0, entry)
  }
}

function firstConnected (list: readonly TableEntry[]): number {
  const i = list.findIndex(e => e.status === 'connected')
  return i < 0 ? list.length : i
}

/** Maximum addresses remembered per routing-table entry (Rust `MAX_ADDRS`-like bound: 20 addrs cover a multi-homed peer's transports). */
export const MAX_ADDRS_PER_ENTRY = 20

function mergeAddrs (e: TableEntry, addrs: readonly Multiaddr[]): void {
  for (const a of addrs) {
    if (e.addrs.some(x => x.equals(a))) continue
    e.addrs.push(a)
    if (e.addrs.length > MAX_ADDRS_PER_ENTRY) e.addrs.shift()
  }
}

