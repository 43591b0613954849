/**
 * The in-memory RecordStore: two maps keyed by the hex of the key. Lookups are one hash-map get
 * (O(1)); provider lists are at most `maxProvidersPerKey` long, so per-key work is bounded.
 * The journal and classic-level stores keep one of these as their index.
 */
import type { PeerId } from '../../../identity/peer-id.ts'
import { toHex } from '../kbucket/key.ts'
import {
  DEFAULT_STORE_LIMITS, StoreLimitError,
  type ProviderEntry, type RecordStore, type RecordStoreLimits, type StoreStats, type StoredRecord
} from './types.ts'

function bytesOf (p: PeerId | Uint8Array): Uint8Array {
  return p instanceof Uint8Array ? p : p.bytes
}

export class MemoryRecordStore implements RecordStore {
  readonly limits: RecordStoreLimits
  private readonly recordMap = new Map<string, StoredRecord>()
  /** key hex → provider hex → entry (insertion order = receive order). */
  private readonly providerMap = new Map<string, Map<string, ProviderEntry>>()
  private providerCount = 0

  constructor (limits: Partial<RecordStoreLimits> = {}) {
    this.limits = { ...DEFAULT_STORE_LIMITS, ...limits }
  }

  getRecord (key: Uint8Array, now: number): StoredRecord | undefined {
    const r = this.recordMap.get(toHex(key))
    if (r === undefined || (r.expires !== null && r.expires <= now)) return undefined
    return r
  }

  putRecord (record: StoredRecord): void {
    if (record.value.byteLength > this.limits.maxValueBytes) {
      throw new StoreLimitError('maxValueBytes', `value of ${record.value.byteLength} bytes exceeds ${this.limits.maxValueBytes}`)
    }
    const id = toHex(record.key)
    if (!this.recordMap.has(id) && this.recordMap.size >= this.limits.maxRecords) {
      throw new StoreLimitError('maxRecords', `store holds ${this.limits.maxRecords} records`)
    }
    this.recordMap.set(id, record)
  }

  removeRecord (key: Uint8Array): void {
    this.recordMap.delete(toHex(key))
  }

  records (): Iterable<StoredRecord> {
    return this.recordMap.values()
  }

  addProvider (entry: ProviderEntry): void {
    const id = toHex(entry.key)
    let providers = this.providerMap.get(id)
    if (providers === undefined) {
      if (this.providerMap.size >= this.limits.maxProviderKeys) {
        throw new StoreLimitError('maxProviderKeys', `store holds providers for ${this.limits.maxProviderKeys} keys`)
      }
      providers = new Map()
      this.providerMap.set(id, providers)
    }
    const pid = toHex(entry.provider)
    if (providers.delete(pid)) this.providerCount--
    if (providers.size >= this.limits.maxProvidersPerKey) {
      // Keep the most recent: drop the oldest announcement (Rust keeps the k closest; recency
      // favours live providers, which is what a fetcher needs).
      const oldest = providers.keys().next().value as string
      providers.delete(oldest)
      this.providerCount--
    }
    providers.set(pid, entry)
    this.providerCount++
  }

  getProviders (key: Uint8Array, now: number): ProviderEntry[] {
    const providers = this.providerMap.get(toHex(key))
    if (providers === undefined) return []
    const out: ProviderEntry[] = []
    for (const e of providers.values()) if (e.expires === null || e.expires > now) out.push(e)
    return out.reverse()
  }

  removeProvider (key: Uint8Array, provider: PeerId | Uint8Array): void {
    const id = toHex(key)
    const providers = this.providerMap.get(id)
    if (providers === undefined) return
    if (providers.delete(toHex(bytesOf(provider)))) this.providerCount--
    if (providers.size === 0) this.providerMap.delete(id)
  }

  * providers (): Iterable<ProviderEntry> {
    for (const m of this.providerMap.values()) yield * m.values()
  }

  * provided (local: PeerId): Iterable<ProviderEntry> {
    const me = toHex(local.bytes)
    for (const providers of this.providerMap.values()) {
      const e = providers.get(me)
      if (e !== undefined) yield e
    }
  }

  expire (now: number): { records: number, providers: number } {
    let records = 0
    let providers = 0
    for (const [id, r] of this.recordMap) {
      if (r.expires !== null && r.expires <= now) { this.recordMap.delete(id); records++ }
    }
    for (const [id, map] of this.providerMap) {
      for (const [pid, e] of map) {
        if (e.expires !== null && e.expires <= now) { map.delete(pid); providers++; this.providerCount-- }
      }
      if (map.size === 0) this.providerMap.delete(id)
    }
    return { records, providers }
  }

  stats (): StoreStats {
    return { records: this.recordMap.size, providerKeys: this.providerMap.size, providers: this.providerCount }
  }

  async flush (): Promise<void> {}
  async close (): Promise<void> {}
}
