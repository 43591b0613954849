import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes, randomInt } from 'node:crypto'
import { ByteReader } from '../../src/utils/byte-reader.ts'

async function * chunks (data: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  let off = 0
  for (const n of sizes) { yield data.subarray(off, off + n); off += n }
  if (off < data.length) yield data.subarray(off)
}

test('ByteReader: any chunking and any read sizes give back the same bytes in order (property)', async () => {
  for (let round = 0; round < 200; round++) {
    const data = randomBytes(randomInt(0, 2000))
    const sizes = Array.from({ length: randomInt(0, 30) }, () => randomInt(0, 200))
    const reader = new ByteReader(chunks(data, sizes))
    const out: Uint8Array[] = []
    let total = 0
    while (true) {
      const want = randomInt(1, 300)
      const r = round % 2 === 0 ? await reader.readExactly(want) : await reader.next()
      if (r === undefined) {
        if (round % 2 === 0) { assert.ok(reader.partial < want); total += reader.partial }
        break
      }
      if (round % 2 === 0) assert.equal(r.byteLength, want)
      out.push(Uint8Array.from(r))
      total += r.byteLength
    }
    assert.equal(total, data.length)
    const joined = Buffer.concat(out)
    assert.ok(data.subarray(0, joined.length).equals(joined))
  }
})

test('ByteReader: a read inside one chunk is a view, not a copy', async () => {
  const data = new Uint8Array(100)
  const reader = new ByteReader(chunks(data, [100]))
  const r = await reader.readExactly(10)
  assert.equal(r?.buffer, data.buffer)
})
