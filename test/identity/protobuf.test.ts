/**
 * readFields (src/identity/protobuf.ts) against a plain reference reader written from the protobuf
 * encoding spec, on messages with one- and multi-byte tags and lengths, every truncation of them,
 * random mutations and random garbage: both must give the same fields, or both must throw.
 */
import test from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { ProtobufError, ProtobufWriter, readFields, type ProtobufField } from '../../src/identity/protobuf.ts'

/** The spec, read literally: varints of at most 5 bytes and 32 bits, LEN within the message. */
function reference (buf: Uint8Array): Array<{ field: number, wireType: number, varint?: number, bytes?: number[] }> {
  let at = 0
  const varint = (): number => {
    let v = 0
    for (let i = 0; i < 5; i++) {
      if (at >= buf.length) throw new Error('truncated')
      const b = buf[at++] as number
      v += (b & 0x7f) * Math.pow(2, 7 * i)
      if (b < 128) { if (v > 0xffffffff) throw new Error('range'); return v }
    }
    throw new Error('too long')
  }
  const out: Array<{ field: number, wireType: number, varint?: number, bytes?: number[] }> = []
  while (at < buf.length) {
    const tag = varint()
    const field = Math.floor(tag / 8)
    const wireType = tag % 8
    if (field === 0) throw new Error('field 0')
    if (wireType === 0) out.push({ field, wireType, varint: varint() })
    else if (wireType === 2) {
      const len = varint()
      if (at + len > buf.length) throw new Error('length')
      out.push({ field, wireType, bytes: [...buf.subarray(at, at + len)] })
      at += len
    } else if (wireType === 1 || wireType === 5) {
      const size = wireType === 1 ? 8 : 4
      if (at + size > buf.length) throw new Error('fixed')
      at += size
      out.push({ field, wireType })
    } else throw new Error('wire type')
  }
  return out
}

function normalize (fields: ProtobufField[]): Array<{ field: number, wireType: number, varint?: number, bytes?: number[] }> {
  return fields.map(f => {
    const o: { field: number, wireType: number, varint?: number, bytes?: number[] } = { field: f.field, wireType: f.wireType }
    if (f.varint !== undefined) o.varint = f.varint
    if (f.bytes !== undefined) o.bytes = [...f.bytes]
    return o
  })
}

let compared = 0
let bothAccepted = 0
function same (buf: Uint8Array): void {
  let want: ReturnType<typeof reference> | undefined
  try { want = reference(buf) } catch { want = undefined }
  let got: ReturnType<typeof reference> | undefined
  try {
    got = normalize(readFields(buf))
  } catch (err) {
    assert.ok(err instanceof ProtobufError, `readFields threw ${String(err)}`)
    got = undefined
  }
  assert.deepEqual(got, want, `input ${Buffer.from(buf).toString('hex')}`)
  compared++
  if (got !== undefined) bothAccepted++
}

function sample (): Uint8Array {
  const w = new ProtobufWriter()
    .varint(1, 3)
    .bytes(2, randomBytes(40))
    .varint(17, 300)                  // two-byte tag and value
    .bytes(20, randomBytes(200))      // two-byte tag and length
    .varint(2047, 0xffffffff)         // the largest 32-bit value: five bytes
    .string(5, 'yamux')
  const fixed = Uint8Array.from([(6 << 3) | 1, 1, 2, 3, 4, 5, 6, 7, 8, (7 << 3) | 5, 9, 9, 9, 9])
  const body = w.finish()
  const out = new Uint8Array(body.length + fixed.length)
  out.set(body)
  out.set(fixed, body.length)
  return out
}

test('readFields decodes what ProtobufWriter wrote, multi-byte tags and lengths included', () => {
  const buf = sample()
  const fields = readFields(buf)
  assert.deepEqual(fields.map(f => [f.field, f.wireType]), [[1, 0], [2, 2], [17, 0], [20, 2], [2047, 0], [5, 2], [6, 1], [7, 5]])
  assert.equal(fields[0]?.varint, 3)
  assert.equal(fields[1]?.bytes?.byteLength, 40)
  assert.equal(fields[2]?.varint, 300)
  assert.equal(fields[3]?.bytes?.byteLength, 200)
  assert.equal(fields[4]?.varint, 0xffffffff)
  assert.equal(new TextDecoder().decode(fields[5]?.bytes), 'yamux')
  assert.throws(() => readFields(Uint8Array.from([0x08, 0x80, 0x80, 0x80, 0x80, 0x10])), /varint out of range/)
  assert.throws(() => readFields(Uint8Array.from([0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01])), /varint too long/)
  assert.throws(() => readFields(Uint8Array.from([0x12])), /truncated varint/)
  assert.throws(() => readFields(Uint8Array.from([0x12, 0x05, 0x00])), /length exceeds/)
  assert.throws(() => readFields(Uint8Array.from([0x02, 0x00])), /field number 0/)
  assert.throws(() => readFields(Uint8Array.from([0x0b])), /wire type 3/)
})

test('readFields agrees with the reference reader on truncations, mutations and garbage', () => {
  for (let round = 0; round < 5; round++) {
    const buf = sample()
    for (let cut = 0; cut <= buf.length; cut++) same(buf.subarray(0, cut))
    for (let i = 0; i < 2000; i++) {
      const m = Uint8Array.from(buf)
      m[(i * 7919) % m.length] = randomBytes(1)[0] as number
      same(m)
    }
  }
  for (let i = 0; i < 5000; i++) same(randomBytes(i % 64))
  assert.ok(bothAccepted > 1000 && bothAccepted < compared, `accepted ${bothAccepted} of ${compared}`)
})
