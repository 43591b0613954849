/**
 * A compliance suite every transport's connections and streams must pass (js-libp2p's idea of
 * shared suites): memory, native TCP and native QUIC run it (test/transports/<name>/
 * compliance.test.ts), each giving a fixture that builds a connected pair. Cases that every
 * transport shares live here once instead of in each transport's own tests. Assertions use only
 * the Connection and Stream contracts of src/core, never a transport's internals or its exact
 * buffer sizes.
 *
 *   import { streamTransportCompliance } from '../compliance/stream-transport.ts'
 *   streamTransportCompliance('tcp', async (serverProtocols) => { ...; return { client, server, close } })
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Connection, Transport, TransportFactory } from '../../src/core/transport.ts'
import type { Stream } from '../../src/core/stream.ts'
import { ConnectionClosedError, StreamResetError, UnsupportedProtocolError } from '../../src/core/errors.ts'
import { makeContext } from '../helpers/node-context.ts'

export interface ConnectedPair {
  /** The dialer's side. */
  client: Connection
  /** The listener's side of the same connection. */
  server: Connection
  /** Releases everything the fixture made (transports, listeners). */
  close: () => Promise<void>
  /** The client transport's per-protocol counters, where it keeps them (native transports). */
  protocolCounters?: (protocol: string) => { bytesIn: number, bytesOut: number, streams: number } | undefined
}

/** Builds a connected pair whose server accepts `serverProtocols` on inbound streams. */
export type PairFactory = (serverProtocols: string[]) => Promise<ConnectedPair>

/** Native transports count bytes per protocol; the suite checks those counters where they exist. */
type WithProtocolCounters = Transport & { protocolCounters?: () => Map<string, { bytesIn: number, bytesOut: number, streams: number }> }

/**
 * The PairFactory of a transport that listens on and dials real addresses (native TCP, QUIC): a
 * fresh listening and dialing transport per pair, each with its own identity.
 */
export function listenDialPair (factory: TransportFactory, listenAddr: string): PairFactory {
  return async (serverProtocols) => {
    const st = factory(makeContext(serverProtocols))
    const ct: WithProtocolCounters = factory(makeContext())
    const listener = await st.listen(multiaddr(listenAddr))
    const accepted = new Promise<Connection>(resolve => { listener.once('connection', resolve) })
    const client = await ct.dial(listener.addrs()[0] as Multiaddr)
    const server = await accepted
    const counters = ct.protocolCounters?.bind(ct)
    return {
      client,
      server,
      close: async () => { await ct.close(); await st.close() },
      protocolCounters: counters === undefined ? undefined : (p) => counters().get(p)
    }
  }
}

export interface ComplianceOptions {
  /** Bytes a non-reading receiver must make the sender stop at (send() false) within. Default 64 MiB. */
  maxBufferedBeforeBackpressure?: number
  /** Bytes of the large echo transfer. Default 32 MiB: several receive windows of every transport here. */
  largeTransferBytes?: number
}

const ECHO = '/compliance/echo/1.0.0'
const SINK = '/compliance/sink/1.0.0'

async function readAll (stream: Stream): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const c of stream) chunks.push(Uint8Array.from(c))
  return Buffer.concat(chunks)
}

function echoServer (conn: Connection): void {
  conn.on('stream', (s) => {
    if (s.protocol !== ECHO) return
    void (async () => {
      for await (const c of s) if (!s.send(c)) await s.onDrain()
      await s.closeWrite()
    })().catch(() => {})
  })
}

function nextStream (conn: Connection): Promise<Stream> {
  return new Promise(resolve => { conn.once('stream', resolve) })
}

export function streamTransportCompliance (name: string, connect: PairFactory, options: ComplianceOptions = {}): void {
  const maxBuffered = options.maxBufferedBeforeBackpressure ?? 64 * 1024 * 1024
  const largeBytes = options.largeTransferBytes ?? 32 * 1024 * 1024

  const withPair = async (protocols: string[], fn: (p: ConnectedPair) => Promise<void>): Promise<void> => {
    const pair = await connect(protocols)
    try { await fn(pair) } finally { await pair.close() }
  }

  test(`${name} compliance: remote peers are each other's identities`, async () => {
    await withPair([ECHO], async ({ client, server }) => {
      assert.notEqual(client.remotePeer.toString(), server.remotePeer.toString())
      assert.equal(client.direction, 'outbound')
      assert.equal(server.direction, 'inbound')
      assert.equal(client.status, 'open')
    })
  })

  test(`${name} compliance: echo of 4 MiB in odd-sized writes with half-close`, async () => {
    await withPair([ECHO], async ({ client, server }) => {
      echoServer(server)
      const s = await client.openStream(ECHO)
      assert.equal(s.protocol, ECHO)
      const data = randomBytes(4 * 1024 * 1024)
      const reply = readAll(s)
      for (let off = 0, n = 1; off < data.length; off += n, n = (n * 7 + 13) % 100_000 + 1) {
        if (!s.send(data.subarray(off, off + n))) await s.onDrain()
      }
      await s.closeWrite()
      assert.ok((await reply).equals(data))
      await new Promise(resolve => setImmediate(resolve))
      assert.equal(s.status, 'closed')
    })
  })

  test(`${name} compliance: ${largeBytes / 1048576} MiB echo with integrity, counted in the counters, every send buffer released`, async () => {
    await withPair([ECHO], async (pair) => {
      const { client, server } = pair
      echoServer(server)
      const s = await client.openStream(ECHO)
      const chunk = 256 * 1024
      const sent = createHash('sha256')
      const got = createHash('sha256')
      let received = 0
      const reader = (async () => { for await (const c of s) { got.update(c); received += c.byteLength } })()
      for (let off = 0; off < largeBytes; off += chunk) {
        const buf = randomBytes(chunk)  // a fresh buffer each time: sent ones may be transferred
        sent.update(buf)
        if (!s.send(buf)) await s.onDrain()
      }
      await s.closeWrite()
      await reader
      assert.equal(received, largeBytes)
      assert.equal(got.digest('hex'), sent.digest('hex'))
      assert.equal(s.writeBufferLength, 0)
      const c = client.counters()
      assert.ok(c.bytesOut >= largeBytes && c.bytesIn >= largeBytes && c.framesOut > 0 && c.framesIn > 0, `counters ${JSON.stringify(c)}`)
      if (pair.protocolCounters !== undefined) {
        const proto = pair.protocolCounters(ECHO)
        assert.ok(proto !== undefined && proto.bytesOut >= largeBytes && proto.bytesIn >= largeBytes && proto.streams >= 1, `protocol counters ${JSON.stringify(proto)}`)
      }
    })
  })

  test(`${name} compliance: half-close: the remote reads to our FIN, then still writes`, async () => {
    await withPair([SINK], async ({ client, server }) => {
      const inboundP = nextStream(server)
      const s = await client.openStream(SINK)
      s.send(new TextEncoder().encode('question'))
      await s.closeWrite()
      assert.equal(s.writeStatus, 'closed')
      assert.throws(() => s.send(new Uint8Array(1)))
      const inbound = await inboundP
      assert.equal((await readAll(inbound)).toString(), 'question')
      assert.equal(inbound.remoteWriteStatus, 'closed')
      // our side is write-closed, the remote's is still open: it answers, then closes
      inbound.send(new TextEncoder().encode('answer after your FIN'))
      await inbound.closeWrite()
      assert.equal((await readAll(s)).toString(), 'answer after your FIN')
      assert.equal(s.remoteWriteStatus, 'closed')
    })
  })

  test(`${name} compliance: 16 concurrent streams keep their data apart`, async () => {
    await withPair([ECHO], async ({ client, server }) => {
      echoServer(server)
      await Promise.all(Array.from({ length: 16 }, async (_, i) => {
        const s = await client.openStream(ECHO)
        const data = randomBytes(100_000 + i)
        const reply = readAll(s)
        if (!s.send(data)) await s.onDrain()
        await s.closeWrite()
        assert.ok((await reply).equals(data), `stream ${i}`)
      }))
    })
  })

  test(`${name} compliance: unsupported protocols fail the open, the connection stays usable`, async () => {
    await withPair([ECHO], async ({ client, server }) => {
      echoServer(server)
      await assert.rejects(client.openStream(['/nope/1', '/nope/2']), UnsupportedProtocolError)
      // One protocol may be opened optimistically (usable at once): then the refusal ends the
      // stream with UnsupportedProtocolError instead of failing the open.
      const lazy = await client.openStream('/nope/3').catch((err: unknown) => err)
      if (lazy instanceof Error) assert.ok(lazy instanceof UnsupportedProtocolError, String(lazy))
      else await assert.rejects(readAll(lazy as Stream), UnsupportedProtocolError)
      const s = await client.openStream(['/nope/1', ECHO])
      assert.equal(s.protocol, ECHO)
      s.send(new Uint8Array([1]))
      await s.closeWrite()
      assert.deepEqual([...await readAll(s)], [1])
    })
  })

  test(`${name} compliance: a receiver that does not read stops the sender (send() false), reading resumes it`, async () => {
    await withPair([SINK], async ({ client, server }) => {
      const inboundP = nextStream(server)
      const s = await client.openStream(SINK)
      let sent = 0
      const hash = createHash('sha256')
      // Fill until the transport says stop; yield to the event loop so data can move.
      while (sent < maxBuffered) {
        // A fresh buffer per send: a sent buffer is transferred until the transport reports it
        // written (docs/buffer-ownership.md), so refilling the same one would corrupt the stream
        // on zero-copy transports (native TCP, QUIC).
        const chunk = new Uint8Array(64 * 1024)
        chunk.fill(sent / chunk.length & 0xff)
        hash.update(chunk)
        sent += chunk.length
        if (!s.send(chunk)) break
        if (sent % (1024 * 1024) === 0) await new Promise(resolve => setImmediate(resolve))
      }
      assert.ok(s.writableNeedsDrain, `send() never returned false after ${sent} bytes`)
      const inbound = await inboundP
      const got = createHash('sha256')
      let received = 0
      const reading = (async () => { for await (const c of inbound) { got.update(c); received += c.length } })()
      await s.onDrain()
      await s.closeWrite()
      await reading
      await inbound.closeWrite()
      assert.equal(received, sent)
      assert.equal(got.digest('hex'), hash.digest('hex'))
    })
  })

  test(`${name} compliance: reset reaches the remote as StreamResetError; other streams carry on`, async () => {
    await withPair([ECHO, SINK], async ({ client, server }) => {
      echoServer(server)
      const inboundP = new Promise<Stream>(resolve => { server.on('stream', (st) => { if (st.protocol === SINK) resolve(st) }) })
      const s = await client.openStream(SINK)
      s.send(new Uint8Array(10))
      const inbound = await inboundP
      const closed = new Promise<Error | undefined>(resolve => { inbound.once('close', resolve) })
      s.reset()
      const err = await closed
      assert.ok(err instanceof StreamResetError, String(err))
      assert.equal(err.local, false)
      assert.equal(s.status, 'aborted')
      const e = await client.openStream(ECHO)
      e.send(new Uint8Array([9]))
      await e.closeWrite()
      assert.deepEqual([...await readAll(e)], [9])
    })
  })

  test(`${name} compliance: abort closes both sides and fails their streams`, async () => {
    await withPair([SINK], async ({ client, server }) => {
      const inboundP = nextStream(server)
      const s = await client.openStream(SINK)
      s.send(new Uint8Array(1))
      const inbound = await inboundP
      const serverClosed = new Promise<Error | undefined>(resolve => { server.once('close', resolve) })
      const inboundClosed = new Promise<Error | undefined>(resolve => { inbound.once('close', resolve) })
      client.abort(new Error('compliance abort'))
      assert.ok((await serverClosed) instanceof Error)
      assert.ok((await inboundClosed) instanceof Error)
      assert.notEqual(s.status, 'open')
      await assert.rejects(client.openStream(SINK), ConnectionClosedError)
    })
  })

  test(`${name} compliance: graceful close lets a finishing stream complete`, async () => {
    await withPair([ECHO], async ({ client, server }) => {
      echoServer(server)
      const s = await client.openStream(ECHO)
      s.send(new Uint8Array([1, 2, 3]))
      const reply = readAll(s)
      const closing = client.close()
      assert.deepEqual([...await reply], [1, 2, 3])
      await closing
      assert.equal(client.status, 'closed')
    })
  })
}
