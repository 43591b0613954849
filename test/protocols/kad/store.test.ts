import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, statSync, truncateSync, appendFileSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryRecordStore } from '../../../src/protocols/kad/store/memory.ts'
import { JournalRecordStore, JOURNAL_FILE } from '../../../src/protocols/kad/store/journal.ts'
import { StoreLimitError, type RecordStore, type StoredRecord, type ProviderEntry } from '../../../src/protocols/kad/store/types.ts'
import { Validators, RecordValidationError, namespaceOf, publicKeyValidator } from '../../../src/protocols/kad/store/validation.ts'
import { generateKeyPair, peerIdFromPrivateKey } from '../../../src/identity/index.ts'
import { Rng } from './rng.ts'
import { randomPeerId } from './helpers.ts'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const rec = (k: string, v: string, expires: number | null, t = 0): StoredRecord => ({ key: enc(k), value: enc(v), publisher: undefined, timeReceived: t, expires })
const prov = (k: string, p: Uint8Array, expires: number | null, t = 0): ProviderEntry => ({ key: enc(k), provider: p, addrs: [Uint8Array.from([4, 127, 0, 0, 1])], timeReceived: t, expires })

function contract (name: string, make: () => { store: RecordStore, cleanup: () => Promise<void> }): void {
  test(`${name}: records expire, replace, and are removed`, async () => {
    const { store, cleanup } = make()
    store.putRecord(rec('/a/1', 'x', 1000))
    store.putRecord(rec('/a/2', 'y', null))
    assert.deepEqual(store.getRecord(enc('/a/1'), 999)?.value, enc('x'))
    assert.equal(store.getRecord(enc('/a/1'), 1000), undefined)
    store.putRecord(rec('/a/1', 'z', 5000))
    assert.deepEqual(store.getRecord(enc('/a/1'), 1000)?.value, enc('z'))
    store.removeRecord(enc('/a/2'))
    assert.equal(store.getRecord(enc('/a/2'), 0), undefined)
    assert.deepEqual(store.expire(6000), { records: 1, providers: 0 })
    assert.equal(store.stats().records, 0)
    await cleanup()
  })

  test(`${name}: providers per key, newest first, expiry, local provided set`, async () => {
    const { store, cleanup } = make()
    const rng = new Rng(1)
    const local = randomPeerId(rng)
    const others = [randomPeerId(rng), randomPeerId(rng)]
    store.addProvider(prov('/p/1', (others[0] as never as { bytes: Uint8Array }).bytes, 100, 1))
    store.addProvider(prov('/p/1', local.bytes, 200, 2))
    store.addProvider(prov('/p/2', local.bytes, null, 3))
    assert.deepEqual(store.getProviders(enc('/p/1'), 50).map(e => e.timeReceived), [2, 1])
    assert.deepEqual(store.getProviders(enc('/p/1'), 150).map(e => e.timeReceived), [2])
    assert.equal([...store.provided(local)].length, 2)
    store.removeProvider(enc('/p/2'), local)
    assert.equal([...store.provided(local)].length, 1)
    assert.deepEqual(store.expire(300), { records: 0, providers: 2 })
    assert.deepEqual(store.stats(), { records: 0, providerKeys: 0, providers: 0 })
    await cleanup()
  })

  test(`${name}: limits`, async () => {
    const { store, cleanup } = make()
    assert.throws(() => store.putRecord(rec('/a/big', 'x'.repeat(70 * 1024), null)), StoreLimitError)
    const rng = new Rng(2)
    for (let i = 0; i < 25; i++) store.addProvider({ ...prov('/p/x', randomPeerId(rng).bytes, null), timeReceived: i })
    const ps = store.getProviders(enc('/p/x'), 0)
    assert.equal(ps.length, 20)
    assert.equal(ps[0]?.timeReceived, 24)
    assert.equal(ps[19]?.timeReceived, 5)
    await cleanup()
  })
}

contract('memory', () => ({ store: new MemoryRecordStore(), cleanup: async () => {} }))
contract('journal', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kad-store-'))
  const store = new JournalRecordStore(dir)
  return { store, cleanup: async () => { await store.close(); rmSync(dir, { recursive: true }) } }
})

test('memory: record count limit', () => {
  const s = new MemoryRecordStore({ maxRecords: 2, maxProviderKeys: 1 })
  s.putRecord(rec('/a/1', 'x', null))
  s.putRecord(rec('/a/2', 'x', null))
  s.putRecord(rec('/a/2', 'y', null)) // replacing is allowed
  assert.throws(() => s.putRecord(rec('/a/3', 'x', null)), (e: unknown) => e instanceof StoreLimitError && e.limit === 'maxRecords')
  s.addProvider(prov('/p/1', Uint8Array.from([1]), null))
  assert.throws(() => s.addProvider(prov('/p/2', Uint8Array.from([1]), null)), (e: unknown) => e instanceof StoreLimitError && e.limit === 'maxProviderKeys')
})

test('journal: records and providers survive a restart and expire on time after it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kad-store-'))
  const rng = new Rng(3)
  const provider = randomPeerId(rng)
  const t0 = Date.now()
  const a = new JournalRecordStore(dir)
  a.putRecord({ ...rec('/a/short', 'v1', t0 + 1000, t0), publisher: provider.bytes })
  a.putRecord(rec('/a/long', 'v2', t0 + 100_000, t0))
  a.putRecord(rec('/a/gone', 'v3', null, t0))
  a.removeRecord(enc('/a/gone'))
  a.addProvider(prov('/p/1', provider.bytes, t0 + 1000, t0))
  a.addProvider(prov('/p/2', provider.bytes, t0 + 100_000, t0))
  await a.close()

  const b = new JournalRecordStore(dir)
  assert.equal(b.replay.entries, 6)
  assert.equal(b.replay.truncatedBytes, 0)
  const short = b.getRecord(enc('/a/short'), t0 + 500)
  assert.deepEqual(short?.value, enc('v1'))
  assert.deepEqual(short?.publisher, provider.bytes)
  assert.equal(b.getRecord(enc('/a/gone'), t0), undefined)
  assert.equal(b.getProviders(enc('/p/1'), t0 + 500).length, 1)
  assert.deepEqual(b.getProviders(enc('/p/1'), t0 + 500)[0]?.addrs, [Uint8Array.from([4, 127, 0, 0, 1])])
  // After the first expiry time: the short-lived entries are gone, the others remain.
  assert.equal(b.getRecord(enc('/a/short'), t0 + 1000), undefined)
  assert.equal(b.getProviders(enc('/p/1'), t0 + 1000).length, 0)
  assert.deepEqual(b.getRecord(enc('/a/long'), t0 + 1000)?.value, enc('v2'))
  assert.deepEqual(b.expire(t0 + 1000), { records: 1, providers: 1 })
  // Compaction keeps exactly the live entries.
  assert.ok(b.maybeCompact(true))
  await b.close()
  const c = new JournalRecordStore(dir)
  assert.equal(c.replay.entries, 2)
  assert.deepEqual(c.stats(), { records: 1, providerKeys: 1, providers: 1 })
  await c.close()
  rmSync(dir, { recursive: true })
})

test('journal: a torn or corrupt tail is cut off and the rest replays', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kad-store-'))
  const a = new JournalRecordStore(dir)
  for (let i = 0; i < 10; i++) a.putRecord(rec(`/a/${i}`, `v${i}`, null))
  await a.close()
  const file = join(dir, JOURNAL_FILE)
  const full = statSync(file).size
  truncateSync(file, full - 3) // crash in the middle of the last append
  const b = new JournalRecordStore(dir)
  assert.equal(b.replay.entries, 9)
  assert.ok(b.replay.truncatedBytes > 0)
  b.putRecord(rec('/a/new', 'n', null))
  await b.close()
  // Flip a byte inside the 3rd entry's body: replay stops before it.
  const bytes = readFileSync(file)
  const entryLen = bytes.readUInt32LE(8) + 8
  bytes[8 + 2 * entryLen + 10] = (bytes[8 + 2 * entryLen + 10] as number) ^ 0xff
  writeFileSync(file, bytes)
  const c = new JournalRecordStore(dir)
  assert.equal(c.replay.entries, 2)
  await c.close()
  appendFileSync(file, Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]))
  const d = new JournalRecordStore(dir)
  assert.equal(d.replay.entries, 2)
  await d.close()
  writeFileSync(file, 'not a journal')
  assert.throws(() => new JournalRecordStore(dir), /bad magic/)
  rmSync(dir, { recursive: true })
})

test('validators: /pk/ built in, namespaces, unknown namespaces, selection', () => {
  const key = generateKeyPair('Ed25519')
  const id = peerIdFromPrivateKey(key)
  const pkKey = new Uint8Array([...enc('/pk/'), ...id.bytes])
  const v = new Validators()
  v.validate(pkKey, key.publicKey.toProtobuf())
  const other = generateKeyPair('Ed25519')
  assert.throws(() => v.validate(pkKey, other.publicKey.toProtobuf()), /does not match/)
  assert.throws(() => v.validate(pkKey, Uint8Array.from([1, 2, 3])), RecordValidationError)
  assert.throws(() => publicKeyValidator.validate(enc('/pk/'), key.publicKey.toProtobuf()), RecordValidationError)
  assert.throws(() => v.validate(enc('/other/x'), enc('v')), /no validator for namespace 'other'/)
  assert.throws(() => v.validate(enc('plain'), enc('v')), /no \/namespace\/ prefix/)
  assert.equal(namespaceOf(enc('/ipns/abc')), 'ipns')
  assert.equal(namespaceOf(enc('//x')), undefined)
  // A registered namespace: values must be numbers, the highest wins.
  v.register('num', {
    validate (_k, value) { if (!/^\d+$/.test(Buffer.from(value).toString())) throw new RecordValidationError('not a number') },
    select (_k, values) { let b = 0; values.forEach((x, i) => { if (Number(Buffer.from(x).toString()) > Number(Buffer.from(values[b] as Uint8Array).toString())) b = i }); return b }
  })
  v.validate(enc('/num/a'), enc('12'))
  assert.throws(() => v.validate(enc('/num/a'), enc('x')), /not a number/)
  assert.equal(v.select(enc('/num/a'), [enc('3'), enc('17'), enc('5')]), 1)
  // Accepting unknown namespaces: the majority value wins.
  const open = new Validators({}, true)
  open.validate(enc('anything'), enc('v'))
  assert.equal(open.select(enc('/x/y'), [enc('a'), enc('b'), enc('b')]), 1)
  assert.throws(() => v.register('a/b', publicKeyValidator), RecordValidationError)
})

test('journal: replaying random garbage after the header never throws and keeps a usable store', async () => {
  const { writeFileSync: write } = await import('node:fs')
  const rng = new Rng(42)
  const dir = mkdtempSync(join(tmpdir(), 'kad-store-'))
  const file = join(dir, JOURNAL_FILE)
  // A valid prefix (two entries) followed by random bytes: the valid part replays, the rest is cut.
  const a = new JournalRecordStore(dir)
  a.putRecord(rec('/a/1', 'x', null))
  a.putRecord(rec('/a/2', 'y', null))
  await a.close()
  const valid = readFileSync(file)
  for (let i = 0; i < 300; i++) {
    write(file, Buffer.concat([valid, Buffer.from(rng.bytes(rng.int(200)))]))
    const s = new JournalRecordStore(dir)
    assert.ok(s.replay.entries >= 2)
    assert.deepEqual(s.getRecord(enc('/a/2'), 0)?.value, enc('y'))
    s.putRecord(rec('/a/3', 'z', null))
    await s.close()
  }
  rmSync(dir, { recursive: true })
})
