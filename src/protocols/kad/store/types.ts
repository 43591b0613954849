/**
 * Record storage for Kademlia: value records (PUT_VALUE/GET_VALUE) and provider entries
 * (ADD_PROVIDER/GET_PROVIDERS), each with an expiry. rust-libp2p's `RecordStore` trait is the
 * model; ours is synchronous for reads (every implementation keeps its index in memory so a GET
 * is answered without I/O, the 1 ms p99 target) and takes `now` for expiry, never a clock.
 *
 * Keys are bytes; stores index them as hex strings. An expired entry is never returned: `get*`
 * filter by `now`, and `expire(now)` removes them for good (the behaviour calls it periodically).
 */
import type { PeerId } from '../../../identity/peer-id.ts'

export interface StoredRecord {
  key: Uint8Array
  value: Uint8Array
  /** The peer that published it (the origin, for republication), if known. */
  publisher: Uint8Array | undefined
  /** When we stored it (ms since epoch). Sent back as the record's `timeReceived`. */
  timeReceived: number
  /** Absolute expiry (ms since epoch), or null for never. */
  expires: number | null
}

export interface ProviderEntry {
  key: Uint8Array
  /** PeerId multihash bytes of the provider. */
  provider: Uint8Array
  /** Multiaddr bytes the provider announced. */
  addrs: Uint8Array[]
  /** When we stored it (ms since epoch). */
  timeReceived: number
  expires: number | null
}

/** Why a store refused a write; the handler maps it to "not stored" (the request still gets an answer). */
export class StoreLimitError extends Error {
  readonly code = 'ERR_KAD_STORE_LIMIT'
  constructor (readonly limit: string, message: string) {
    super(`${limit}: ${message}`)
    this.name = 'StoreLimitError'
  }
}

export interface RecordStoreLimits {
  /** Most value records held. */
  maxRecords: number
  /** Largest value accepted (bytes). */
  maxValueBytes: number
  /** Most providers kept per key. */
  maxProvidersPerKey: number
  /** Most distinct keys with provider entries. */
  maxProviderKeys: number
}

/**
 * Default limits. rust-libp2p's MemoryStore keeps 1,024 records of at most 65 KiB and K_VALUE=20
 * providers per key for 1,024 keys; we hold the target of 100,000 records and 100,000
 * provider keys. maxValueBytes 65 KiB is Rust's (an IPNS record with its signature is ~1-2 KiB, a
 * public key under /pk/ at most ~800 bytes for RSA-4096): worst case 100,000 × 65 KiB is never
 * reached in practice and `maxRecords` caps the count. 20 providers per key is k: a GET_PROVIDERS
 * answer carries at most k of them anyway.
 */
export const DEFAULT_STORE_LIMITS: Readonly<RecordStoreLimits> = Object.freeze({
  maxRecords: 100_000,
  maxValueBytes: 65 * 1024,
  maxProvidersPerKey: 20,
  maxProviderKeys: 100_000
})

export interface StoreStats {
  records: number
  providerKeys: number
  providers: number
}

export interface RecordStore {
  /** The record under `key`, unless absent or expired at `now`. */
  getRecord(key: Uint8Array, now: number): StoredRecord | undefined
  /** Stores or replaces a record. Throws StoreLimitError when full or too large. */
  putRecord(record: StoredRecord): void
  removeRecord(key: Uint8Array): void
  /** Every stored record (expired ones included until `expire` runs). */
  records(): Iterable<StoredRecord>

  /** Adds or refreshes a provider of `key`. Throws StoreLimitError when full. */
  addProvider(entry: ProviderEntry): void
  /** Live providers of `key` at `now`, most recently received first. */
  getProviders(key: Uint8Array, now: number): ProviderEntry[]
  removeProvider(key: Uint8Array, provider: PeerId | Uint8Array): void
  /** Every provider entry (expired ones included until `expire` runs). */
  providers(): Iterable<ProviderEntry>
  /** Every provider entry whose provider is `local` (what this node republishes). */
  provided(local: PeerId): Iterable<ProviderEntry>

  /** Removes every entry expired at `now`; returns how many of each went. */
  expire(now: number): { records: number, providers: number }
  stats(): StoreStats
  /** Makes every write so far durable (no-op for memory). */
  flush(): Promise<void>
  close(): Promise<void>
}
