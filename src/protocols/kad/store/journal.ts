/**
 * A persistent RecordStore: an append-only journal file beside an in-memory index (the Bitcask
 * design: reads never touch the disk, writes are one sequential append, a restart replays the
 * journal). The index is a `MemoryRecordStore`, so reads cost what they cost there.
 *
 * Not the default any more: lmdb is (bench/kad/store.md: a restart here replays every entry and
 * the whole store lives on the JS heap). This store stays as the fallback that needs no native
 * addon, used when lmdb's binary does not load, and to migrate directories it wrote into lmdb
 * (store/persistent.ts).
 *
 * File format (`kad-store.journal`), little-endian:
 *   header  "L2NKADJ1"                                  (8 bytes)
 *   entry   u32 bodyLength | u32 crc32(body) | body      (repeated)
 *   body    u8 op, then fields; bytes fields are u32 length + bytes, times are f64 ms since epoch
 *           (expires: -1 = never)
 *     op 1 putRecord      key, value, publisher (empty = none), timeReceived, expires
 *     op 2 removeRecord   key
 *     op 3 addProvider    key, provider, u16 addrCount, addrs…, timeReceived, expires
 *     op 4 removeProvider key, provider
 * A torn or corrupt tail (a crash mid-append) ends the replay; the file is cut back to the last
 * whole entry. Expired entries are not logged as removals: replay restores them with their
 * absolute expiry, `get*` never return them, and compaction drops them.
 *
 * Times are wall-clock ms since epoch (`Date.now()`), not monotonic: they must mean the same
 * thing after a restart, which is how "expire on time after it" holds.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, ftruncateSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import type { PeerId } from '../../../identity/peer-id.ts'
import { MemoryRecordStore } from './memory.ts'
import type { ProviderEntry, RecordStore, RecordStoreLimits, StoreStats, StoredRecord } from './types.ts'

export const JOURNAL_FILE = 'kad-store.journal'
const MAGIC = Buffer.from('L2NKADJ1')
const OP_PUT = 1
const OP_REMOVE = 2
const OP_ADD_PROVIDER = 3
const OP_REMOVE_PROVIDER = 4
/**
 * Largest journal entry accepted on replay: a record of maxValueBytes (65 KiB) plus key and
 * publisher, or a provider with its addresses, stays far below 1 MiB; anything longer is corruption.
 */
export const MAX_JOURNAL_ENTRY = 1024 * 1024
/** Buffered appends are written once this many bytes wait (one syscall per ~64 KiB, the pipe/page-cache sweet spot). */
export const JOURNAL_WRITE_BUFFER = 64 * 1024
/** Compaction runs when the journal exceeds both this size and twice the live data (bounded space amplification). */
export const JOURNAL_COMPACT_MIN_BYTES = 8 * 1024 * 1024

class BodyWriter {
  private parts: Buffer[] = []
  private size = 0
  u8 (v: number): this { const b = Buffer.allocUnsafe(1); b[0] = v; return this.push(b) }
  u16 (v: number): this { const b = Buffer.allocUnsafe(2); b.writeUInt16LE(v); return this.push(b) }
  f64 (v: number): this { const b = Buffer.allocUnsafe(8); b.writeDoubleLE(v); return this.push(b) }
  bytes (v: Uint8Array): this {
    const b = Buffer.allocUnsafe(4); b.writeUInt32LE(v.byteLength); this.push(b)
    return this.push(Buffer.from(v.buffer, v.byteOffset, v.byteLength))
  }
  private push (b: Buffer): this { this.parts.push(b); this.size += b.byteLength; return this }
  /** The framed entry: length, crc, body. */
  entry (): Buffer {
    const body = Buffer.concat(this.parts, this.size)
    const head = Buffer.allocUnsafe(8)
    head.writeUInt32LE(body.byteLength, 0)
    head.writeUInt32LE(crc32(body), 4)
    return Buffer.concat([head, body])
  }
}

class BodyReader {
  pos = 0
  constructor (private readonly b: Buffer) {}
  private need (n: number): void { if (this.pos + n > this.b.byteLength) throw new Error('short journal entry') }
  u8 (): number { this.need(1); return this.b[this.pos++] as number }
  u16 (): number { this.need(2); const v = this.b.readUInt16LE(this.pos); this.pos += 2; return v }
  f64 (): number { this.need(8); const v = this.b.readDoubleLE(this.pos); this.pos += 8; return v }
  bytes (): Uint8Array {
    this.need(4)
    const n = this.b.readUInt32LE(this.pos); this.pos += 4
    this.need(n)
    const out = new Uint8Array(this.b.subarray(this.pos, this.pos + n))
    this.pos += n
    return out
  }
}

const expiresOut = (e: number | null): number => e === null ? -1 : e
const expiresIn = (e: number): number | null => e < 0 ? null : e

function encodePut (r: StoredRecord): Buffer {
  return new BodyWriter().u8(OP_PUT).bytes(r.key).bytes(r.value).bytes(r.publisher ?? new Uint8Array(0))
    .f64(r.timeReceived).f64(expiresOut(r.expires)).entry()
}
function encodeProvider (p: ProviderEntry): Buffer {
  const w = new BodyWriter().u8(OP_ADD_PROVIDER).bytes(p.key).bytes(p.provider).u16(p.addrs.length)
  for (const a of p.addrs) w.bytes(a)
  return w.f64(p.timeReceived).f64(expiresOut(p.expires)).entry()
}

export interface JournalOptions {
  limits?: Partial<RecordStoreLimits>
  /** fsync on `flush()` (default true). */
  fsync?: boolean
}

export interface ReplayReport {
  entries: number
  /** Bytes cut from a torn or corrupt tail. */
  truncatedBytes: number
}

export class JournalRecordStore implements RecordStore {
  readonly path: string
  readonly replay: ReplayReport
  private readonly index: MemoryRecordStore
  private fd: number
  private pending: Buffer[] = []
  private pendingBytes = 0
  private fileBytes: number
  private flushScheduled = false
  private closed = false
  private readonly fsync: boolean

  /** Opens (creating if needed) the journal in `dir` and replays it. */
  constructor (dir: string, options: JournalOptions = {}) {
    mkdirSync(dir, { recursive: true })
    this.path = join(dir, JOURNAL_FILE)
    this.index = new MemoryRecordStore(options.limits)
    this.fsync = options.fsync ?? true
    if (!existsSync(this.path)) {
      const fd = openSync(this.path, 'w')
      writeSync(fd, MAGIC)
      fsyncSync(fd)
      closeSync(fd)
    }
    const data = readFileSync(this.path)
    this.replay = this.replayFrom(data)
    this.fd = openSync(this.path, 'r+')
    const good = data.byteLength - this.replay.truncatedBytes
    if (this.replay.truncatedBytes > 0) ftruncateSync(this.fd, good)
    this.fileBytes = good
  }

  private replayFrom (data: Buffer): ReplayReport {
    if (data.byteLength < MAGIC.byteLength || !data.subarray(0, MAGIC.byteLength).equals(MAGIC)) {
      throw new Error(`${this.path} is not a kad journal (bad magic)`)
    }
    let pos = MAGIC.byteLength
    let entries = 0
    while (pos + 8 <= data.byteLength) {
      const len = data.readUInt32LE(pos)
      const crc = data.readUInt32LE(pos + 4)
      if (len > MAX_JOURNAL_ENTRY || pos + 8 + len > data.byteLength) break
      const body = data.subarray(pos + 8, pos + 8 + len)
      if (crc32(body) !== crc) break
      try {
        this.apply(body)
      } catch {
        break
      }
      pos += 8 + len
      entries++
    }
    return { entries, truncatedBytes: data.byteLength - pos }
  }

  private apply (body: Buffer): void {
    const r = new BodyReader(body)
    const op = r.u8()
    switch (op) {
      case OP_PUT: {
        const key = r.bytes(); const value = r.bytes(); const publisher = r.bytes()
        const timeReceived = r.f64(); const expires = expiresIn(r.f64())
        try {
          this.index.putRecord({ key, value, publisher: publisher.byteLength === 0 ? undefined : publisher, timeReceived, expires })
        } catch { /* limits lowered since it was written: skip */ }
        return
      }
      case OP_REMOVE: this.index.removeRecord(r.bytes()); return
      case OP_ADD_PROVIDER: {
        const key = r.bytes(); const provider = r.bytes()
        const addrs: Uint8Array[] = []
        for (let n = r.u16(); n > 0; n--) addrs.push(r.bytes())
        const timeReceived = r.f64(); const expires = expiresIn(r.f64())
        try { this.index.addProvider({ key, provider, addrs, timeReceived, expires }) } catch { /* as above */ }
        return
      }
      case OP_REMOVE_PROVIDER: { const key = r.bytes(); this.index.removeProvider(key, r.bytes()); return }
      default: throw new Error(`unknown journal op ${op}`)
    }
  }

  private append (entry: Buffer): void {
    if (this.closed) throw new Error('journal store is closed')
    this.pending.push(entry)
    this.pendingBytes += entry.byteLength
    if (this.pendingBytes >= JOURNAL_WRITE_BUFFER) this.writePending()
    else if (!this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(() => { this.flushScheduled = false; if (!this.closed) this.writePending() })
    }
  }

  private writePending (): void {
    if (this.pendingBytes === 0) return
    const buf = Buffer.concat(this.pending, this.pendingBytes)
    this.pending = []
    this.pendingBytes = 0
    let off = 0
    while (off < buf.byteLength) off += writeSync(this.fd, buf, off, buf.byteLength - off, this.fileBytes + off)
    this.fileBytes += buf.byteLength
  }

  getRecord (key: Uint8Array, now: number): StoredRecord | undefined { return this.index.getRecord(key, now) }

  putRecord (record: StoredRecord): void {
    this.index.putRecord(record)
    this.append(encodePut(record))
  }

  removeRecord (key: Uint8Array): void {
    this.index.removeRecord(key)
    this.append(new BodyWriter().u8(OP_REMOVE).bytes(key).entry())
  }

  records (): Iterable<StoredRecord> { return this.index.records() }

  addProvider (entry: ProviderEntry): void {
    this.index.addProvider(entry)
    this.append(encodeProvider(entry))
  }

  getProviders (key: Uint8Array, now: number): ProviderEntry[] { return this.index.getProviders(key, now) }

  removeProvider (key: Uint8Array, provider: PeerId | Uint8Array): void {
    const p = provider instanceof Uint8Array ? provider : provider.bytes
    this.index.removeProvider(key, p)
    this.append(new BodyWriter().u8(OP_REMOVE_PROVIDER).bytes(key).bytes(p).entry())
  }

  provided (local: PeerId): Iterable<ProviderEntry> { return this.index.provided(local) }

  /** Drops expired entries from the index, and compacts the journal when it is mostly garbage. */
  expire (now: number): { records: number, providers: number } {
    const out = this.index.expire(now)
    if (this.fileBytes > JOURNAL_COMPACT_MIN_BYTES) this.maybeCompact()
    return out
  }

  stats (): StoreStats { return this.index.stats() }

  /** Journal size on disk (bytes), for metrics and the bench. */
  get journalBytes (): number { return this.fileBytes + this.pendingBytes }

  /** Rewrites the journal with only the live entries if it is over twice their size. */
  maybeCompact (force = false): boolean {
    const live: Buffer[] = [MAGIC]
    let liveBytes = MAGIC.byteLength
    for (const r of this.index.records()) { const e = encodePut(r); live.push(e); liveBytes += e.byteLength }
    for (const p of this.index.providers()) { const e = encodeProvider(p); live.push(e); liveBytes += e.byteLength }
    if (!force && this.journalBytes <= 2 * liveBytes) return false
    this.writePending()
    const tmp = `${this.path}.tmp`
    const fd = openSync(tmp, 'w')
    const buf = Buffer.concat(live, liveBytes)
    let off = 0
    while (off < buf.byteLength) off += writeSync(fd, buf, off, buf.byteLength - off)
    fsyncSync(fd)
    closeSync(fd)
    renameSync(tmp, this.path)
    closeSync(this.fd)
    this.fd = openSync(this.path, 'r+')
    this.fileBytes = liveBytes
    return true
  }

  providers (): Iterable<ProviderEntry> { return this.index.providers() }

  async flush (): Promise<void> {
    if (this.closed) return
    this.writePending()
    if (this.fsync) fsyncSync(this.fd)
  }

  async close (): Promise<void> {
    if (this.closed) return
    await this.flush()
    this.closed = true
    closeSync(this.fd)
  }
}
