/**
 * A persistent RecordStore over LevelDB (the `classic-level` npm package): LevelDB as the durable
 * log and an in-memory index (a `MemoryRecordStore`) that answers every read.
 *
 * Why an index in memory: our `RecordStore` is synchronous (a GET is answered without I/O, the
 * issue's 1 ms p99 target) and classic-level 3 offers only `getSync` synchronously; its
 * iterators, which `records()`, `providers()` and `expire(now)` need, are asynchronous only. So
 * this store holds what the journal store holds, and differs from it in the engine underneath
 * (LevelDB's LSM tree with compaction of its own instead of our append-only file) and in a
 * restart, which iterates the database instead of replaying a journal. Measured against lmdb and
 * the journal in bench/kad/store.md.
 *
 * Layout (binary keys, values in codec.ts): 'r' key → record; 'p' key → provider list of the key
 * (oldest first). Writes made in one event-loop turn go to LevelDB as one atomic batch, batches
 * strictly one after another (LevelDB would run concurrent batches from libuv's pool in any
 * order). Expired entries are deleted from the database when `expire(now)` runs.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import type { ClassicLevel } from 'classic-level'
import type { PeerId } from '../../../identity/peer-id.ts'
import { decodeProviders, decodeRecord, encodeProviders, encodeRecord } from './codec.ts'
import { MemoryRecordStore } from './memory.ts'
import type { ProviderEntry, RecordStore, RecordStoreLimits, StoreStats, StoredRecord } from './types.ts'

export const LEVEL_DIR = 'kad-store.level'
/**
 * Most operations in one LevelDB batch: a batch is built in memory and applied under LevelDB's
 * write lock, so a synchronous burst of writes (a bulk load) is cut into batches of this size.
 * 4,096 × ~400 bytes ≈ 1.6 MiB, below LevelDB's default 4 MiB write buffer (one batch never
 * forces two memtable switches).
 */
export const LEVEL_BATCH_OPS = 4096

const R = 0x72 // 'r'
const P = 0x70 // 'p'

const prefixed = (tag: number, key: Uint8Array): Uint8Array => {
  const b = new Uint8Array(1 + key.byteLength)
  b[0] = tag
  b.set(key, 1)
  return b
}

type Op = { type: 'put', key: Uint8Array, value: Uint8Array } | { type: 'del', key: Uint8Array }

export interface LevelStoreOptions {
  limits?: Partial<RecordStoreLimits>
  /** fsync each batch (LevelDB's `sync` write option). Default false; `flush()` waits for the writes either way. */
  sync?: boolean
}

export class LevelRecordStore implements RecordStore {
  readonly location: string
  /** Entries read back on open. */
  loaded = 0
  private readonly index: MemoryRecordStore
  private pending: Op[] = []
  private scheduled = false
  private writing: Promise<void> = Promise.resolve()
  private writeError: Error | undefined
  private closed = false

  private constructor (private readonly db: ClassicLevel<Uint8Array, Uint8Array>, location: string, limits: Partial<RecordStoreLimits> | undefined, private readonly sync: boolean) {
    this.location = location
    this.index = new MemoryRecordStore(limits)
  }

  /** Opens (creating if needed) `kad-store.level` in `dir` and loads its entries into the index. */
  static async open (dir: string, options: LevelStoreOptions = {}): Promise<LevelRecordStore> {
    mkdirSync(dir, { recursive: true })
    const location = join(dir, LEVEL_DIR)
    // Loaded on first use (a native addon): importing kad never fails because of it.
    const { ClassicLevel: Level } = createRequire(import.meta.url)('classic-level') as typeof import('classic-level')
    const db = new Level<Uint8Array, Uint8Array>(location, { keyEncoding: 'view', valueEncoding: 'view' })
    await db.open()
    const store = new LevelRecordStore(db, location, options.limits, options.sync ?? false)
    await store.load()
    return store
  }

  private async load (): Promise<void> {
    for await (const [k, v] of this.db.iterator()) {
      const key = new Uint8Array(k.subarray(1)) // a plain copy: the iterator hands out Buffers
      try {
        if (k[0] === R) this.index.putRecord(decodeRecord(key, v))
        else if (k[0] === P) for (const e of decodeProviders(key, v)) this.index.addProvider(e)
        this.loaded++
      } catch { /* damaged, or over limits lowered since it was written: skip */ }
    }
  }

  private queue (op: Op): void {
    if (this.closed) throw new Error('level store is closed')
    this.pending.push(op)
    if (this.pending.length >= LEVEL_BATCH_OPS) this.submit()
    else if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => { this.scheduled = false; this.submit() })
    }
  }

  private submit (): void {
    if (this.pending.length === 0) return
    const ops = this.pending
    this.pending = []
    this.writing = this.writing.then(async () => {
      if (this.writeError === undefined) await this.db.batch(ops, { sync: this.sync })
    }).catch((err: Error) => { this.writeError ??= err })
  }

  private saveProviders (key: Uint8Array): void {
    const list = this.index.getProviders(key, Number.NEGATIVE_INFINITY).reverse()
    const k = prefixed(P, key)
    this.queue(list.length === 0 ? { type: 'del', key: k } : { type: 'put', key: k, value: encodeProviders(list) })
  }

  getRecord (key: Uint8Array, now: number): StoredRecord | undefined { return this.index.getRecord(key, now) }

  putRecord (record: StoredRecord): void {
    this.index.putRecord(record)
    this.queue({ type: 'put', key: prefixed(R, record.key), value: encodeRecord(record) })
  }

  removeRecord (key: Uint8Array): void {
    this.index.removeRecord(key)
    this.queue({ type: 'del', key: prefixed(R, key) })
  }

  records (): Iterable<StoredRecord> { return this.index.records() }

  addProvider (entry: ProviderEntry): void {
    this.index.addProvider(entry)
    this.saveProviders(entry.key)
  }

  getProviders (key: Uint8Array, now: number): ProviderEntry[] { return this.index.getProviders(key, now) }

  removeProvider (key: Uint8Array, provider: PeerId | Uint8Array): void {
    this.index.removeProvider(key, provider)
    this.saveProviders(key)
  }

  providers (): Iterable<ProviderEntry> { return this.index.providers() }
  provided (local: PeerId): Iterable<ProviderEntry> { return this.index.provided(local) }

  /** Removes expired entries from the index and deletes (or rewrites) them in the database. */
  expire (now: number): { records: number, providers: number } {
    const dead = (e: { expires: number | null }): boolean => e.expires !== null && e.expires <= now
    const records = [...this.index.records()].filter(dead).map(r => r.key)
    const providerKeys = new Map<string, Uint8Array>()
    for (const p of this.index.providers()) if (dead(p)) providerKeys.set(Buffer.from(p.key).toString('latin1'), p.key)
    const out = this.index.expire(now)
    for (const key of records) this.queue({ type: 'del', key: prefixed(R, key) })
    for (const key of providerKeys.values()) this.saveProviders(key)
    return out
  }

  stats (): StoreStats { return this.index.stats() }

  /** LevelDB's estimate of the bytes its files take for all our keys. */
  async diskBytes (): Promise<number> {
    return await this.db.approximateSize(new Uint8Array([0]), new Uint8Array([0xff]))
  }

  async flush (): Promise<void> {
    if (this.closed) return
    this.submit()
    await this.writing
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
