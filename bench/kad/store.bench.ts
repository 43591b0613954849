/**
 * Kademlia record store measurements (issue 5 target: 100,000 records and 100,000 provider
 * entries, store lookups under 1 ms p99, memory reported), every store in one run:
 *   node --expose-gc --import tsx bench/kad/store.bench.ts [count]
 * Each store runs in two fresh child processes so that heap and RSS are its own:
 *   load    insert `count` records and `count` provider entries, flush (durable), time lookups,
 *           report heap/RSS and the directory's size on disk, close;
 *   reopen  a new process (a restart): open the same directory, time the open, time lookups,
 *           report heap/RSS, then time expire() with every entry due.
 * Values are 300 pseudo-random bytes, distinct per record (a typical IPNS record), record keys 38 bytes (`/ipns/` + 32 bytes),
 * provider keys 34 bytes (a SHA-256 multihash), one provider with one address per key.
 * Memory: heap = JS heap growth over the empty process (after gc); buffers = Node's `external`
 * (ArrayBuffer contents such as keys and values, and lmdb's shared buffers), absolute; RSS absolute
 * (an empty child is ~120 MiB: node + tsx). Disk: blocks allocated under the store's directory.
 * Keys are derived from their index, so both processes agree on them. Prints one JSON line per
 * phase and a Markdown table at the end.
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MemoryRecordStore } from '../../src/protocols/kad/store/memory.ts'
import { JournalRecordStore } from '../../src/protocols/kad/store/journal.ts'
import { LmdbRecordStore } from '../../src/protocols/kad/store/lmdb.ts'
import { LevelRecordStore } from '../../src/protocols/kad/store/level.ts'
import type { RecordStore } from '../../src/protocols/kad/store/types.ts'

const STORES = ['memory', 'journal', 'lmdb', 'level'] as const
type StoreName = typeof STORES[number]
/** Lookups timed per kind and phase: 20,000 gives a p99 from 200 samples above it. */
const LOOKUPS = 20_000
/** Entries expire in an hour: live for the whole run. */
const TTL_MS = 3_600_000

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})
const h = (tag: string, i: number): Buffer => createHash('sha256').update(`${tag}${i}`).digest()
const recordKey = (i: number): Uint8Array => new Uint8Array(Buffer.concat([Buffer.from('/ipns/'), h('r', i)]))
const providerKey = (i: number): Uint8Array => new Uint8Array(Buffer.concat([Buffer.from([0x12, 0x20]), h('p', i)]))
const provider = new Uint8Array(Buffer.concat([Buffer.from([0x12, 0x20]), h('peer', 0)]))
/** 300 pseudo-random bytes per record (IPNS records are mostly a signature: incompressible, and distinct per record). */
function valueOf (i: number): Uint8Array {
  let x = (i * 0x9e3779b1 + 1) >>> 0
  const v = new Uint8Array(300)
  for (let j = 0; j < v.length; j++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; v[j] = x & 0xff }
  return v
}
const addr = Uint8Array.from([4, 1, 2, 3, 4, 6, 0x0f, 0xa1])

async function open (name: StoreName, dir: string): Promise<RecordStore> {
  switch (name) {
    case 'memory': return new MemoryRecordStore()
    case 'journal': return new JournalRecordStore(dir)
    case 'lmdb': return new LmdbRecordStore(dir)
    case 'level': return await LevelRecordStore.open(dir)
  }
}

function percentile (sorted: number[], p: number): number { return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number }
const us = (x: number): number => +x.toFixed(2)

function lookups (store: RecordStore, n: number, now: number): Record<string, number> {
  const rt: number[] = []
  const pt: number[] = []
  const rk = Array.from({ length: LOOKUPS }, (_, i) => recordKey((i * 7919) % n))
  const pk = Array.from({ length: LOOKUPS }, (_, i) => providerKey((i * 104729) % n))
  for (let i = 0; i < LOOKUPS; i++) {
    let t = process.hrtime.bigint()
    if (store.getRecord(rk[i] as Uint8Array, now) === undefined) throw new Error('missing record')
    rt.push(Number(process.hrtime.bigint() - t) / 1000)
    t = process.hrtime.bigint()
    if (store.getProviders(pk[i] as Uint8Array, now).length !== 1) throw new Error('missing provider')
    pt.push(Number(process.hrtime.bigint() - t) / 1000)
  }
  rt.sort((a, b) => a - b); pt.sort((a, b) => a - b)
  return {
    recordP50us: us(percentile(rt, 0.5)),
    recordP99us: us(percentile(rt, 0.99)),
    recordMaxus: us(rt[rt.length - 1] as number),
    providerP50us: us(percentile(pt, 0.5)),
    providerP99us: us(percentile(pt, 0.99))
  }
}

/**
 * Full passes, as the behaviour makes them at each replication/republication interval
 * (`records()`) and reprovide interval (`providers()`/`provided()`): one synchronous walk each.
 */
function scans (store: RecordStore, n: number): Record<string, number> {
  let t = performance.now()
  let records = 0
  for (const r of store.records()) if (r.value.byteLength > 0) records++
  const recordsScanMs = Math.round(performance.now() - t)
  t = performance.now()
  let providers = 0
  for (const p of store.providers()) if (p.provider.byteLength > 0) providers++
  const providersScanMs = Math.round(performance.now() - t)
  if (records !== n || providers !== n) throw new Error(`scan found ${records} records, ${providers} providers`)
  return { recordsScanMs, providersScanMs }
}

/** Bytes allocated on disk under `dir` (du's measure: sparse files count what they use). */
function diskBytes (dir: string): number {
  let total = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    total += e.isDirectory() ? diskBytes(p) : statSync(p).blocks * 512
  }
  return total
}

const mib = (b: number): number => +(b / 1048576).toFixed(1)

function memory (heap0: number): Record<string, number> {
  gc(); gc()
  const m = process.memoryUsage()
  return { heapMiB: mib(m.heapUsed - heap0), externalMiB: mib(m.external) /* includes arrayBuffers */, rssMiB: mib(m.rss) }
}

async function child (phase: string, name: StoreName, dir: string, n: number, now: number): Promise<void> {
  gc(); gc()
  const heap0 = process.memoryUsage().heapUsed
  if (phase === 'load') {
    const store = await open(name, dir)
    const t = performance.now()
    for (let i = 0; i < n; i++) store.putRecord({ key: recordKey(i), value: valueOf(i), publisher: undefined, timeReceived: now, expires: now + TTL_MS })
    const putLoopMs = performance.now() - t
    const t2 = performance.now()
    for (let i = 0; i < n; i++) store.addProvider({ key: providerKey(i), provider, addrs: [addr], timeReceived: now, expires: now + TTL_MS })
    const provideLoopMs = performance.now() - t2
    await store.flush()
    const totalMs = performance.now() - t
    const out = {
      phase, store: name, records: n, providers: n,
      putPerSec: Math.round(n / putLoopMs * 1000),
      addProviderPerSec: Math.round(n / provideLoopMs * 1000),
      durableInsertPerSec: Math.round(2 * n / totalMs * 1000),
      ...lookups(store, n, now),
      ...scans(store, n),
      ...memory(heap0)
    }
    await store.close()
    console.log(JSON.stringify({ ...out, diskMiB: name === 'memory' ? 0 : mib(diskBytes(dir)) }))
  } else {
    const t = performance.now()
    const store = await open(name, dir)
    const reopenMs = +(performance.now() - t).toFixed(1)
    const s = store.stats()
    if (s.records !== n || s.providers !== n) throw new Error(`reopened ${name} holds ${JSON.stringify(s)}`)
    const out = { phase, store: name, reopenMs, ...lookups(store, n, now), ...memory(heap0) }
    // A mass expiry: everything due at once (the worst case of the behaviour's minutely expire).
    const t3 = performance.now()
    const gone = store.expire(now + TTL_MS)
    const expireAllMs = Math.round(performance.now() - t3)
    if (gone.records !== n || gone.providers !== n) throw new Error(`expire removed ${JSON.stringify(gone)}`)
    await store.close()
    console.log(JSON.stringify({ ...out, expireAllMs }))
  }
}

const self = fileURLToPath(import.meta.url)
if (process.argv[2] === '--child') {
  const [, , , phase, name, dir, n, now] = process.argv
  await child(phase as string, name as StoreName, dir as string, Number(n), Number(now))
} else {
  const n = Number(process.argv[2] ?? 100_000)
  const now = Date.now()
  const rows: Array<Record<string, Record<string, number | string>>> = []
  for (const name of STORES) {
    const dir = mkdtempSync(join(tmpdir(), `kad-bench-${name}-`))
    const row: Record<string, Record<string, number | string>> = {}
    for (const phase of name === 'memory' ? ['load'] : ['load', 'reopen']) {
      const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', self, '--child', phase, name, dir, String(n), String(now)], { encoding: 'utf8' })
      if (r.status !== 0) throw new Error(`${name} ${phase} failed: ${r.stderr}`)
      const line = r.stdout.trim().split('\n').pop() as string
      console.log(line)
      row[phase] = JSON.parse(line)
    }
    rows.push(row)
    rmSync(dir, { recursive: true, force: true })
  }
  console.log('\n| store | put/s (loop) | add-provider/s (loop) | durable inserts/s | record lookup p50 / p99 | provider lookup p99 | heap + buffers / RSS after load | on disk | reopen | lookup p50 / p99 after reopen | heap + buffers / RSS after reopen | full scan records / providers | expire all 200k |')
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
  const k = (x: unknown): string => `${Math.round(Number(x) / 1000)}k`
  for (const { load: l, reopen: o } of rows) {
    if (l === undefined) continue
    console.log(`| ${String(l.store)} | ${k(l.putPerSec)} | ${k(l.addProviderPerSec)} | ${k(l.durableInsertPerSec)} | ${l.recordP50us} / ${l.recordP99us} µs | ${l.providerP99us} µs | ${l.heapMiB} + ${l.externalMiB} / ${l.rssMiB} MiB | ${l.store === 'memory' ? '—' : `${l.diskMiB} MiB`} | ` +
      (o === undefined ? '— | — | — |' : `${o.reopenMs} ms | ${o.recordP50us} / ${o.recordP99us} µs | ${o.heapMiB} + ${o.externalMiB} / ${o.rssMiB} MiB |`) +
      ` ${l.recordsScanMs} / ${l.providersScanMs} ms | ${o === undefined ? '—' : `${o.expireAllMs} ms`} |`)
  }
}
