/**
 * Binary encoding of stored records and per-key provider lists, shared by the key-value backed
 * stores (`lmdb.ts`, `level.ts`). The key itself is the database key and is not repeated.
 * Little-endian; bytes fields are u32 length + bytes; times are f64 ms since epoch (wall clock,
 * so they mean the same after a restart); expires -1 = never.
 *
 *   record         value, publisher (empty = none), f64 timeReceived, f64 expires
 *   provider list  u16 count, then per entry (oldest first):
 *                  provider, u16 addrCount, addrs…, f64 timeReceived, f64 expires
 *
 * Decoders throw `StoreCodecError` on anything short or inconsistent (a damaged database);
 * the stores treat such an entry as absent rather than crash a lookup.
 */
import type { ProviderEntry, StoredRecord } from './types.ts'

export class StoreCodecError extends Error {
  readonly code = 'ERR_KAD_STORE_CODEC'
  constructor (message: string) { super(message); this.name = 'StoreCodecError' }
}

const expiresOut = (e: number | null): number => e === null ? -1 : e
const expiresIn = (e: number): number | null => e < 0 ? null : e

class Writer {
  readonly buf: Buffer
  pos = 0
  constructor (size: number) { this.buf = Buffer.allocUnsafe(size) }
  u16 (v: number): void { this.buf.writeUInt16LE(v, this.pos); this.pos += 2 }
  f64 (v: number): void { this.buf.writeDoubleLE(v, this.pos); this.pos += 8 }
  bytes (v: Uint8Array): void {
    this.buf.writeUInt32LE(v.byteLength, this.pos); this.pos += 4
    this.buf.set(v, this.pos); this.pos += v.byteLength
  }
}

class Reader {
  pos = 0
  constructor (private readonly b: Uint8Array, private readonly view = new DataView(b.buffer, b.byteOffset, b.byteLength)) {}
  private need (n: number): void { if (this.pos + n > this.b.byteLength) throw new StoreCodecError('short store entry') }
  u16 (): number { this.need(2); const v = this.view.getUint16(this.pos, true); this.pos += 2; return v }
  f64 (): number { this.need(8); const v = this.view.getFloat64(this.pos, true); this.pos += 8; return v }
  bytes (): Uint8Array {
    this.need(4)
    const n = this.view.getUint32(this.pos, true); this.pos += 4
    this.need(n)
    // A copy: backends may hand out buffers they reuse (lmdb's fast reads, level's shared buffers).
    const out = new Uint8Array(this.b.subarray(this.pos, this.pos + n))
    this.pos += n
    return out
  }
  end (): void { if (this.pos !== this.b.byteLength) throw new StoreCodecError('trailing bytes in store entry') }
}

export function encodeRecord (r: StoredRecord): Buffer {
  const publisher = r.publisher ?? new Uint8Array(0)
  const w = new Writer(4 + r.value.byteLength + 4 + publisher.byteLength + 16)
  w.bytes(r.value); w.bytes(publisher); w.f64(r.timeReceived); w.f64(expiresOut(r.expires))
  return w.buf
}

export function decodeRecord (key: Uint8Array, b: Uint8Array): StoredRecord {
  const r = new Reader(b)
  const value = r.bytes(); const publisher = r.bytes()
  const timeReceived = r.f64(); const expires = expiresIn(r.f64())
  r.end()
  return { key, value, publisher: publisher.byteLength === 0 ? undefined : publisher, timeReceived, expires }
}

/** `entries` oldest first; every entry's `key` is the list's key and is not written. */
export function encodeProviders (entries: readonly ProviderEntry[]): Buffer {
  let size = 2
  for (const e of entries) {
    size += 4 + e.provider.byteLength + 2 + 16
    for (const a of e.addrs) size += 4 + a.byteLength
  }
  const w = new Writer(size)
  w.u16(entries.length)
  for (const e of entries) {
    w.bytes(e.provider); w.u16(e.addrs.length)
    for (const a of e.addrs) w.bytes(a)
    w.f64(e.timeReceived); w.f64(expiresOut(e.expires))
  }
  return w.buf
}

export function decodeProviders (key: Uint8Array, b: Uint8Array): ProviderEntry[] {
  const r = new Reader(b)
  // u16 count: the list's length is bounded by the format (the store keeps maxProvidersPerKey).
  const n = r.u16()
  const out: ProviderEntry[] = []
  for (let i = 0; i < n; i++) {
    const provider = r.bytes()
    const addrs: Uint8Array[] = []
    for (let a = r.u16(); a > 0; a--) addrs.push(r.bytes())
    const timeReceived = r.f64(); const expires = expiresIn(r.f64())
    out.push({ key, provider, addrs, timeReceived, expires })
  }
  r.end()
  return out
}
