/**
 * Length-prefixed framing: round trip across chunk splits, the limit checked at the prefix,
 * clean end vs truncation, and garbage input.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { ByteReader } from '../../src/utils/byte-reader.ts'
import { lengthPrefixed, readLengthPrefixed } from '../../src/utils/length-prefixed.ts'
import { ProtocolViolationError } from '../../src/core/errors.ts'

async function * chunks (bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size)
}

test('round trip of several messages across every chunk size', async () => {
  const msgs = [new Uint8Array(0), randomBytes(1), randomBytes(127), randomBytes(128), randomBytes(300), randomBytes(20_000)]
  const wire = Buffer.concat(msgs.map(m => lengthPrefixed(m)))
  for (const size of [1, 2, 3, 7, 64, 100_000]) {
    const reader = new ByteReader(chunks(wire, size))
    for (const m of msgs) assert.deepEqual(Buffer.from(await readLengthPrefixed(reader, 1 << 20, 'test') as Uint8Array), Buffer.from(m))
    assert.equal(await readLengthPrefixed(reader, 1 << 20, 'test'), undefined)
  }
})

test('the limit is enforced from the prefix alone; truncation and bad prefixes are violations', async () => {
  // Only the prefix of a 1 MiB message: must fail without waiting for the body.
  const prefixOnly = lengthPrefixed(new Uint8Array(1 << 20)).subarray(0, 3)
  await assert.rejects(readLengthPrefixed(new ByteReader(chunks(prefixOnly, 1)), 1000, 'test'), (e: unknown) => e instanceof ProtocolViolationError && e.code === 'ERR_MESSAGE_TOO_LARGE')
  await assert.rejects(readLengthPrefixed(new ByteReader(chunks(lengthPrefixed(randomBytes(10)).subarray(0, 5), 2)), 100, 'test'), /ended inside/)
  await assert.rejects(readLengthPrefixed(new ByteReader(chunks(Uint8Array.from([0x80]), 1)), 100, 'test'), /ended inside a length prefix/)
  await assert.rejects(readLengthPrefixed(new ByteReader(chunks(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), 1)), 1 << 30, 'test'), /too long/)
  await assert.rejects(readLengthPrefixed(new ByteReader(chunks(Uint8Array.from([0x81, 0x00]), 1)), 1000, 'test'), /non-minimal/)
})

test('garbage never throws anything but a ProtocolViolationError', async () => {
  for (let i = 0; i < 500; i++) {
    const reader = new ByteReader(chunks(randomBytes(i % 64), 1 + (i % 5)))
    try {
      while (await readLengthPrefixed(reader, 32, 'test') !== undefined) { /* keep reading */ }
    } catch (err) {
      assert.ok(err instanceof ProtocolViolationError, String(err))
    }
  }
})
