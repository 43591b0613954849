/**
 * The native TCP transport end to end: two transports in one process over 127.0.0.1 and ::1,
 * through the whole native pipeline (multistream /noise, Noise XX, Yamux, per-stream mss).
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import type { Connection, Listener } from '../../../src/core/transport.ts'
import type { Stream } from '../../../src/core/stream.ts'
import { PeerIdMismatchError, StreamResetError, UnsupportedProtocolError, DialError, InvalidArgumentError } from '../../../src/core/errors.ts'
import { generateKeyPair, peerIdFromPrivateKey } from '../../../src/identity/index.ts'
import { makeNode, echo, readAll, readAllEvents, withTimeout, type TestNode } from './helpers.ts'

const ECHO = '/echo/1.0.0'
const SINK = '/sink/1.0.0'
const enc = new TextEncoder()
const dec = new TextDecoder()

for (const family of ['ip4', 'ip6'] as const) {
  const loopback = family === 'ip4' ? '127.0.0.1' : '::1'
  describe(`native tcp over ${loopback}`, () => {
    let server: TestNode
    let client: TestNode
    let listener: Listener
    let conn: Connection
    const serverStreams: Stream[] = []

    before(async () => {
      server = makeNode([ECHO, SINK])
      client = makeNode([ECHO])
      listener = await server.transport.listen(multiaddr(`/${family}/${loopback}/tcp/0`))
      listener.on('connection', (c: Connection) => {
        c.on('stream', (s: Stream) => {
          serverStreams.push(s)
          if (s.protocol === ECHO) echo(s)
        })
      })
      const addr = listener.addrs()[0]
      assert.ok(addr !== undefined)
      assert.match(addr.toString(), new RegExp(`^/${family}/`))
      conn = await client.transport.dial(addr.encapsulate(`/p2p/${server.context.peerId.toString()}`))
      // the client also serves echo, for streams the server opens
      conn.on('stream', (s: Stream) => { if (s.protocol === ECHO) echo(s) })
    })

    after(async () => {
      await client.transport.close()
      await server.transport.close()
    })

    it('dials, authenticates the peer and reports addresses', () => {
      assert.ok(conn.remotePeer.equals(server.context.peerId))
      assert.equal(conn.direction, 'outbound')
      assert.equal(conn.encryption, '/noise')
      assert.equal(conn.muxer, '/yamux/1.0.0')
      assert.equal(conn.remoteAddr.toString(), listener.addrs()[0]?.toString())
      assert.equal((conn as unknown as { earlyMuxer: boolean }).earlyMuxer, true)
    })

    it('echoes on an outbound stream', async () => {
      const s = await conn.openStream(ECHO)
      assert.equal(s.protocol, ECHO)
      s.send(enc.encode('hello native'))
      await s.closeWrite()
      assert.equal(dec.decode(await withTimeout(readAll(s), 5000, 'echo')), 'hello native')
    })

    it('opens a stream from the listening side (inbound for the dialer)', async () => {
      const serverConn = await new Promise<Connection>((resolve) => {
        // the server's connection object: find it through a stream it accepted
        const s = serverStreams[0]
        assert.ok(s !== undefined)
        resolve((server.transport as unknown as { connections: Set<Connection> }).connections.values().next().value as Connection)
      })
      const s = await serverConn.openStream(ECHO)
      s.send(enc.encode('from the listener'))
      await s.closeWrite()
      assert.equal(dec.decode(await withTimeout(readAll(s), 5000, 'reverse echo')), 'from the listener')
    })

    it('negotiates among several protocols and refuses unknown ones', async () => {
      const s = await conn.openStream(['/nope/1.0.0', ECHO])
      assert.equal(s.protocol, ECHO)
      await s.closeWrite()
      await readAll(s)
      await assert.rejects(conn.openStream(['/nope/1.0.0', '/nope/2.0.0']), UnsupportedProtocolError)
      // optimistic (one protocol): usable at once, reset once the remote refuses
      const lazy = await conn.openStream('/nope/3.0.0')
      await assert.rejects(withTimeout(readAll(lazy), 5000, 'refusal'), UnsupportedProtocolError)
    })

    it('carries 16 concurrent streams', async () => {
      const results = await Promise.all(Array.from({ length: 16 }, async (_, i) => {
        const s = await conn.openStream(ECHO)
        const payload = randomBytes(1000 + i * 4093)
        s.send(payload)
        await s.closeWrite()
        const got = await withTimeout(readAll(s), 10000, `stream ${i}`)
        return Buffer.from(got).equals(payload)
      }))
      assert.deepEqual(results, Array(16).fill(true))
    })

    it('moves 64 MiB with integrity', async () => {
      const total = 64 * 1024 * 1024
      const chunk = 256 * 1024
      const s = await conn.openStream(ECHO)
      const sent = createHash('sha256')
      const got = createHash('sha256')
      let received = 0
      const reader = (async () => {
        for await (const c of s) {
          got.update(c)
          received += c.byteLength
        }
      })()
      for (let off = 0; off < total; off += chunk) {
        const buf = randomBytes(chunk)
        sent.update(buf)
        if (!s.send(buf)) await s.onDrain()
      }
      await s.closeWrite()
      await withTimeout(reader, 60000, 'large transfer')
      assert.equal(received, total)
      assert.equal(got.digest('hex'), sent.digest('hex'))
      const c = conn.counters()
      assert.ok(c.bytesOut > total && c.bytesIn > total, `counters ${JSON.stringify(c)}`)
      assert.ok(c.framesOut > 0 && c.framesIn > 0)
      const proto = client.transport.protocolCounters().get(ECHO)
      assert.ok(proto !== undefined && proto.bytesOut >= total && proto.bytesIn >= total, `protocol counters ${JSON.stringify(proto)}`)
      assert.ok(proto.streams >= 1)
    })

    it('rejects a send() of something that is not a Uint8Array, and the stream carries on', async () => {
      const s = await conn.openStream(ECHO)
      assert.throws(() => s.send('text' as unknown as Uint8Array), InvalidArgumentError)
      assert.throws(() => s.send(new Uint16Array(4) as unknown as Uint8Array), InvalidArgumentError)
      assert.equal(s.writeBufferLength, 0)
      assert.equal(s.send(enc.encode('fine')), true)
      await s.closeWrite()
      assert.equal(dec.decode(await withTimeout(readAll(s), 5000, 'echo after bad sends')), 'fine')
    })

    it('carries 70k one-byte sends queued in one tick (submitted in two batches)', async () => {
      const s = await conn.openStream(ECHO)
      const n = 70_000  // > 65536 commands: one early submit mid-tick
      const one = Uint8Array.of(42)
      // 'data' events: AbstractStream's iterator shifts its queue (O(n) per shift beyond ~16k chunks)
      const reading = readAllEvents(s)
      for (let i = 0; i < n; i++) s.send(one)
      await s.closeWrite()
      const got = await withTimeout(reading, 20000, 'many small sends')
      assert.equal(got.byteLength, n)
      assert.ok(got.every(b => b === 42))
    })

    it('half-closes: the remote still writes after our FIN', async () => {
      const s = await conn.openStream(ECHO)
      s.send(enc.encode('abc'))
      await s.closeWrite()
      assert.equal(s.writeStatus, 'closed')
      assert.throws(() => s.send(enc.encode('late')))
      const got = await withTimeout(readAll(s), 5000, 'half-close')
      assert.equal(dec.decode(got), 'abc')
      assert.equal(s.remoteWriteStatus, 'closed')
    })

    it('resets: the remote sees StreamResetError', async () => {
      const before = serverStreams.length
      const s = await conn.openStream(SINK)
      s.send(enc.encode('x'))
      // wait until the server has the stream
      await withTimeout((async () => { while (serverStreams.length === before) await new Promise(r => setTimeout(r, 2)) })(), 5000, 'inbound stream')
      const remote = serverStreams[serverStreams.length - 1] as Stream
      const closed = new Promise<Error | undefined>(resolve => { remote.once('close', resolve) })
      s.reset()
      assert.equal(s.status, 'aborted')
      const err = await withTimeout(closed, 5000, 'remote reset')
      assert.ok(err instanceof StreamResetError)
      assert.equal((err as StreamResetError).local, false)
    })

    it('applies backpressure: send() returns false, then drain', async () => {
      const before = serverStreams.length
      const s = await conn.openStream(SINK)
      s.send(enc.encode('start'))
      await withTimeout((async () => { while (serverStreams.length === before) await new Promise(r => setTimeout(r, 2)) })(), 5000, 'inbound stream')
      const remote = serverStreams[serverStreams.length - 1] as Stream
      remote.pause()  // the remote does not read: Yamux window, then our write buffer fill up
      const chunk = new Uint8Array(1024 * 1024)
      let sent = 0
      let stuck = false
      // Keep writing; once send() says false, give native time: with the remote paused the
      // Yamux window runs out and the bytes stay in our write buffer.
      for (let i = 0; i < 96 && !stuck; i++) {
        const ok = s.send(chunk)
        sent += chunk.byteLength
        if (!ok) {
          await new Promise(r => setTimeout(r, 50))
          stuck = s.writableNeedsDrain && s.writeBufferLength > 1024 * 1024
        }
      }
      assert.ok(stuck, `write buffer stuck above the low-water mark (sent ${sent}, unwritten ${s.writeBufferLength})`)
      let received = 0
      remote.on('data', (c: Uint8Array) => { received += c.byteLength })
      const drained = s.onDrain()
      remote.resume()
      await withTimeout(drained, 10000, 'drain')
      assert.ok(s.writeBufferLength <= 1024 * 1024)
      s.reset()
      assert.ok(received > 0)
      assert.ok(sent >= 4 * 1024 * 1024)
    })
  })
}

describe('native tcp dial failures', () => {
  let server: TestNode
  let client: TestNode
  let listener: Listener

  before(async () => {
    server = makeNode([ECHO])
    client = makeNode([ECHO])
    listener = await server.transport.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
    listener.on('connection', (c: Connection) => { c.on('stream', echo) })
  })

  after(async () => {
    await client.transport.close()
    await server.transport.close()
  })

  it('fails with PeerIdMismatchError when the remote is not the /p2p/ peer', async () => {
    const other = peerIdFromPrivateKey(generateKeyPair('Ed25519'))
    const addr = listener.addrs()[0]?.encapsulate(`/p2p/${other.toString()}`)
    assert.ok(addr !== undefined)
    const err = await client.transport.dial(addr).then(() => undefined, (e: unknown) => e)
    assert.ok(err instanceof PeerIdMismatchError, `got ${String(err)}`)
    assert.equal(err.expected, other.toString())
    // the Noise engine reports the id the remote's handshake payload claims
    assert.equal(err.actual, server.context.peerId.toString())
    // the listener keeps serving
    const ok = await client.transport.dial(listener.addrs()[0] as ReturnType<typeof multiaddr>)
    assert.ok(ok.remotePeer.equals(server.context.peerId))
    await ok.close()
  })

  it('fails with DialError on a closed port', async () => {
    const probe = makeNode()
    const l = await probe.transport.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
    const addr = l.addrs()[0]
    await probe.transport.close()
    assert.ok(addr !== undefined)
    await assert.rejects(client.transport.dial(addr), DialError)
  })

  it('settles a pending dial when the transport closes', async () => {
    const quitter = makeNode()
    // a listening socket that never answers the handshake (accepts at the kernel level only)
    const { createServer } = await import('node:net')
    const silent = createServer(() => {})
    await new Promise<void>(resolve => { silent.listen(0, '127.0.0.1', resolve) })
    const port = (silent.address() as { port: number }).port
    const dialing = quitter.transport.dial(multiaddr(`/ip4/127.0.0.1/tcp/${port}`))
    await new Promise(r => setTimeout(r, 50))
    await quitter.transport.close()
    await assert.rejects(withTimeout(dialing, 2000, 'dial settles'), (err: Error) => (err as { code?: string }).code === 'ERR_CONNECTION_CLOSED')
    silent.close()
  })

  it('rejects addresses it cannot dial', async () => {
    await assert.rejects(client.transport.dial(multiaddr('/dns4/example.com/tcp/1')), InvalidArgumentError)
    assert.equal(client.transport.canDial(multiaddr('/ip4/1.2.3.4/udp/1/quic-v1')), false)
    assert.equal(client.transport.canDial(multiaddr('/ip6/::1/tcp/1')), true)
  })
})

describe('native tcp receive slabs', () => {
  it('return to the pool when JS has collected their views', async () => {
    const { setFlagsFromString } = await import('node:v8')
    const { runInNewContext } = await import('node:vm')
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const server = makeNode([ECHO])
    const client = makeNode([ECHO])
    try {
      const listener = await server.transport.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
      listener.on('connection', (c: Connection) => { c.on('stream', echo) })
      const conn = await client.transport.dial(listener.addrs()[0] as ReturnType<typeof multiaddr>)
      const s = await conn.openStream(ECHO)
      const chunk = new Uint8Array(256 * 1024).fill(3)
      let received = 0
      const reader = (async () => { for await (const c of s) received += c.byteLength })()
      for (let i = 0; i < 128; i++) if (!s.send(chunk)) await s.onDrain()  // 32 MiB through 32+ slabs each way
      await s.closeWrite()
      await withTimeout(reader, 20000, 'transfer')
      assert.equal(received, 32 * 1024 * 1024)
      const peak = client.transport.slabsLive() + server.transport.slabsLive()
      // Collect the views; finalizers run after GC, then the slabs go back to the pool (8 kept per host).
      for (let i = 0; i < 10 && client.transport.slabsLive() + server.transport.slabsLive() > 2 * 9; i++) {
        gc()
        await new Promise(r => setTimeout(r, 20))
      }
      const after = client.transport.slabsLive() + server.transport.slabsLive()
      assert.ok(after <= 2 * 9, `slabs live after GC: ${after} (peak ${peak})`)
    } finally {
      await client.transport.close()
      await server.transport.close()
    }
  })
})

describe('native tcp with several I/O threads', () => {
  it('spreads connections round-robin and serves each on its thread', async () => {
    const server = makeNode([ECHO], { ioThreads: 3 })
    const client = makeNode([ECHO], { ioThreads: 2 })
    try {
      const listener = await server.transport.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
      const ids: string[] = []
      listener.on('connection', (c: Connection) => { ids.push(c.id); c.on('stream', echo) })
      const conns = await Promise.all(Array.from({ length: 6 }, async () => await client.transport.dial(listener.addrs()[0] as ReturnType<typeof multiaddr>)))
      const replies = await Promise.all(conns.map(async (conn, i) => {
        const s = await conn.openStream(ECHO)
        s.send(enc.encode(`conn ${i}`))
        await s.closeWrite()
        return dec.decode(await withTimeout(readAll(s), 5000, `echo ${i}`))
      }))
      assert.deepEqual(replies, conns.map((_, i) => `conn ${i}`))
      // inbound ids carry their thread in the low 6 bits: all three server threads got connections
      const threads = new Set(ids.map(id => parseInt(id.slice(4), 16) & 63))
      assert.deepEqual([...threads].sort(), [0, 1, 2])
      assert.equal(client.transport.nativeCounters()?.threads, 2)
      await Promise.all(conns.map(async c => { await c.close() }))
    } finally {
      await client.transport.close()
      await server.transport.close()
    }
  })
})
