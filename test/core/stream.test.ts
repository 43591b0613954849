/**
 * AbstractStream's read side on its own (a stub transport that records the hooks): chunks queued
 * before a 'data' listener exists reach it once one is attached, and dequeuing does not slow down
 * with the queue's length.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { AbstractStream } from '../../src/core/stream.ts'
import { withTimeout } from '../helpers/timeout.ts'

/** Records what the stream asks of its transport; sends are accepted and written at once. */
class StubStream extends AbstractStream {
  readonly remotePaused: boolean[] = []
  constructor (readHighWaterMark?: number) {
    super({ id: 'stub', protocol: '/stub/1.0.0', direction: 'inbound', ...(readHighWaterMark !== undefined ? { readHighWaterMark } : {}) })
  }

  get writeBufferLength (): number { return 0 }
  protected doSend (): boolean { return true }
  protected async doCloseWrite (): Promise<void> {}
  protected doReset (): void {}
  protected doSetRemotePaused (paused: boolean): void { this.remotePaused.push(paused) }
}

/** Chunks in a long queue: 40k chunks took 780 ms to drain with Array.prototype.shift (O(n) each). */
const MANY_CHUNKS = 100_000
/**
 * Bound on draining MANY_CHUNKS: measured here on a loaded machine, linear draining takes 75 ms
 * ('data') and 550 ms (async iterator: a promise per chunk), the old quadratic one 6.7 s.
 */
const DRAIN_BOUND_MS = 3_000

/** Bound on a delivery that should happen within a microtask or two. */
const DELIVERY_MS = 1_000

async function within<T> (p: Promise<T>, what: string): Promise<T> {
  return await withTimeout(p, DELIVERY_MS, what)
}

function chunk (i: number): Uint8Array {
  return Uint8Array.of(i & 0xff, (i >> 8) & 0xff, (i >> 16) & 0xff)
}
function index (c: Uint8Array): number {
  return (c[0] as number) | (c[1] as number) << 8 | (c[2] as number) << 16
}

describe('AbstractStream read queue', () => {
  it('delivers chunks queued before a \'data\' listener once one is attached, in order, then ends', async () => {
    const s = new StubStream()
    for (let i = 0; i < 5; i++) s.onData(chunk(i))
    s.onRemoteCloseWrite()
    assert.equal(s.readBufferLength, 15)
    const got: number[] = []
    const ended = new Promise<void>(resolve => { s.once('end', resolve) })
    s.on('data', (c: Uint8Array) => { got.push(index(c)) })
    await within(ended, "'end' after the queued chunks")
    assert.deepEqual(got, [0, 1, 2, 3, 4])
    assert.equal(s.readBufferLength, 0)
  })

  it('keeps the order when more data arrives between attaching the listener and the flush', async () => {
    const s = new StubStream()
    s.onData(chunk(0))
    s.onData(chunk(1))
    const got: number[] = []
    s.on('data', (c: Uint8Array) => { got.push(index(c)) })
    s.onData(chunk(2))  // same tick as the attach, before the deferred flush
    await Promise.resolve()
    s.onData(chunk(3))
    assert.deepEqual(got, [0, 1, 2, 3])
  })

  it('does not deliver to a listener attached while paused until resume()', async () => {
    const s = new StubStream()
    s.onData(chunk(0))
    s.pause()
    const got: number[] = []
    s.on('data', (c: Uint8Array) => { got.push(index(c)) })
    await new Promise(resolve => setImmediate(resolve))
    assert.deepEqual(got, [])
    s.resume()
    assert.deepEqual(got, [0])
  })

  it(`drains ${MANY_CHUNKS} queued chunks through the async iterator in linear time, in order`, async () => {
    const s = new StubStream(Number.MAX_SAFE_INTEGER)
    for (let i = 0; i < MANY_CHUNKS; i++) s.onData(chunk(i))
    s.onRemoteCloseWrite()
    const t0 = performance.now()
    let n = 0
    let inOrder = true
    for await (const c of s) {
      if (index(c) !== n) inOrder = false
      n++
    }
    const ms = performance.now() - t0
    assert.equal(n, MANY_CHUNKS)
    assert.ok(inOrder)
    assert.equal(s.readBufferLength, 0)
    assert.ok(ms < DRAIN_BOUND_MS, `${ms.toFixed(0)} ms to drain ${MANY_CHUNKS} chunks`)
  })

  it(`drains ${MANY_CHUNKS} queued chunks to a 'data' listener on resume() in linear time, in order`, () => {
    const s = new StubStream(Number.MAX_SAFE_INTEGER)
    s.pause()
    for (let i = 0; i < MANY_CHUNKS; i++) s.onData(chunk(i))
    let n = 0
    let inOrder = true
    s.on('data', (c: Uint8Array) => { if (index(c) !== n) inOrder = false; n++ })
    const t0 = performance.now()
    s.resume()
    const ms = performance.now() - t0
    assert.equal(n, MANY_CHUNKS)
    assert.ok(inOrder)
    assert.ok(ms < DRAIN_BOUND_MS, `${ms.toFixed(0)} ms to drain ${MANY_CHUNKS} chunks`)
  })

  it('unpauses the remote once the queue falls below half the high-water mark while draining', async () => {
    const s = new StubStream(30)
    for (let i = 0; i < 12; i++) s.onData(chunk(i))  // 36 bytes >= 30: remote paused
    assert.deepEqual(s.remotePaused, [true])
    const it = s[Symbol.asyncIterator]()
    for (let i = 0; i < 7; i++) await it.next()  // 15 bytes left: not yet below 15
    assert.deepEqual(s.remotePaused, [true])
    await it.next()  // 12 bytes left
    assert.deepEqual(s.remotePaused, [true, false])
  })
})
