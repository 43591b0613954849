/**
 * The RecordStore compliance suite: every store implementation runs these same tests (in the
 * manner of js-libp2p's shared transport/muxer suites). Persistent stores also run the restart
 * tests: entries survive a close and reopen, and expire on time after it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryRecordStore } from '../../../src/protocols/kad/store/memory.ts'
import { StoreLimitError, type RecordStore, type RecordStoreLimits, type StoredRecord, type ProviderEntry } from '../../../src/protocols/kad/store/types.ts'
import { Rng } from './rng.ts'
import { randomPeerId } from './helpers.ts'

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
export const rec = (k: string, v: string, expires: number | null, t = 0): StoredRecord => ({ key: enc(k), value: enc(v), publisher: undefined, timeReceived: t, expires })
export const prov = (k: string, p: Uint8Array, expires: number | null, t = 0): ProviderEntry => ({ key: enc(k), provider: p, addrs: [Uint8Array.from([4, 127, 0, 0, 1])], timeReceived: t, expires })

export interface StoreFactory {
  /** Opens the store kept in `dir` (a fresh temporary directory, or the same one again to reopen). */
  open: (dir: string, limits?: Partial<RecordStoreLimits>) => Promise<RecordStore>
  /** Whether entries survive `close()` and a new `open` on the same directory. */
  persistent: boolean
}

async function withStore (f: StoreFactory, body: (s: RecordStore, dir: string) => Promise<void>, limits?: Partial<RecordStoreLimits>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kad-store-'))
  const store = await f.open(dir, limits)
  try {
    await body(store, dir)
  } finally {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

const sortedKeys = (it: Iterable<{ key: Uint8Array }>): string[] => [...it].map(e => Buffer.from(e.key).toString('hex')).sort()

export function storeCompliance (name: string, f: StoreFactory): void {
  test(`${name}: records expire, replace, and are removed`, async () => withStore(f, async (store) => {
    store.putRecord(rec('/a/1', 'x', 1000))
    store.putRecord(rec('/a/2', 'y', null))
    assert.deepEqual(store.getRecord(enc('/a/1'), 999)?.value, enc('x'))
    assert.equal(store.getRecord(enc('/a/1'), 1000), undefined)
    store.putRecord(rec('/a/1', 'z', 5000))
    assert.deepEqual(store.getRecord(enc('/a/1'), 1000)?.value, enc('z'))
    assert.deepEqual(sortedKeys(store.records()), sortedKeys([rec('/a/1', '', null), rec('/a/2', '', null)]))
    store.removeRecord(enc('/a/2'))
    store.removeRecord(enc('/a/absent'))
    assert.equal(store.getRecord(enc('/a/2'), 0), undefined)
    assert.deepEqual(store.stats(), { records: 1, providerKeys: 0, providers: 0 })
    // The replacement's expiry counts, not the first one's.
    assert.deepEqual(store.expire(1000), { records: 0, providers: 0 })
    assert.deepEqual(store.expire(6000), { records: 1, providers: 0 })
    assert.equal(store.stats().records, 0)
    assert.deepEqual([...store.records()], [])
  }))

  test(`${name}: providers per key, newest first, expiry, local provided set`, async () => withStore(f, async (store) => {
    const rng = new Rng(1)
    const local = randomPeerId(rng)
    const other = randomPeerId(rng)
    store.addProvider(prov('/p/1', other.bytes, 100, 1))
    store.addProvider(prov('/p/1', local.bytes, 200, 2))
    store.addProvider(prov('/p/2', local.bytes, null, 3))
    assert.deepEqual(store.getProviders(enc('/p/1'), 50).map(e => e.timeReceived), [2, 1])
    assert.deepEqual(store.getProviders(enc('/p/1'), 150).map(e => e.timeReceived), [2])
    assert.deepEqual(store.getProviders(enc('/p/1'), 50)[0]?.addrs, [Uint8Array.from([4, 127, 0, 0, 1])])
    assert.deepEqual(store.getProviders(enc('/p/1'), 50)[1]?.provider, other.bytes)
    assert.deepEqual(store.getProviders(enc('/p/none'), 0), [])
    assert.equal([...store.provided(local)].length, 2)
    assert.equal([...store.providers()].length, 3)
    // A refresh by the same provider replaces its entry and makes it the newest.
    store.addProvider(prov('/p/1', other.bytes, 400, 4))
    assert.deepEqual(store.getProviders(enc('/p/1'), 50).map(e => e.timeReceived), [4, 2])
    assert.deepEqual(store.stats(), { records: 0, providerKeys: 2, providers: 3 })
    store.removeProvider(enc('/p/2'), local)
    assert.equal([...store.provided(local)].length, 1)
    assert.deepEqual(store.expire(300), { records: 0, providers: 1 })
    assert.deepEqual(store.stats(), { records: 0, providerKeys: 1, providers: 1 })
    assert.deepEqual(store.expire(400), { records: 0, providers: 1 })
    assert.deepEqual(store.stats(), { records: 0, providerKeys: 0, providers: 0 })
  }))

  test(`${name}: limits`, async () => withStore(f, async (store) => {
    assert.throws(() => store.putRecord(rec('/a/big', 'x'.repeat(70 * 1024), null)), StoreLimitError)
    const rng = new Rng(2)
    for (let i = 0; i < 25; i++) store.addProvider({ ...prov('/p/x', randomPeerId(rng).bytes, null), timeReceived: i })
    const ps = store.getProviders(enc('/p/x'), 0)
    assert.equal(ps.length, 20)
    assert.equal(ps[0]?.timeReceived, 24)
    assert.equal(ps[19]?.timeReceived, 5)
    assert.deepEqual(store.stats(), { records: 0, providerKeys: 1, providers: 20 })
  }))

  test(`${name}: record and provider-key count limits`, async () => withStore(f, async (s) => {
    s.putRecord(rec('/a/1', 'x', null))
    s.putRecord(rec('/a/2', 'x', null))
    s.putRecord(rec('/a/2', 'y', null)) // replacing is allowed
    assert.throws(() => s.putRecord(rec('/a/3', 'x', null)), (e: unknown) => e instanceof StoreLimitError && e.limit === 'maxRecords')
    s.removeRecord(enc('/a/1'))
    s.putRecord(rec('/a/3', 'x', null)) // room again
    s.addProvider(prov('/p/1', Uint8Array.from([1]), null))
    assert.throws(() => s.addProvider(prov('/p/2', Uint8Array.from([1]), null)), (e: unknown) => e instanceof StoreLimitError && e.limit === 'maxProviderKeys')
    assert.deepEqual(s.stats(), { records: 2, providerKeys: 1, providers: 1 })
  }, { maxRecords: 2, maxProviderKeys: 1 }))

  test(`${name}: random operations agree with a model, reads right after writes (and across a reopen when persistent)`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kad-store-'))
    const rng = new Rng(7)
    const model = new MemoryRecordStore()
    let store = await f.open(dir)
    const peers = Array.from({ length: 6 }, () => randomPeerId(rng).bytes)
    const keys = Array.from({ length: 12 }, (_, i) => enc(`/k/${i}`))
    let now = 1_000
    const check = (): void => {
      for (const k of keys) {
        assert.deepEqual(store.getRecord(k, now), model.getRecord(k, now))
        assert.deepEqual(store.getProviders(k, now), model.getProviders(k, now))
      }
      assert.deepEqual(store.stats(), model.stats())
      assert.deepEqual(sortedKeys(store.records()), sortedKeys(model.records()))
      assert.equal([...store.providers()].length, [...model.providers()].length)
    }
    try {
      for (let step = 0; step < 600; step++) {
        const k = keys[rng.int(keys.length)] as Uint8Array
        const p = peers[rng.int(peers.length)] as Uint8Array
        const expires = rng.int(4) === 0 ? null : now + 1 + rng.int(500)
        switch (rng.int(6)) {
          case 0: case 1: {
            const r = { key: k, value: Uint8Array.from(rng.bytes(1 + rng.int(40))), publisher: rng.int(2) === 0 ? undefined : p, timeReceived: now, expires }
            model.putRecord(r); store.putRecord(r); break
          }
          case 2: model.removeRecord(k); store.removeRecord(k); break
          case 3: case 4: {
            const e = { key: k, provider: p, addrs: [Uint8Array.from(rng.bytes(1 + rng.int(8)))], timeReceived: now, expires }
            model.addProvider(e); store.addProvider(e); break
          }
          default: model.removeProvider(k, p); store.removeProvider(k, p)
        }
        now += rng.int(20)
        if (step % 50 === 0) assert.deepEqual(store.expire(now), model.expire(now))
        check()
        if (step % 97 === 0) await store.flush()
        if (f.persistent && step % 150 === 149) {
          await store.close()
          store = await f.open(dir)
          // The journal replays entries that expired before the close (reads hide them; stats
          // count them until the next expire), so counts are compared after an expiry pass.
          store.expire(now); model.expire(now)
          check()
        }
      }
    } finally {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  if (!f.persistent) return

  test(`${name}: records and providers survive a restart and expire on time after it`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kad-store-'))
    const rng = new Rng(3)
    const provider = randomPeerId(rng)
    const second = randomPeerId(rng)
    const t0 = Date.now()
    const a = await f.open(dir)
    a.putRecord({ ...rec('/a/short', 'v1', t0 + 1000, t0), publisher: provider.bytes })
    a.putRecord(rec('/a/long', 'v2', t0 + 100_000, t0))
    a.putRecord(rec('/a/gone', 'v3', null, t0))
    a.removeRecord(enc('/a/gone'))
    a.addProvider(prov('/p/1', provider.bytes, t0 + 1000, t0))
    a.addProvider(prov('/p/1', second.bytes, t0 + 100_000, t0 + 1))
    a.addProvider(prov('/p/2', provider.bytes, t0 + 100_000, t0))
    await a.close() // no flush first: close makes the writes durable

    const b = await f.open(dir)
    assert.deepEqual(b.stats(), { records: 2, providerKeys: 2, providers: 3 })
    const short = b.getRecord(enc('/a/short'), t0 + 500)
    assert.deepEqual(short?.value, enc('v1'))
    assert.deepEqual(short?.publisher, provider.bytes)
    assert.equal(short?.timeReceived, t0)
    assert.equal(b.getRecord(enc('/a/gone'), t0), undefined)
    assert.deepEqual(b.getProviders(enc('/p/1'), t0 + 500).map(e => e.timeReceived), [t0 + 1, t0])
    assert.deepEqual(b.getProviders(enc('/p/1'), t0 + 500)[1]?.addrs, [Uint8Array.from([4, 127, 0, 0, 1])])
    assert.equal([...b.provided(provider)].length, 2)
    // After the first expiry time: the short-lived entries are gone, the others remain.
    assert.equal(b.getRecord(enc('/a/short'), t0 + 1000), undefined)
    assert.deepEqual(b.getProviders(enc('/p/1'), t0 + 1000).map(e => e.timeReceived), [t0 + 1])
    assert.deepEqual(b.getRecord(enc('/a/long'), t0 + 1000)?.value, enc('v2'))
    assert.deepEqual(b.expire(t0 + 1000), { records: 1, providers: 1 })
    assert.deepEqual(b.stats(), { records: 1, providerKeys: 2, providers: 2 })
    await b.close()

    const c = await f.open(dir)
    assert.equal(c.getRecord(enc('/a/short'), t0 + 1000), undefined)
    assert.deepEqual(c.getRecord(enc('/a/long'), t0 + 1000)?.value, enc('v2'))
    c.expire(t0 + 1000)
    assert.deepEqual(c.stats(), { records: 1, providerKeys: 2, providers: 2 })
    // And the rest expires on time too.
    assert.deepEqual(c.expire(t0 + 100_000), { records: 1, providers: 2 })
    assert.deepEqual(c.stats(), { records: 0, providerKeys: 0, providers: 0 })
    await c.close()
    rmSync(dir, { recursive: true, force: true })
  })
}
