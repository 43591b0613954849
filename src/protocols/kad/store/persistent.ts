/**
 * Which persistent RecordStore a node with a data directory gets. The choice was made by
 * measurement (bench/kad/store.md): lmdb, because a restart opens it in milliseconds whatever its
 * size (the journal and classic-level stores rebuild an in-memory index, seconds at 200k entries)
 * and it keeps nothing on the JS heap (the others hold every entry there), while its lookups stay
 * far under the 1 ms p99 target.
 *
 * The journal store stays as the fallback that needs no native addon: if lmdb's prebuilt binary
 * cannot load on a platform, the node still persists its records. A data directory that holds a
 * journal from before lmdb was the default is migrated into lmdb once, in one synchronous
 * transaction, and the journal is renamed `kad-store.journal.migrated` only after it committed.
 */
import { existsSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import { JournalRecordStore, JOURNAL_FILE } from './journal.ts'
import { LevelRecordStore } from './level.ts'
import { LmdbRecordStore, LMDB_FILE, loadLmdb } from './lmdb.ts'
import type { RecordStore, RecordStoreLimits } from './types.ts'

export type PersistentStoreKind = 'lmdb' | 'journal' | 'level'
export const PERSISTENT_STORE_KINDS: readonly PersistentStoreKind[] = Object.freeze(['lmdb', 'journal', 'level'])
/** The store a node with a data directory gets (bench/kad/store.md says why). */
export const DEFAULT_PERSISTENT_STORE: PersistentStoreKind = 'lmdb'
export const MIGRATED_JOURNAL_FILE = `${JOURNAL_FILE}.migrated`

export interface PersistentStoreOptions {
  /** Default `DEFAULT_PERSISTENT_STORE`. */
  kind?: PersistentStoreKind
  limits?: Partial<RecordStoreLimits>
  /** Told when lmdb could not load and the journal store is used instead, or when a journal was migrated. */
  onNotice?: (message: string, details: Record<string, unknown>) => void
  /** Loads the lmdb addon (tests replace it to exercise the fallback). Default `loadLmdb`. */
  loadLmdb?: () => unknown
}

/**
 * Opens the persistent store in `dir` synchronously (what the behaviour's constructor needs):
 * lmdb or the journal. classic-level opens asynchronously; use `openPersistentStore` for it.
 */
export function openPersistentStoreSync (dir: string, options: PersistentStoreOptions = {}): RecordStore {
  const kind = options.kind ?? DEFAULT_PERSISTENT_STORE
  if (kind === 'journal') return new JournalRecordStore(dir, { limits: options.limits })
  if (kind === 'level') throw new TypeError('the level store opens asynchronously: use openPersistentStore()')
  try {
    (options.loadLmdb ?? loadLmdb)()
  } catch (err) {
    options.onNotice?.('lmdb did not load; using the journal store', { error: (err as Error).message })
    return new JournalRecordStore(dir, { limits: options.limits })
  }
  const journalPath = join(dir, JOURNAL_FILE)
  const migrate = existsSync(journalPath) && !existsSync(join(dir, LMDB_FILE))
  const store = new LmdbRecordStore(dir, { limits: options.limits })
  if (migrate) {
    const journal = new JournalRecordStore(dir, { limits: options.limits })
    const copied = store.importSync(journal)
    void journal.close()
    renameSync(journalPath, join(dir, MIGRATED_JOURNAL_FILE))
    options.onNotice?.('migrated the journal store into lmdb', copied)
  }
  return store
}

/** Opens any persistent store kind in `dir`. */
export async function openPersistentStore (dir: string, options: PersistentStoreOptions = {}): Promise<RecordStore> {
  if (options.kind === 'level') return await LevelRecordStore.open(dir, { limits: options.limits })
  return openPersistentStoreSync(dir, options)
}
