/**
 * A persistent RecordStore over LMDB (the `lmdb` npm package, lmdb-js): a memory-mapped B+tree,
 * so reads are synchronous page-cache reads with no copy of the store on the JS heap, and a
 * restart opens the file without replaying anything. Measured against the journal and
 * classic-level in bench/kad/store.md; it is the default store of a node with a data directory.
 *
 * lmdb-js reads are synchronous and writes are asynchronous: every put/remove issued in one
 * event-loop turn is committed in one transaction on a worker thread. A write is not visible to
 * `get` until its transaction commits, so writes also go to an overlay (key → pending value) that
 * reads and scans consult first; an overlay entry leaves when its own write has committed.
 * `flush()` waits until everything is committed and synced to disk, and reports a failed commit.
 * The overlay holds at most the writes of the transactions not yet committed (in practice one
 * event-loop turn's).
 *
 * Layout: one database, binary keys, binary values (codec.ts):
 *   'r' key                       → record
 *   'p' key                       → provider list of the key (oldest first, ≤ maxProvidersPerKey)
 *   'x' u64be(floor(expires)) 'r' key                         → empty  (expiry index)
 *   'x' u64be(floor(expires)) 'p' u16be(key length) key provider → empty
 *   'm'                           → u32 records, u32 providerKeys, u32 providers (counts, LE)
 * The expiry index makes `expire(now)` a range read over what is due instead of a full scan.
 * The counts are written in the same transaction as the change they count, so `stats()` after a
 * restart needs no scan.
 *
 * Times are wall-clock ms since epoch: an entry restored after a restart expires at the same
 * instant it would have without the restart.
 */
import { createRequire } from 'node:module'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { RootDatabase } from 'lmdb'
import type { PeerId } from '../../../identity/peer-id.ts'
import { decodeProviders, decodeRecord, encodeProviders, encodeRecord } from './codec.ts'
import {
  DEFAULT_STORE_LIMITS, StoreLimitError,
  type ProviderEntry, type RecordStore, type RecordStoreLimits, type StoreStats, type StoredRecord
} from './types.ts'

export const LMDB_FILE = 'kad-store.mdb'

/**
 * Longest kad key accepted. LMDB keys are limited to about 1.9 KiB with 4 KiB pages (lmdb-js
 * builds with MDB_MAXKEYSIZE=0, which derives the limit from the page size); the expiry index
 * key adds 12 bytes and a provider id (≤ 64 bytes for identity multihashes of Ed25519/secp256k1
 * keys, 38 for SHA-256 ones). Real keys are `/ns/` + a multihash or a CID, under 100 bytes.
 */
export const LMDB_MAX_KEY_BYTES = 1024

/**
 * Due entries from which `expire` removes them in one synchronous transaction instead of queued
 * writes: below it the usual per-minute expiry stays off the main thread's fsync; above it the
 * overlay's per-write bookkeeping costs more than the one commit (bench/kad/store.md, expire all).
 */
export const LMDB_EXPIRE_SYNC_TXN = 1000

const R = 0x72 // 'r'
const P = 0x70 // 'p'
const X = 0x78 // 'x'
const META = Buffer.from('m')

type Lmdb = typeof import('lmdb')
let lmdbModule: Lmdb | undefined
let lmdbLoadError: Error | undefined

/**
 * Loads the lmdb package on first use. It is a native addon: if its prebuilt binary cannot load
 * on this platform, callers learn it here (and the node falls back to the journal store) instead
 * of every importer of kad failing at import time.
 */
export function loadLmdb (): Lmdb {
  if (lmdbModule !== undefined) return lmdbModule
  if (lmdbLoadError !== undefined) throw lmdbLoadError
  try {
    lmdbModule = createRequire(import.meta.url)('lmdb') as Lmdb
    return lmdbModule
  } catch (err) {
    lmdbLoadError = err as Error
    throw lmdbLoadError
  }
}

export function lmdbAvailable (): boolean {
  try { loadLmdb(); return true } catch { return false }
}

const prefixed = (tag: number, key: Uint8Array): Buffer => {
  const b = Buffer.allocUnsafe(1 + key.byteLength)
  b[0] = tag
  b.set(key, 1)
  return b
}

function expiryKeyRecord (expires: number, key: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(10 + key.byteLength)
  b[0] = X
  b.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(expires))), 1)
  b[9] = R
  b.set(key, 10)
  return b
}

function expiryKeyProvider (expires: number, key: Uint8Array, provider: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(12 + key.byteLength + provider.byteLength)
  b[0] = X
  b.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(expires))), 1)
  b[9] = P
  b.writeUInt16BE(key.byteLength, 10)
  b.set(key, 12)
  b.set(provider, 12 + key.byteLength)
  return b
}

function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0
}

/** A pending write: `v` undefined is a removal. One object per write, so identity tells writes apart. */
interface Pending { v: Buffer | undefined }

export interface LmdbStoreOptions {
  limits?: Partial<RecordStoreLimits>
}

export class LmdbRecordStore implements RecordStore {
  readonly limits: RecordStoreLimits
  readonly path: string
  private readonly db: RootDatabase<Buffer, Buffer>
  /** latin1 string of the database key → the latest write not yet committed. */
  private readonly overlay = new Map<string, Pending>()
  /** The transaction the latest writes went into, and those writes. */
  private batch: Promise<boolean> | undefined
  private group: Array<[string, Pending]> = []
  private inSyncTxn = false
  /** Set while `expire` removes many entries: the counts are written once at its end. */
  private countsDeferred = false
  /** The first failed transaction (disk full, I/O error): `flush()` and `close()` report it. */
  private writeError: Error | undefined
  private counts: StoreStats
  private closed = false

  /** Opens (creating if needed) `kad-store.mdb` in `dir`. Synchronous: nothing is replayed. */
  constructor (dir: string, options: LmdbStoreOptions = {}) {
    this.limits = { ...DEFAULT_STORE_LIMITS, ...options.limits }
    mkdirSync(dir, { recursive: true })
    this.path = join(dir, LMDB_FILE)
    this.db = loadLmdb().open<Buffer, Buffer>({ path: this.path, encoding: 'binary', keyEncoding: 'binary', compression: false })
    this.counts = this.readCounts()
  }

  private readCounts (): StoreStats {
    const m = this.db.getBinary(META)
    return m !== undefined && m.byteLength === 12
      ? { records: m.readUInt32LE(0), providerKeys: m.readUInt32LE(4), providers: m.readUInt32LE(8) }
      : { records: 0, providerKeys: 0, providers: 0 }
  }

  // ---- the overlay over lmdb ----------------------------------------------------------------

  private read (k: Buffer): Buffer | undefined {
    if (this.overlay.size > 0) {
      const p = this.overlay.get(k.toString('latin1'))
      if (p !== undefined) return p.v
    }
    return this.db.getBinary(k)
  }

  private write (k: Buffer, v: Buffer | undefined): void {
    if (this.closed) throw new Error('lmdb store is closed')
    if (this.inSyncTxn) {
      // Inside transactionSync: the write lands in the open transaction and reads see it.
      if (v === undefined) this.db.removeSync(k); else this.db.putSync(k, v)
      return
    }
    const ks = k.toString('latin1')
    const pending: Pending = { v }
    this.overlay.set(ks, pending)
    const done = v === undefined ? this.db.remove(k) : this.db.put(k, v)
    // lmdb-js returns one promise per transaction (every write of the turn): one reaction per
    // transaction clears its writes from the overlay, unless a later write replaced them there.
    if (done !== this.batch) {
      this.batch = done
      const group: Array<[string, Pending]> = []
      this.group = group
      const settle = (): void => {
        for (const [key, p] of group) if (this.overlay.get(key) === p) this.overlay.delete(key)
        group.length = 0 // committed: nothing more joins this transaction, and `this.group` may still point here
      }
      done.then(settle, (err: Error) => { this.writeError ??= err; settle() })
    }
    this.group.push([ks, pending])
  }

  /** Entries with start ≤ key < end, the overlay's pending writes taking precedence. */
  private * scan (start: Buffer, end: Buffer): Generator<[Buffer, Buffer]> {
    const pending: Array<[Buffer, Buffer]> = []
    for (const [ks, p] of this.overlay) {
      if (p.v === undefined) continue
      const k = Buffer.from(ks, 'latin1')
      if (Buffer.compare(k, start) >= 0 && Buffer.compare(k, end) < 0) pending.push([k, p.v])
    }
    const checkOverlay = this.overlay.size > 0
    for (const { key, value } of this.db.getRange({ start, end })) {
      if (checkOverlay && this.overlay.has(key.toString('latin1'))) continue
      // Copies: the cursor may reuse its buffers, and callers keep keys past the next step.
      yield [Buffer.from(key), value]
    }
    yield * pending
  }

  private saveCounts (): void {
    if (this.countsDeferred) return
    const m = Buffer.allocUnsafe(12)
    m.writeUInt32LE(this.counts.records, 0)
    m.writeUInt32LE(this.counts.providerKeys, 4)
    m.writeUInt32LE(this.counts.providers, 8)
    this.write(META, m)
  }

  private checkKey (key: Uint8Array): void {
    if (key.byteLength > LMDB_MAX_KEY_BYTES) throw new StoreLimitError('maxKeyBytes', `key of ${key.byteLength} bytes exceeds ${LMDB_MAX_KEY_BYTES}`)
  }

  // ---- records ------------------------------------------------------------------------------

  private loadRecord (key: Uint8Array): StoredRecord | undefined {
    const b = this.read(prefixed(R, key))
    if (b === undefined) return undefined
    try { return decodeRecord(key, b) } catch { return undefined }
  }

  getRecord (key: Uint8Array, now: number): StoredRecord | undefined {
    if (key.byteLength > LMDB_MAX_KEY_BYTES) return undefined
    const r = this.loadRecord(key)
    if (r === undefined || (r.expires !== null && r.expires <= now)) return undefined
    return r
  }

  putRecord (record: StoredRecord): void {
    this.checkKey(record.key)
    if (record.value.byteLength > this.limits.maxValueBytes) {
      throw new StoreLimitError('maxValueBytes', `value of ${record.value.byteLength} bytes exceeds ${this.limits.maxValueBytes}`)
    }
    const k = prefixed(R, record.key)
    const oldBytes = this.read(k)
    if (oldBytes === undefined && this.counts.records >= this.limits.maxRecords) {
      throw new StoreLimitError('maxRecords', `store holds ${this.limits.maxRecords} records`)
    }
    if (oldBytes !== undefined) {
      const old = this.safeDecodeRecord(record.key, oldBytes)
      if (old?.expires != null) this.write(expiryKeyRecord(old.expires, record.key), undefined)
    } else {
      this.counts.records++
    }
    this.write(k, encodeRecord(record))
    if (record.expires !== null) this.write(expiryKeyRecord(record.expires, record.key), Buffer.alloc(0))
    this.saveCounts()
  }

  private safeDecodeRecord (key: Uint8Array, b: Buffer): StoredRecord | undefined {
    try { return decodeRecord(key, b) } catch { return undefined }
  }

  removeRecord (key: Uint8Array): void {
    if (key.byteLength > LMDB_MAX_KEY_BYTES) return
    const k = prefixed(R, key)
    const oldBytes = this.read(k)
    if (oldBytes === undefined) return
    const old = this.safeDecodeRecord(key, oldBytes)
    if (old?.expires != null) this.write(expiryKeyRecord(old.expires, key), undefined)
    this.write(k, undefined)
    this.counts.records--
    this.saveCounts()
  }

  * records (): Iterable<StoredRecord> {
    for (const [k, v] of this.scan(Buffer.from([R]), Buffer.from([R + 1]))) {
      const r = this.safeDecodeRecord(new Uint8Array(k.subarray(1)), v)
      if (r !== undefined) yield r
    }
  }

  // ---- providers ----------------------------------------------------------------------------

  private loadProviders (key: Uint8Array): ProviderEntry[] {
    const b = this.read(prefixed(P, key))
    if (b === undefined) return []
    try { return decodeProviders(key, b) } catch { return [] }
  }

  private saveProviders (key: Uint8Array, list: ProviderEntry[]): void {
    this.write(prefixed(P, key), list.length === 0 ? undefined : encodeProviders(list))
  }

  addProvider (entry: ProviderEntry): void {
    this.checkKey(entry.key)
    const list = this.loadProviders(entry.key)
    const isNewKey = list.length === 0
    if (isNewKey && this.counts.providerKeys >= this.limits.maxProviderKeys) {
      throw new StoreLimitError('maxProviderKeys', `store holds providers for ${this.limits.maxProviderKeys} keys`)
    }
    const drop = (i: number): void => {
      const [gone] = list.splice(i, 1)
      if (gone?.expires != null) this.write(expiryKeyProvider(gone.expires, entry.key, gone.provider), undefined)
      this.counts.providers--
    }
    const same = list.findIndex(e => equalBytes(e.provider, entry.provider))
    if (same >= 0) drop(same)
    // Keep the most recent when full, as the memory store does: drop the oldest announcement.
    if (list.length >= this.limits.maxProvidersPerKey) drop(0)
    list.push({ ...entry, key: entry.key })
    this.counts.providers++
    if (isNewKey) this.counts.providerKeys++
    this.saveProviders(entry.key, list)
    if (entry.expires !== null) this.write(expiryKeyProvider(entry.expires, entry.key, entry.provider), Buffer.alloc(0))
    this.saveCounts()
  }

  getProviders (key: Uint8Array, now: number): ProviderEntry[] {
    if (key.byteLength > LMDB_MAX_KEY_BYTES) return []
    const out: ProviderEntry[] = []
    for (const e of this.loadProviders(key)) if (e.expires === null || e.expires > now) out.push(e)
    return out.reverse()
  }

  removeProvider (key: Uint8Array, provider: PeerId | Uint8Array): void {
    if (key.byteLength > LMDB_MAX_KEY_BYTES) return
    const p = provider instanceof Uint8Array ? provider : provider.bytes
    const list = this.loadProviders(key)
    const i = list.findIndex(e => equalBytes(e.provider, p))
    if (i < 0) return
    const [gone] = list.splice(i, 1)
    if (gone?.expires != null) this.write(expiryKeyProvider(gone.expires, key, p), undefined)
    this.counts.providers--
    if (list.length === 0) this.counts.providerKeys--
    this.saveProviders(key, list)
    this.saveCounts()
  }

  * providers (): Iterable<ProviderEntry> {
    for (const [k, v] of this.scan(Buffer.from([P]), Buffer.from([P + 1]))) {
      const key = new Uint8Array(k.subarray(1))
      try { yield * decodeProviders(key, v) } catch { /* a damaged list: skip it */ }
    }
  }

  * provided (local: PeerId): Iterable<ProviderEntry> {
    const me = local.bytes
    for (const e of this.providers()) if (equalBytes(e.provider, me)) yield e
  }

  /**
   * Copies every record and provider entry of `from` in one synchronous transaction: committed
   * and synced when this returns (used to migrate a journal store's directory).
   */
  importSync (from: RecordStore): { records: number, providers: number } {
    let records = 0
    let providers = 0
    try {
      this.db.transactionSync(() => {
        this.inSyncTxn = true
        try {
          for (const r of from.records()) { this.putRecord(r); records++ }
          for (const p of from.providers()) { this.addProvider(p); providers++ }
        } finally {
          this.inSyncTxn = false
        }
      })
    } catch (err) {
      this.counts = this.readCounts() // the transaction was aborted: back to what is on disk
      throw err
    }
    return { records, providers }
  }

  // ---- expiry, stats, lifecycle -------------------------------------------------------------

  /** Removes what the expiry index says is due at `now` (a range read over due entries only). */
  expire (now: number): { records: number, providers: number } {
    const end = Buffer.allocUnsafe(9)
    end[0] = X
    end.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(now)) + 1), 1)
    const due = [...this.scan(Buffer.from([X]), end)].map(([k]) => k)
    let records = 0
    let providers = 0
    if (due.length === 0) return { records, providers }
    const run = (): void => {
      this.countsDeferred = true
      try {
        for (const k of due) {
          const gone = this.expireIndexed(k, now)
          if (gone === R) records++
          else if (gone === P) providers++
        }
      } finally {
        this.countsDeferred = false
      }
      this.saveCounts()
    }
    // A mass expiry (a node back after longer than the TTLs) goes straight into one synchronous
    // transaction, without the overlay's bookkeeping, when no earlier write is still pending
    // (one could otherwise commit after it and undo a removal).
    if (due.length >= LMDB_EXPIRE_SYNC_TXN && this.overlay.size === 0) {
      const before = { ...this.counts }
      try {
        this.db.transactionSync(() => {
          this.inSyncTxn = true
          try { run() } finally { this.inSyncTxn = false }
        })
      } catch (err) {
        this.counts = before
        throw err
      }
    } else {
      run()
    }
    return { records, providers }
  }

  /** Removes the entry expiry-index key `k` names if it is due at `now` (returns its kind), or drops a stale `k`. */
  private expireIndexed (k: Buffer, now: number): number | undefined {
    if (k[9] === R) {
      const key = new Uint8Array(k.subarray(10))
      const r = this.loadRecord(key)
      if (r !== undefined && r.expires !== null && r.expires <= now) {
        this.write(prefixed(R, key), undefined)
        const own = expiryKeyRecord(r.expires, key)
        this.write(own, undefined)
        if (!own.equals(k)) this.write(k, undefined) // a stale entry that led here
        this.counts.records--
        return R
      }
      if (r === undefined || r.expires === null || !expiryKeyRecord(r.expires, key).equals(k)) this.write(k, undefined)
      return undefined
    }
    const keyLen = k.readUInt16BE(10)
    const key = new Uint8Array(k.subarray(12, 12 + keyLen))
    const provider = new Uint8Array(k.subarray(12 + keyLen))
    const e = this.loadProviders(key).find(x => equalBytes(x.provider, provider))
    if (e !== undefined && e.expires !== null && e.expires <= now) { this.removeProvider(key, provider); return P }
    if (e === undefined || e.expires === null || !expiryKeyProvider(e.expires, key, provider).equals(k)) this.write(k, undefined)
    return undefined
  }

  stats (): StoreStats { return { ...this.counts } }

  /** Bytes of the database file (for the bench and metrics). */
  get fileBytes (): number {
    const s = this.db.getStats() as { pageSize?: number, lastPageNumber?: number }
    return (s.pageSize ?? 0) * ((s.lastPageNumber ?? -1) + 1)
  }

  async flush (): Promise<void> {
    if (this.closed) return
    await this.db.committed
    await this.db.flushed
    if (this.writeError !== undefined) throw this.writeError
  }

  async close (): Promise<void> {
    if (this.closed) return
    try {
      await this.flush()
    } finally {
      this.closed = true
      await this.db.close()
    }
  }
}
