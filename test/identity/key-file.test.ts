import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, stat, writeFile, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as theirKeys from '@libp2p/crypto/keys'
import { saveKeyFile, loadKeyFile, loadOrCreateKeyFile, generateKeyPair, KeyFileError, peerIdFromPrivateKey } from '../../src/identity/index.ts'

test('key files: save with mode 0600, load back the same key, readable by @libp2p/crypto', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'l2n-key-'))
  try {
    const path = join(dir, 'node.key')
    const key = generateKeyPair('Ed25519')
    await saveKeyFile(path, key)
    assert.equal((await stat(path)).mode & 0o777, 0o600)
    const loaded = await loadKeyFile(path)
    assert.ok(loaded.publicKey.equals(key.publicKey))
    assert.deepEqual(loaded.raw, key.raw)
    const theirs = theirKeys.privateKeyFromProtobuf(await readFile(path))
    assert.deepEqual(theirs.publicKey.raw, key.publicKey.raw)

    const created = await loadOrCreateKeyFile(join(dir, 'new.key'))
    assert.equal((await stat(join(dir, 'new.key'))).mode & 0o777, 0o600)
    const again = await loadOrCreateKeyFile(join(dir, 'new.key'))
    assert.ok(peerIdFromPrivateKey(created).equals(peerIdFromPrivateKey(again)))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('key files: missing, empty, garbage and oversized files give a KeyFileError naming the file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'l2n-key-'))
  try {
    await assert.rejects(loadKeyFile(join(dir, 'absent.key')), (err: Error) => err instanceof KeyFileError && /absent\.key: cannot read/.test(err.message))
    await writeFile(join(dir, 'empty.key'), new Uint8Array(0))
    await assert.rejects(loadKeyFile(join(dir, 'empty.key')), /empty\.key: is empty/)
    await writeFile(join(dir, 'text.key'), 'this is not a key\n')
    await assert.rejects(loadKeyFile(join(dir, 'text.key')), (err: Error) => err instanceof KeyFileError && /not a libp2p PrivateKey protobuf/.test(err.message))
    await writeFile(join(dir, 'big.key'), new Uint8Array(100_000))
    await assert.rejects(loadKeyFile(join(dir, 'big.key')), /larger than any libp2p private key/)
    await assert.rejects(loadKeyFile(dir), /not a regular file/)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
