/**
 * The native TCP transport end to end: two transports in one process over 127.0.0.1 and ::1,
 * through the whole native pipeline (multistream /noise, Noise XX, Yamux, per-stream mss). What
 * every stream transport must do (negotiation, 16 concurrent streams, a large transfer with
 * integrity and counters, half-close, reset, backpressure) and its dial failures (PeerId
 * mismatch, a dial settling on close) are the shared compliance suites' (compliance.test.ts
 * here, test/compliance/).
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import type { Connection, Listener } from '../../../src/core/transport.ts'
import type { Stream } from '../../../src/core/stream.ts'
import { DialError, InvalidArgumentError } from '../../../src/core/errors.ts'
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
  })
}

describe('native tcp dial failures', () => {
  let client: TestNode

  before(() => { client = makeNode([ECHO]) })

  after(async () => {
    await client.transport.close()
  })

  it('fails with DialError on a closed port', async () => {
    const probe = makeNode()
    const l = await probe.transport.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
    const addr = l.addrs()[0]
    await probe.transport.close()
    assert.ok(addr !== undefined)
    await assert.rejects(client.transport.dial(addr), DialError)
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
      // 96 MiB through 96+ slabs each way: more than the pool keeps, so a leak shows.
      for (let i = 0; i < 384; i++) if (!s.send(chunk)) await s.onDrain()
      await s.closeWrite()
      await withTimeout(reader, 30000, 'transfer')
      assert.equal(received, 96 * 1024 * 1024)
      const peak = client.transport.slabsLive() + server.transport.slabsLive()
      // Collect the views; finalizers run after GC, then the slabs go back to the pool
      // (kSlabPoolMax = 64 kept per host, native/io/limits.h) plus each host's current slab.
      const bound = 2 * (64 + 1)
      for (let i = 0; i < 10 && client.transport.slabsLive() + server.transport.slabsLive() > bound; i++) {
        gc()
        await new Promise(r => setTimeout(r, 20))
      }
      const after = client.transport.slabsLive() + server.transport.slabsLive()
      assert.ok(after <= bound, `slabs live after GC: ${after} (peak ${peak})`)
    } finally {
      await client.transport.close()
      await server.transport.close()
    }
  })
})

describe('native tcp receive backpressure while JS is busy', () => {
  it('stops reading once kMaxOutboxSlabs slabs of data wait for JS, and resumes', async () => {
    const SINK = '/sink/1.0.0'
    const server = makeNode([SINK])
    const client = makeNode([SINK])
    try {
      const listener = await server.transport.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
      let received = 0
      let first: (() => void) | undefined
      const firstChunk = new Promise<void>(resolve => { first = resolve })
      let done: (() => void) | undefined
      const ended = new Promise<void>(resolve => { done = resolve })
      listener.on('connection', (c: Connection) => {
        c.on('stream', (st: Stream) => {
          st.on('data', (chunk: Uint8Array) => { received += chunk.byteLength; first?.() })
          st.on('remoteCloseWrite', () => done?.())
        })
      })
      const conn = await client.transport.dial(listener.addrs()[0] as ReturnType<typeof multiaddr>)
      const s = await conn.openStream(SINK)
      const chunk = new Uint8Array(256 * 1024).fill(5)
      s.send(chunk)
      await withTimeout(firstChunk, 10000, 'first chunk')
      // Queue 192 MiB at once (the send queue holds them; native reads them in place), let the
      // commands go out, then keep this JS thread from running while the I/O threads move data.
      const total = 768
      for (let i = 1; i < total; i++) s.send(chunk)
      await new Promise(resolve => setImmediate(resolve))
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500)
      // Nothing was delivered meanwhile: what the receiving host holds is what its I/O thread read.
      // Bound: kMaxOutboxSlabs (32, native/io/limits.h) plus the slab being read into, a tail's slab
      // and the ones JS held before the pause. Without the bound it read on into ~190 slabs.
      const live = server.transport.slabsLive()
      assert.ok(live <= 32 + 6, `receiver slabs while JS was blocked: ${live}`)
      await s.closeWrite()
      await withTimeout(ended, 30000, 'transfer after the pause')
      assert.equal(received, total * chunk.byteLength)
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
