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
