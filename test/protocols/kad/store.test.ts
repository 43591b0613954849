import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, statSync, truncateSync, appendFileSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryRecordStore } from '../../../src/protocols/kad/store/memory.ts'
import { JournalRecordStore, JOURNAL_FILE } from '../../../src/protocols/kad/store/journal.ts'
import { LmdbRecordStore } from '../../../src/protocols/kad/store/lmdb.ts'
import { LevelRecordStore } from '../../../src/protocols/kad/store/level.ts'
import { Validators, RecordValidationError, namespaceOf, publicKeyValidator } from '../../../src/protocols/kad/store/validation.ts'
import { generateKeyPair, peerIdFromPrivateKey } from '../../../src/identity/index.ts'
import { Rng } from './rng.ts'
import { randomPeerId } from './helpers.ts'
import { storeCompliance, enc, rec, prov } from './store-compliance.ts'
import { openPersistentStore, openPersistentStoreSync, MIGRATED_JOURNAL_FILE } from '../../../src/protocols/kad/store/persistent.ts'
import { LMDB_FILE, LMDB_MAX_KEY_BYTES, LMDB_EXPIRE_SYNC_TXN } from '../../../src/protocols/kad/store/lmdb.ts'
import { StoreLimitError } from '../../../src/protocols/kad/store/types.ts'
import { existsSync } from 'node:fs'


storeCompliance('memory', { open: async (_dir, limits) => new MemoryRecordStore(limits), persistent: false })
storeCompliance('journal', { open: async (dir, limits) => new JournalRecordStore(dir, { limits }), persistent: true })
storeCompliance('lmdb', { open: async (dir, limits) => new LmdbRecordStore(dir, { limits }), persistent: true })
storeCompliance('level', { open: async (dir, limits) => await LevelRecordStore.open(dir, { limits }), persistent: true })

test('journal: replay counts entries and compaction keeps exactly the live ones', async () => {
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

test('persistent store factory: lmdb by default, journal and level on request, a journal directory migrated into lmdb once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kad-store-'))
  const t0 = Date.now()
  const rng = new Rng(9)
  const p = randomPeerId(rng)
  // A directory written by the journal store (the default before lmdb).
  const j = openPersistentStoreSync(dir, { kind: 'journal' })
  assert.ok(j instanceof JournalRecordStore)
  j.putRecord(rec('/a/1', 'v1', t0 + 100_000, t0))
  j.putRecord(rec('/a/old', 'v0', t0 - 1, t0 - 10)) // already expired: copied, still hidden, expires on the first pass
  j.addProvider(prov('/p/1', p.bytes, t0 + 100_000, t0))
  await j.close()
  const notices: string[] = []
  const s = openPersistentStoreSync(dir, { onNotice: (m) => notices.push(m) })
  assert.ok(s instanceof LmdbRecordStore)
  assert.deepEqual(notices, ['migrated the journal store into lmdb'])
  assert.ok(existsSync(join(dir, MIGRATED_JOURNAL_FILE)) && !existsSync(join(dir, JOURNAL_FILE)) && existsSync(join(dir, LMDB_FILE)))
  assert.deepEqual(s.getRecord(enc('/a/1'), t0)?.value, enc('v1'))
  assert.equal(s.getRecord(enc('/a/old'), t0), undefined)
  assert.deepEqual(s.getProviders(enc('/p/1'), t0)[0]?.provider, p.bytes)
  assert.deepEqual(s.expire(t0), { records: 1, providers: 0 })
  await s.close()
  // The migration ran once: a reopen neither migrates again nor loses anything.
  const again = openPersistentStoreSync(dir, { onNotice: (m) => notices.push(m) })
  assert.equal(notices.length, 1)
  assert.deepEqual(again.stats(), { records: 1, providerKeys: 1, providers: 1 })
  await again.close()
  const level = await openPersistentStore(dir, { kind: 'level' })
  assert.ok(level instanceof LevelRecordStore)
  await level.close()
  assert.throws(() => openPersistentStoreSync(dir, { kind: 'level' }), /asynchronously/)
  rmSync(dir, { recursive: true })
  // Without a loadable lmdb the node still persists, with the journal, and says so.
  const fdir = mkdtempSync(join(tmpdir(), 'kad-store-'))
  const fallback = openPersistentStoreSync(fdir, { loadLmdb: () => { throw new Error('no prebuild for this platform') }, onNotice: (m) => notices.push(m) })
  assert.ok(fallback instanceof JournalRecordStore)
  assert.equal(notices.at(-1), 'lmdb did not load; using the journal store')
  await fallback.close()
  rmSync(fdir, { recursive: true })
})

test('lmdb: keys longer than LMDB allows are refused as a limit, and lookups of them find nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kad-store-'))
  const s = new LmdbRecordStore(dir)
  const long = new Uint8Array(LMDB_MAX_KEY_BYTES + 1).fill(0x61)
  assert.throws(() => s.putRecord({ key: long, value: enc('v'), publisher: undefined, timeReceived: 0, expires: null }), (e: unknown) => e instanceof StoreLimitError && e.limit === 'maxKeyBytes')
  assert.throws(() => s.addProvider({ key: long, provider: enc('p'), addrs: [], timeReceived: 0, expires: null }), StoreLimitError)
  assert.equal(s.getRecord(long, 0), undefined)
  assert.deepEqual(s.getProviders(long, 0), [])
  const max = new Uint8Array(LMDB_MAX_KEY_BYTES).fill(0x62)
  s.putRecord({ key: max, value: enc('v'), publisher: undefined, timeReceived: 0, expires: 10 })
  s.addProvider({ key: max, provider: new Uint8Array(64).fill(1), addrs: [], timeReceived: 0, expires: 10 })
  await s.flush()
  assert.deepEqual(s.getRecord(max, 0)?.value, enc('v'))
  assert.deepEqual(s.expire(10), { records: 1, providers: 1 })
  await s.close()
  rmSync(dir, { recursive: true })
})

test('lmdb: a mass expiry (one synchronous transaction) and one with writes still pending remove exactly what is due, durably', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kad-store-'))
  const n = LMDB_EXPIRE_SYNC_TXN + 200
  const rng = new Rng(11)
  const peer = randomPeerId(rng).bytes
  let s = new LmdbRecordStore(dir)
  for (let i = 0; i < n; i++) {
    s.putRecord(rec(`/m/${i}`, 'v', i % 2 === 0 ? 1000 : 5000))
    s.addProvider(prov(`/q/${i}`, peer, i % 2 === 0 ? 1000 : null))
  }
  await s.flush()
  // Nothing pending: the synchronous-transaction path.
  assert.deepEqual(s.expire(1000), { records: n / 2, providers: n / 2 })
  assert.deepEqual(s.stats(), { records: n / 2, providerKeys: n / 2, providers: n / 2 })
  assert.equal(s.getRecord(enc('/m/0'), 0), undefined)
  assert.deepEqual(s.getRecord(enc('/m/1'), 0)?.value, enc('v'))
  await s.close()
  s = new LmdbRecordStore(dir)
  assert.deepEqual(s.stats(), { records: n / 2, providerKeys: n / 2, providers: n / 2 })
  assert.equal(s.getProviders(enc('/q/0'), 0).length, 0)
  assert.deepEqual(s.expire(1000), { records: 0, providers: 0 })
  // A write still pending: the queued-writes path, which must agree.
  s.putRecord(rec('/m/new', 'w', 9000))
  assert.deepEqual(s.expire(5000), { records: n / 2, providers: 0 })
  assert.deepEqual(s.stats(), { records: 1, providerKeys: n / 2, providers: n / 2 })
  await s.close()
  s = new LmdbRecordStore(dir)
  assert.deepEqual(s.stats(), { records: 1, providerKeys: n / 2, providers: n / 2 })
  assert.deepEqual([...s.records()].map(r => Buffer.from(r.key).toString()), ['/m/new'])
  await s.close()
  rmSync(dir, { recursive: true })
})
