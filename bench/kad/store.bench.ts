/**
 * Kademlia record store measurements (issue 5 target: 100,000 records and 100,000 provider entries,
 * store lookups under 1 ms p99, memory reported). Prints one JSON line per store.
 *   node --expose-gc --import tsx bench/kad/store.bench.ts [count]
 * Values are 300 bytes (a typical IPNS record), keys 38 bytes (`/ipns/` + a 32-byte multihash).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { MemoryRecordStore } from '../../src/protocols/kad/store/memory.ts'
import { JournalRecordStore } from '../../src/protocols/kad/store/journal.ts'
import type { RecordStore } from '../../src/protocols/kad/store/types.ts'

const N = Number(process.argv[2] ?? 100_000)
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})
const keys = Array.from({ length: N }, () => new Uint8Array([...Buffer.from('/ipns/'), ...randomBytes(32)]))
const pkeys = Array.from({ length: N }, () => new Uint8Array(randomBytes(34)))
const provider = new Uint8Array(randomBytes(34))
const value = new Uint8Array(randomBytes(300))
const addr = Uint8Array.from([4, 1, 2, 3, 4, 6, 0x0f, 0xa1])

function percentile (sorted: number[], p: number): number { return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number }

function measureLookups (store: RecordStore, now: number): { recordP50us: number, recordP99us: number, providerP99us: number } {
  const rt: number[] = []
  const pt: number[] = []
  for (let i = 0; i < 20_000; i++) {
    const k = keys[(i * 7919) % N] as Uint8Array
    let t = process.hrtime.bigint()
    if (store.getRecord(k, now) === undefined) throw new Error('missing record')
    rt.push(Number(process.hrtime.bigint() - t) / 1000)
    const pk = pkeys[(i * 104729) % N] as Uint8Array
    t = process.hrtime.bigint()
    if (store.getProviders(pk, now).length !== 1) throw new Error('missing provider')
    pt.push(Number(process.hrtime.bigint() - t) / 1000)
  }
  rt.sort((a, b) => a - b); pt.sort((a, b) => a - b)
  return { recordP50us: +percentile(rt, 0.5).toFixed(2), recordP99us: +percentile(rt, 0.99).toFixed(2), providerP99us: +percentile(pt, 0.99).toFixed(2) }
}

async function run (name: string, open: () => RecordStore, reopen?: () => RecordStore): Promise<void> {
  gc()
  const heap0 = process.memoryUsage().heapUsed
  const now = Date.now()
  const store = open()
  let t = performance.now()
  for (let i = 0; i < N; i++) store.putRecord({ key: keys[i] as Uint8Array, value, publisher: undefined, timeReceived: now, expires: now + 3_600_000 })
  const putMs = performance.now() - t
  t = performance.now()
  for (let i = 0; i < N; i++) store.addProvider({ key: pkeys[i] as Uint8Array, provider, addrs: [addr], timeReceived: now, expires: now + 3_600_000 })
  const provideMs = performance.now() - t
  await store.flush()
  gc()
  const heapMiB = (process.memoryUsage().heapUsed - heap0) / 1048576
  const lookups = measureLookups(store, now)
  const out: Record<string, unknown> = {
    store: name, records: N, providers: N,
    putPerSec: Math.round(N / putMs * 1000), addProviderPerSec: Math.round(N / provideMs * 1000),
    ...lookups, heapMiB: +heapMiB.toFixed(1)
  }
  if (store instanceof JournalRecordStore) out.journalMiB = +(store.journalBytes / 1048576).toFixed(1)
  await store.close()
  if (reopen !== undefined) {
    t = performance.now()
    const again = reopen()
    out.reopenMs = Math.round(performance.now() - t)
    out.afterReopen = measureLookups(again, now)
    await again.close()
  }
  console.log(JSON.stringify(out))
}

await run('memory', () => new MemoryRecordStore())
const dir = mkdtempSync(join(tmpdir(), 'kad-bench-'))
await run('journal', () => new JournalRecordStore(dir), () => new JournalRecordStore(dir))
rmSync(dir, { recursive: true })
