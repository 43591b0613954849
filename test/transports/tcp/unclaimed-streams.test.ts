/**
 * Inbound streams that arrive before the connection has a 'stream' listener (a remote opens one
 * the moment its side is up, as js-libp2p's identify does, before our dial() has even resolved)
 * are held and delivered in order once a listener is attached; beyond
 * MAX_UNCLAIMED_INBOUND_STREAMS they are reset.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import type { Connection, Listener } from '../../../src/core/transport.ts'
import type { Stream } from '../../../src/core/stream.ts'
import { MAX_UNCLAIMED_INBOUND_STREAMS } from '../../../src/transports/tcp/constants.ts'
import { makeNode, readAll, withTimeout, type TestNode } from './helpers.ts'

const HELLO = '/test/hello/1.0.0'
/** How long the dialer waits after dial() before it listens: the remote's streams have long arrived. */
const LATE_LISTENER_MS = 100
const STEP_MS = 5_000
/** Poll interval of waitUntil. */
const POLL_MS = 5

/** Polls `cond` until it holds; throws (and stops polling) after STEP_MS. */
async function waitUntil (cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + STEP_MS
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timeout: ${what}`)
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
  }
}

describe('native tcp: inbound streams before a \'stream\' listener', { timeout: 30_000 }, () => {
  let server: TestNode
  let client: TestNode
  let listener: Listener
  /** How many streams the server opens on each new connection (set by each test before dialing). */
  let streamsPerConnection = 0
  /** The server's side of those streams: how each one ended. */
  let serverOutcomes: Array<Promise<Error | undefined>> = []

  before(async () => {
    server = makeNode([])
    client = makeNode([HELLO])
    listener = await server.transport.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
    listener.on('connection', (c: Connection) => {
      // At once, as js-libp2p's identify does: each stream carries its index, then FIN.
      for (let i = 0; i < streamsPerConnection; i++) {
        serverOutcomes.push((async () => {
          const s = await c.openStream(HELLO)
          try {
            s.send(new TextEncoder().encode(String(i)))
            await s.closeWrite()
            await readAll(s)
            return undefined
          } catch (err) {
            return err as Error
          }
        })())
      }
    })
  })

  after(async () => {
    await client.transport.close()
    await server.transport.close()
  })

  async function dialAndListenLate (): Promise<{ conn: Connection, streams: Stream[] }> {
    const conn = await client.transport.dial(listener.addrs()[0] as ReturnType<typeof multiaddr>)
    await new Promise(resolve => setTimeout(resolve, LATE_LISTENER_MS))
    const streams: Stream[] = []
    conn.on('stream', (s: Stream) => { streams.push(s) })
    return { conn, streams }
  }

  it('delivers streams opened before the listener, in order, with their data', async () => {
    streamsPerConnection = 3
    serverOutcomes = []
    const { conn, streams } = await dialAndListenLate()
    await waitUntil(() => streams.length >= 3, 'three held streams')
    const texts = await withTimeout(Promise.all(streams.map(async s => new TextDecoder().decode(await readAll(s)))), STEP_MS, 'their data')
    assert.deepEqual(texts, ['0', '1', '2'])
    for (const s of streams) {
      assert.equal(s.direction, 'inbound')
      assert.equal(s.protocol, HELLO)
      await s.closeWrite()
    }
    assert.deepEqual(await withTimeout(Promise.all(serverOutcomes), STEP_MS, 'server side ends'), [undefined, undefined, undefined])
    await conn.close()
  })

  it(`holds at most ${MAX_UNCLAIMED_INBOUND_STREAMS} streams and resets the rest`, async () => {
    const extra = 3
    streamsPerConnection = MAX_UNCLAIMED_INBOUND_STREAMS + extra
    serverOutcomes = []
    const { conn, streams } = await dialAndListenLate()
    await waitUntil(() => serverOutcomes.length >= streamsPerConnection, 'server opens')
    await waitUntil(() => streams.length >= MAX_UNCLAIMED_INBOUND_STREAMS, 'held streams')
    const texts = await withTimeout(Promise.all(streams.map(async s => new TextDecoder().decode(await readAll(s)))), STEP_MS, 'their data')
    assert.deepEqual(texts, Array.from({ length: MAX_UNCLAIMED_INBOUND_STREAMS }, (_, i) => String(i)), 'the oldest ones, in order')
    for (const s of streams) await s.closeWrite()
    const outcomes = await withTimeout(Promise.all(serverOutcomes), STEP_MS, 'server side ends')
    assert.equal(outcomes.slice(0, MAX_UNCLAIMED_INBOUND_STREAMS).filter(e => e !== undefined).length, 0)
    assert.equal(outcomes.slice(MAX_UNCLAIMED_INBOUND_STREAMS).filter(e => e !== undefined).length, extra, 'the newest ones were reset')
    assert.equal(streams.length, MAX_UNCLAIMED_INBOUND_STREAMS)
    await conn.close()
  })
})
