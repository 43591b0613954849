/**
 * The perf protocol's receive side on 'data' events (readToEnd): headers split across chunks,
 * data queued before anyone listened, streams already over, resets, and an early refusal.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { memory, MemoryNetwork } from '../../../src/transports/memory/index.ts'
import type { Connection } from '../../../src/core/transport.ts'
import type { Stream } from '../../../src/core/stream.ts'
import { ProtocolViolationError } from '../../../src/core/errors.ts'
import { PERF_PROTOCOL } from '../../../src/protocols/perf/constants.ts'
import { handlePerfStream, readToEnd, type PerfServerResult } from '../../../src/protocols/perf/protocol.ts'
import { makeContext } from '../../helpers/node-context.ts'

async function pair (handler: (s: Stream) => void): Promise<Connection> {
  const network = new MemoryNetwork()
  const listener = await memory({ network })(makeContext([PERF_PROTOCOL])).listen(multiaddr('/memory/p'))
  listener.once('connection', (c) => { c.on('stream', handler) })
  return await memory({ network })(makeContext()).dial(multiaddr('/memory/p'))
}

const nextTurn = async (ms = 20): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

test('perf server: a header sent one byte at a time, then the upload, counted exactly; the download follows', async () => {
  let served: Promise<PerfServerResult> | undefined
  const client = await pair((s) => { served = handlePerfStream(s) })
  const s = await client.openStream(PERF_PROTOCOL)
  const header = new Uint8Array(8)
  new DataView(header.buffer).setBigUint64(0, 70_000n, false)
  for (const b of header) s.send(Uint8Array.of(b))
  s.send(new Uint8Array(3))
  s.send(new Uint8Array(100_000))
  await s.closeWrite()
  let down = 0
  await readToEnd(s, (c) => { down += c.byteLength })
  assert.equal(down, 70_000)
  assert.deepEqual(await served, { uploadBytes: 100_003, downloadBytes: 70_000 })
})

test('readToEnd: data that arrived before anyone listened is delivered, then the end', async () => {
  const client = await pair((s) => {
    s.send(new Uint8Array(1000))
    s.send(new Uint8Array(24))
    void s.closeWrite()
  })
  const s = await client.openStream(PERF_PROTOCOL)
  s.send(new Uint8Array(1))
  await nextTurn()  // the remote's data and FIN are queued by now
  assert.equal(s.remoteWriteStatus, 'closed')
  assert.equal(s.readBufferLength, 1024)
  const sizes: number[] = []
  await readToEnd(s, (c) => { sizes.push(c.byteLength) })
  assert.deepEqual(sizes, [1000, 24])
  // Over, nothing left: a second call resolves at once with no chunk.
  await readToEnd(s, () => { assert.fail('no more data') })
})

test('readToEnd: a reset rejects, during the read and after it', async () => {
  const client = await pair((s) => {
    s.send(new Uint8Array(10))
    setTimeout(() => { s.reset() }, 20)
  })
  const s = await client.openStream(PERF_PROTOCOL)
  s.send(new Uint8Array(1))
  let got = 0
  await assert.rejects(readToEnd(s, (c) => { got += c.byteLength }), (err: Error) => err.name !== 'AssertionError')
  assert.equal(got, 10)
  await assert.rejects(readToEnd(s, () => {}))
})

test('perf server: maxDownloadBytes refuses at once, while the client has not finished its upload', async () => {
  let served: Promise<PerfServerResult> | undefined
  const client = await pair((s) => { served = handlePerfStream(s, { maxDownloadBytes: 1000 }); served.catch(() => {}) })
  const s = await client.openStream(PERF_PROTOCOL)
  const header = new Uint8Array(8)
  new DataView(header.buffer).setBigUint64(0, 1001n, false)
  s.send(header)
  s.send(new Uint8Array(10))  // no FIN: the refusal must not wait for it
  await nextTurn()
  assert.ok(served !== undefined)
  await assert.rejects(served, (err: Error) => err instanceof ProtocolViolationError && /more than the server allows/.test(err.message))
  s.reset()
})
