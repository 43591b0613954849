import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes, createHash } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import { memory, MemoryNetwork, type MemoryTransportOptions } from '../../../src/transports/memory/index.ts'
import type { Connection } from '../../../src/core/transport.ts'
import type { Stream } from '../../../src/core/stream.ts'
import {
  ConnectionClosedError, DialError, LimitExceededError, PeerIdMismatchError, StreamResetError, UnsupportedProtocolError, AbortError, Libp2pError
} from '../../../src/core/errors.ts'
import { makeContext, type TestContext } from '../../helpers/node-context.ts'

const ECHO = '/echo/1.0.0'

interface Pair { client: Connection, server: Connection, serverCtx: TestContext, clientCtx: TestContext, network: MemoryNetwork }

async function connect (options: MemoryTransportOptions = {}, serverProtocols = [ECHO]): Promise<Pair> {
  const network = options.network ?? new MemoryNetwork()
  const serverCtx = makeContext(serverProtocols)
  const clientCtx = makeContext([ECHO])
  const st = memory({ ...options, network })(serverCtx)
  const ct = memory({ ...options, network })(clientCtx)
  const listener = await st.listen(multiaddr('/memory/server'))
  const accepted = new Promise<Connection>(resolve => { listener.once('connection', resolve) })
  const client = await ct.dial(multiaddr(`/memory/server/p2p/${serverCtx.peerId.toString()}`))
  return { client, server: await accepted, serverCtx, clientCtx, network }
}

async function readAll (stream: Stream): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for await (const chunk of stream) chunks.push(chunk)
  return Buffer.concat(chunks)
}

function nextStream (conn: Connection): Promise<Stream> {
  return new Promise(resolve => { conn.once('stream', resolve) })
}

test('dial and listen: both sides see the authenticated remote PeerId and addresses', async () => {
  const { client, server, serverCtx, clientCtx } = await connect()
  assert.ok(client.remotePeer.equals(serverCtx.peerId))
  assert.ok(server.remotePeer.equals(clientCtx.peerId))
  assert.equal(client.direction, 'outbound')
  assert.equal(server.direction, 'inbound')
  assert.equal(client.remoteAddr.toString(), '/memory/server')
  assert.equal(server.localAddr?.toString(), '/memory/server')
  assert.equal(client.transport, 'memory')
  assert.equal(client.status, 'open')
})

test('dial: an expected PeerId that does not match fails with PeerIdMismatchError; a missing listener is refused', async () => {
  const network = new MemoryNetwork()
  const serverCtx = makeContext([ECHO])
  const st = memory({ network })(serverCtx)
  const ct = memory({ network })(makeContext())
  const listener = await st.listen(multiaddr('/memory/a'))
  let inbound = 0
  listener.on('connection', () => { inbound++ })
  const stranger = makeContext().peerId
  await assert.rejects(ct.dial(multiaddr(`/memory/a/p2p/${stranger.toString()}`)), (err: Error) =>
    err instanceof PeerIdMismatchError && err.expected === stranger.toString() && err.actual === serverCtx.peerId.toString())
  await assert.rejects(ct.dial(multiaddr('/memory/a'), { expectedPeer: stranger }), PeerIdMismatchError)
  assert.equal(inbound, 0)
  const ok = await ct.dial(multiaddr('/memory/a'), { expectedPeer: serverCtx.peerId })
  assert.ok(ok.remotePeer.equals(serverCtx.peerId))
  await assert.rejects(ct.dial(multiaddr('/memory/nobody')), (err: Error) => err instanceof DialError && (err as DialError).code === 'ERR_CONNECTION_REFUSED')
  await assert.rejects(st.listen(multiaddr('/memory/a')), (err: Error) => err instanceof Libp2pError && (err as Libp2pError).code === 'ERR_ADDRESS_IN_USE')
  await listener.close()
  assert.deepEqual(listener.addrs(), [])
  await assert.rejects(ct.dial(multiaddr('/memory/a')), DialError)
  assert.equal(ct.canDial(multiaddr('/ip4/1.2.3.4/tcp/1')), false)
  assert.equal(ct.canDial(multiaddr('/memory/x')), true)
})

test('networks are isolated: the same name in two networks reaches two different nodes', async () => {
  const n1 = new MemoryNetwork()
  const n2 = new MemoryNetwork()
  const a = makeContext(); const b = makeContext()
  await memory({ network: n1 })(a).listen(multiaddr('/memory/same'))
  await memory({ network: n2 })(b).listen(multiaddr('/memory/same'))
  const c1 = await memory({ network: n1 })(makeContext()).dial(multiaddr('/memory/same'))
  const c2 = await memory({ network: n2 })(makeContext()).dial(multiaddr('/memory/same'))
  assert.ok(c1.remotePeer.equals(a.peerId))
  assert.ok(c2.remotePeer.equals(b.peerId))
})

test('streams: protocol negotiation picks the first protocol the remote supports, or fails', async () => {
  const { client, server } = await connect({}, ['/b/1', '/c/1'])
  const inbound = nextStream(server)
  const s = await client.openStream(['/a/1', '/b/1', '/c/1'])
  assert.equal(s.protocol, '/b/1')
  assert.equal((await inbound).protocol, '/b/1')
  assert.equal((await inbound).direction, 'inbound')
  await assert.rejects(client.openStream(['/x/1', '/y/1']), (err: Error) => err instanceof UnsupportedProtocolError && err.protocols.length === 2)
  assert.equal(server.streams.length, 1)
  assert.equal(client.streams.length, 1)
})

test('streams: echo with half-close; both halves end closed and leave the connection', async () => {
  const { client, server } = await connect()
  server.on('stream', (stream) => {
    void (async () => {
      for await (const chunk of stream) stream.send(chunk)
      await stream.closeWrite()
    })()
  })
  const s = await client.openStream(ECHO)
  const payload = randomBytes(300_000)
  for (let off = 0; off < payload.length; off += 10_000) s.send(payload.subarray(off, off + 10_000))
  await s.closeWrite()
  assert.equal(s.writeStatus, 'closed')
  const echoed = await readAll(s)
  assert.deepEqual(echoed, payload)
  await new Promise(resolve => setImmediate(resolve))
  assert.equal(s.status, 'closed')
  assert.equal(client.streams.length, 0)
  assert.equal(server.streams.length, 0)
  assert.throws(() => s.send(new Uint8Array(1)), /closed/)
  assert.ok(client.counters().bytesOut >= payload.length && client.counters().bytesIn >= payload.length)
})

test('streams: send() copies, so the sender may reuse its buffer at once', async () => {
  const { client, server } = await connect()
  const inbound = nextStream(server)
  const s = await client.openStream(ECHO)
  const buf = new Uint8Array(4).fill(1)
  s.send(buf)
  buf.fill(2)
  s.send(buf)
  await s.closeWrite()
  assert.deepEqual([...await readAll(await inbound)], [1, 1, 1, 1, 2, 2, 2, 2])
})

test('backpressure: a reader that does not read bounds the writer, send() turns false, drain follows reading', async () => {
  const writeHighWaterMark = 64 * 1024
  const readHighWaterMark = 128 * 1024
  const { client, server } = await connect({ writeHighWaterMark, readHighWaterMark })
  const inboundP = nextStream(server)
  const s = await client.openStream(ECHO)
  const inbound = await inboundP
  const chunk = new Uint8Array(16 * 1024)
  const hash = createHash('sha256')
  let sent = 0
  // Write as fast as allowed; wait for drain when told to. The reader does not read yet.
  const writer = (async () => {
    for (let i = 0; i < 400; i++) {
      chunk.fill(i & 0xff)
      hash.update(chunk)
      sent += chunk.length
      if (!s.send(chunk)) await s.onDrain()
    }
    await s.closeWrite()
  })()
  await new Promise(resolve => setTimeout(resolve, 50))
  // Stalled: everything buffered is within the two high-water marks plus one chunk.
  assert.ok(s.writableNeedsDrain, 'writer waits for drain')
  assert.ok(sent < 400 * chunk.length)
  const buffered = s.writeBufferLength + inbound.readBufferLength
  assert.ok(buffered <= writeHighWaterMark + readHighWaterMark + chunk.length, `buffered ${buffered}`)
  assert.ok(inbound.readBufferLength >= readHighWaterMark, 'reader buffer filled to its mark')
  // Now read everything; the writer finishes.
  const received = createHash('sha256')
  let total = 0
  for await (const c of inbound) { received.update(c); total += c.length }
  await writer
  assert.equal(total, 400 * chunk.length)
  assert.equal(received.digest('hex'), hash.digest('hex'))
})

test('reset: the remote half ends with StreamResetError(local=false); pending drains and reads fail', async () => {
  const { client, server } = await connect({ writeHighWaterMark: 1024 })
  const inboundP = nextStream(server)
  const s = await client.openStream(ECHO)
  const inbound = await inboundP
  const closed = new Promise<Error | undefined>(resolve => { inbound.once('close', resolve) })
  assert.equal(s.send(new Uint8Array(4096)), false)
  const drain = s.onDrain()
  const reading = readAll(inbound)
  s.reset()
  await assert.rejects(drain)
  const err = await closed
  assert.ok(err instanceof StreamResetError && err.local === false)
  await assert.rejects(reading, StreamResetError)
  assert.equal(s.status, 'aborted')
  assert.equal(inbound.status, 'reset')
  assert.equal(client.streams.length, 0)
  assert.equal(server.streams.length, 0)
})

test('connection abort: both sides close, streams fail, new streams are refused', async () => {
  const { client, server } = await connect()
  const inboundP = nextStream(server)
  const s = await client.openStream(ECHO)
  const inbound = await inboundP
  const serverClosed = new Promise<Error | undefined>(resolve => { server.once('close', resolve) })
  const inboundClosed = new Promise<Error | undefined>(resolve => { inbound.once('close', resolve) })
  const cause = new Error('test abort')
  const clientClosed = new Promise<Error | undefined>(resolve => { client.once('close', resolve) })
  client.abort(cause)
  assert.equal(await clientClosed, cause)
  assert.equal(s.status, 'aborted')
  const serr = await serverClosed
  assert.ok(serr instanceof ConnectionClosedError && serr.cause === cause)
  assert.ok((await inboundClosed) instanceof ConnectionClosedError)
  assert.equal(server.status, 'closed')
  await assert.rejects(client.openStream(ECHO), ConnectionClosedError)
  await assert.rejects(server.openStream(ECHO), ConnectionClosedError)
})

test('graceful connection close waits for streams to finish, then closes both sides', async () => {
  const { client, server } = await connect()
  server.on('stream', (stream) => {
    void (async () => {
      const data = await readAll(stream)
      stream.send(data)
      await stream.closeWrite()
    })()
  })
  const s = await client.openStream(ECHO)
  s.send(new Uint8Array([1, 2, 3]))
  const reply = readAll(s)
  const serverClosed = new Promise<Error | undefined>(resolve => { server.once('close', resolve) })
  let localErr: Error | undefined | null = null
  client.once('close', (err) => { localErr = err })
  await client.close()
  assert.deepEqual([...await reply], [1, 2, 3])
  assert.equal(s.status, 'closed')
  assert.equal(localErr, undefined)
  assert.ok((await serverClosed) instanceof ConnectionClosedError)
  assert.equal(client.status, 'closed')
})

test('graceful close resets streams that do not finish within closeTimeoutMs', async () => {
  const { client, server } = await connect({ closeTimeoutMs: 50 })
  const inboundP = nextStream(server)
  const s = await client.openStream(ECHO)
  const inbound = await inboundP // never closes its side
  await client.close()
  assert.equal(s.status, 'aborted')
  await new Promise(resolve => setTimeout(resolve, 10))
  assert.equal(inbound.status, 'reset')
})

test('stream limit per connection', async () => {
  const { client } = await connect({ maxStreams: 2 })
  await client.openStream(ECHO)
  await client.openStream(ECHO)
  await assert.rejects(client.openStream(ECHO), LimitExceededError)
})

test('injected latency: dial costs a round trip, a request/response two, and openStream honours its signal', async () => {
  const latencyMs = 25
  const t0 = performance.now()
  const { client, server } = await connect({ latencyMs })
  assert.ok(performance.now() - t0 >= 2 * latencyMs - 2)
  server.on('stream', (stream) => { void (async () => { for await (const c of stream) { stream.send(c); await stream.closeWrite() } })() })
  const s = await client.openStream(ECHO)
  const t1 = performance.now()
  s.send(new Uint8Array([7]))
  const it = s[Symbol.asyncIterator]()
  const first = await it.next()
  const rtt = performance.now() - t1
  assert.deepEqual([...(first.value as Uint8Array)], [7])
  assert.ok(rtt >= 2 * latencyMs - 2, `rtt ${rtt}`)
  const ac = new AbortController()
  const opening = client.openStream(ECHO, { signal: ac.signal })
  ac.abort()
  await assert.rejects(opening, AbortError)
})

test('transport close closes listeners and connections', async () => {
  const network = new MemoryNetwork()
  const st = memory({ network })(makeContext([ECHO]))
  const ct = memory({ network })(makeContext())
  await st.listen(multiaddr('/memory/t'))
  const conn = await ct.dial(multiaddr('/memory/t'))
  const closed = new Promise(resolve => { conn.once('close', resolve) })
  await st.close()
  await closed
  assert.equal(conn.status, 'closed')
  assert.deepEqual(network.names(), [])
})
