/**
 * The native QUIC transport, two transports in one process over loopback (IPv4 and IPv6):
 * dial, echo both ways, 16 concurrent streams, integrity of a multi-MiB transfer, half-close,
 * reset, backpressure, PeerId mismatch, and garbage datagrams that must not disturb a connection.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Connection, Listener } from '../../../src/core/transport.ts'
import type { Stream } from '../../../src/core/stream.ts'
import { InvalidArgumentError, PeerIdMismatchError, StreamResetError, UnsupportedProtocolError } from '../../../src/core/errors.ts'
import { generateKeyPair, peerIdFromPrivateKey } from '../../../src/identity/index.ts'
import { StaticProtocolTable } from '../../../src/utils/protocol-table.ts'
import { quic, type QuicOptions, type QuicTransport } from '../../../src/transports/quic/index.ts'
import type { TransportContext } from '../../../src/core/transport.ts'
import { echo, readAll, withTimeout } from '../tcp/helpers.ts'

const ECHO = '/echo/1.0.0'
const SINK = '/sink/1.0.0'
const enc = new TextEncoder()
const dec = new TextDecoder()

interface QuicNode { context: TransportContext, transport: QuicTransport }

function makeNode (protocols: string[] = [ECHO, SINK], options: QuicOptions = {}): QuicNode {
  const privateKey = generateKeyPair('Ed25519')
  const context: TransportContext = { privateKey, peerId: peerIdFromPrivateKey(privateKey), protocols: new StaticProtocolTable(protocols) }
  return { context, transport: quic(options)(context) as QuicTransport }
}

async function until (cond: () => boolean, what: string, ms = 5000): Promise<void> {
  await withTimeout((async () => { while (!cond()) await new Promise(r => setTimeout(r, 2)) })(), ms, what)
}

for (const family of ['ip4', 'ip6'] as const) {
  const loopback = family === 'ip4' ? '127.0.0.1' : '::1'
  describe(`native quic over ${family} loopback`, () => {
    let server: QuicNode
    let client: QuicNode
    let listener: Listener
    let conn: Connection
    const serverConns: Connection[] = []
    const serverStreams: Stream[] = []

    before(async () => {
      server = makeNode()
      client = makeNode()
      listener = await server.transport.listen(multiaddr(`/${family}/${loopback}/udp/0/quic-v1`))
      listener.on('connection', (c: Connection) => {
        serverConns.push(c)
        c.on('stream', (s: Stream) => {
          serverStreams.push(s)
          if (s.protocol === ECHO) echo(s)
        })
      })
      conn = await client.transport.dial(listener.addrs()[0] as Multiaddr)
    })

    after(async () => {
      await client.transport.close()
      await server.transport.close()
    })

    it('dials and authenticates both peers', async () => {
      assert.match(listener.addrs()[0]?.toString() ?? '', new RegExp(`^/${family}/.+/udp/\\d+/quic-v1$`))
      assert.ok(conn.remotePeer.equals(server.context.peerId))
      assert.equal(conn.transport, 'quic-v1')
      assert.equal(conn.direction, 'outbound')
      await until(() => serverConns.length > 0, 'inbound connection')
      assert.ok(serverConns[0]?.remotePeer.equals(client.context.peerId))
      assert.equal(serverConns[0]?.direction, 'inbound')
    })

    it('echoes on an outbound stream', async () => {
      const s = await conn.openStream(ECHO)
      assert.equal(s.protocol, ECHO)
      s.send(enc.encode('hello quic'))
      await s.closeWrite()
      assert.equal(dec.decode(await withTimeout(readAll(s), 5000, 'echo')), 'hello quic')
    })

    it('echoes on a stream opened by the listening side', async () => {
      const clientStreams: Stream[] = []
      conn.on('stream', (s: Stream) => { clientStreams.push(s); echo(s) })
      await until(() => serverConns.length > 0, 'inbound connection')
      const s = await (serverConns[0] as Connection).openStream(ECHO)
      s.send(enc.encode('from the listener'))
      await s.closeWrite()
      assert.equal(dec.decode(await withTimeout(readAll(s), 5000, 'reverse echo')), 'from the listener')
      assert.equal(clientStreams.length, 1)
      assert.equal(clientStreams[0]?.direction, 'inbound')
    })

    it('negotiates among several protocols and refuses unknown ones', async () => {
      const s = await conn.openStream(['/nope/1.0.0', ECHO])
      assert.equal(s.protocol, ECHO)
      await s.closeWrite()
      await readAll(s)
      await assert.rejects(conn.openStream(['/nope/1.0.0', '/nope/2.0.0']), UnsupportedProtocolError)
      const lazy = await conn.openStream('/nope/3.0.0')
      await assert.rejects(withTimeout(readAll(lazy), 5000, 'refusal'), UnsupportedProtocolError)
    })

    it('carries 16 concurrent streams', async () => {
      const results = await Promise.all(Array.from({ length: 16 }, async (_, i) => {
        const s = await conn.openStream(ECHO)
        const payload = randomBytes(1000 + i * 40_933)
        s.send(payload)
        await s.closeWrite()
        const got = await withTimeout(readAll(s), 20000, `stream ${i}`)
        return Buffer.from(got).equals(payload)
      }))
      assert.deepEqual(results, Array(16).fill(true))
    })

    it('moves 32 MiB through an echo with integrity', async () => {
      const total = 32 * 1024 * 1024
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
      assert.ok(c.bytesOut >= total && c.bytesIn >= total, `counters ${JSON.stringify(c)}`)
      const proto = client.transport.protocolCounters().get(ECHO)
      assert.ok(proto !== undefined && proto.bytesOut >= total, `protocol counters ${JSON.stringify(proto)}`)
      // every send buffer was acknowledged and released
      assert.equal(s.writeBufferLength, 0)
    })

    it('half-closes: the remote keeps writing after our FIN', async () => {
      const before = serverStreams.length
      const s = await conn.openStream(SINK)
      s.send(enc.encode('question'))
      await s.closeWrite()
      await until(() => serverStreams.length > before, 'inbound stream')
      const remote = serverStreams[serverStreams.length - 1] as Stream
      const q = await withTimeout(readAll(remote), 5000, 'remote reads to our FIN')
      assert.equal(dec.decode(q), 'question')
      // our side is write-closed, the remote's is still open: it answers, then closes
      remote.send(enc.encode('answer after your FIN'))
      await remote.closeWrite()
      assert.equal(dec.decode(await withTimeout(readAll(s), 5000, 'answer')), 'answer after your FIN')
    })

    it('resets: the remote sees StreamResetError', async () => {
      const before = serverStreams.length
      const s = await conn.openStream(SINK)
      s.send(enc.encode('x'))
      await until(() => serverStreams.length > before, 'inbound stream')
      const remote = serverStreams[serverStreams.length - 1] as Stream
      const closed = new Promise<Error | undefined>(resolve => { remote.once('close', resolve) })
      remote.resume()
      s.reset()
      assert.equal(s.status, 'aborted')
      const err = await withTimeout(closed, 5000, 'remote reset')
      assert.ok(err instanceof StreamResetError, `got ${String(err)}`)
      assert.equal((err as StreamResetError).local, false)
      // the connection carries on
      const e = await conn.openStream(ECHO)
      e.send(enc.encode('after reset'))
      await e.closeWrite()
      assert.equal(dec.decode(await withTimeout(readAll(e), 5000, 'echo after reset')), 'after reset')
    })

    it('applies backpressure: send() returns false, then drain', async () => {
      const before = serverStreams.length
      const s = await conn.openStream(SINK)
      s.send(enc.encode('start'))
      await until(() => serverStreams.length > before, 'inbound stream')
      const remote = serverStreams[serverStreams.length - 1] as Stream
      remote.pause()  // the remote does not read: QUIC flow control, then our write buffer fill up
      const chunk = new Uint8Array(1024 * 1024)
      let sent = 0
      let stuck = false
      for (let i = 0; i < 96 && !stuck; i++) {
        const ok = s.send(chunk)
        sent += chunk.byteLength
        if (!ok) {
          await new Promise(r => setTimeout(r, 50))
          stuck = s.writableNeedsDrain && s.writeBufferLength > 1024 * 1024
        }
      }
      assert.ok(stuck, `write buffer stuck above the low-water mark (sent ${sent}, unacked ${s.writeBufferLength})`)
      let received = 0
      remote.on('data', (c: Uint8Array) => { received += c.byteLength })
      const drained = s.onDrain()
      remote.resume()
      await withTimeout(drained, 10000, 'drain')
      assert.ok(s.writeBufferLength <= 1024 * 1024)
      s.reset()
      assert.ok(received > 0)
    })

    it('ignores random and truncated datagrams sent to the listener', async () => {
      const port = Number(listener.addrs()[0]?.toString().split('/')[4])
      const sock = createSocket(family === 'ip4' ? 'udp4' : 'udp6')
      await new Promise<void>(resolve => { sock.bind(0, loopback, resolve) })
      const send = async (b: Uint8Array): Promise<void> => { await new Promise<void>((resolve, reject) => { sock.send(b, port, loopback, (err) => { if (err != null) reject(err); else resolve() }) }) }
      for (let i = 0; i < 200; i++) await send(randomBytes(1 + Math.floor(Math.random() * 1400)))
      // long-header Initial lookalikes: truncated, and full-size with garbage after the header
      for (let i = 0; i < 50; i++) {
        const b = randomBytes(i % 2 === 0 ? 20 + i : 1200)
        b[0] = 0xc0 | (b[0] as number & 0x0f)
        b.writeUInt32BE(1, 1)  // QUIC v1
        b[5] = 8
        await send(b)
      }
      // short-header packets for unknown connection ids (Stateless Reset territory)
      for (let i = 0; i < 50; i++) {
        const b = randomBytes(60)
        b[0] = 0x40 | (b[0] as number & 0x3f)
        await send(b)
      }
      sock.close()
      const s = await conn.openStream(ECHO)
      const payload = randomBytes(200_000)
      s.send(payload)
      await s.closeWrite()
      assert.ok(Buffer.from(await withTimeout(readAll(s), 5000, 'echo after garbage')).equals(payload))
      assert.equal(conn.status, 'open')
    })

    it('closes gracefully; the remote sees the close', async () => {
      await until(() => serverConns.length > 0, 'inbound connection')
      const remote = serverConns[0] as Connection
      const remoteClosed = new Promise<void>(resolve => { remote.once('close', () => { resolve() }) })
      await withTimeout(conn.close(), 5000, 'close')
      assert.equal(conn.status, 'closed')
      await withTimeout(remoteClosed, 5000, 'remote close')
      assert.equal(remote.status, 'closed')
    })
  })
}

describe('native quic dial failures', () => {
  let server: QuicNode
  let client: QuicNode
  let listener: Listener

  before(async () => {
    server = makeNode()
    client = makeNode([ECHO], { handshakeTimeoutMs: 1000 })
    listener = await server.transport.listen(multiaddr('/ip4/127.0.0.1/udp/0/quic-v1'))
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
    // the listener keeps serving, and the right /p2p/ id is accepted
    const right = listener.addrs()[0]?.encapsulate(`/p2p/${server.context.peerId.toString()}`) as Multiaddr
    const ok = await client.transport.dial(right)
    assert.ok(ok.remotePeer.equals(server.context.peerId))
    await ok.close()
  })

  it('times out against a silent UDP port', async () => {
    const sock = createSocket('udp4')
    await new Promise<void>(resolve => { sock.bind(0, '127.0.0.1', resolve) })
    const port = sock.address().port
    const t0 = Date.now()
    await assert.rejects(client.transport.dial(multiaddr(`/ip4/127.0.0.1/udp/${port}/quic-v1`)), (err: Error) => /timed out|timeout/i.test(err.message))
    assert.ok(Date.now() - t0 < 4000)
    sock.close()
  })

  it('settles a pending dial when the transport closes', async () => {
    const quitter = makeNode()
    const silent = createSocket('udp4')
    await new Promise<void>(resolve => { silent.bind(0, '127.0.0.1', resolve) })
    const dialing = quitter.transport.dial(multiaddr(`/ip4/127.0.0.1/udp/${silent.address().port}/quic-v1`))
    await new Promise(r => setTimeout(r, 50))
    await quitter.transport.close()
    await assert.rejects(withTimeout(dialing, 2000, 'dial settles'), (err: Error) => (err as { code?: string }).code === 'ERR_CONNECTION_CLOSED')
    silent.close()
  })

  it('a closed listener keeps its connections and refuses new ones', async () => {
    const host = makeNode()
    const l = await host.transport.listen(multiaddr('/ip4/127.0.0.1/udp/0/quic-v1'))
    const accepted = new Promise<void>(resolve => {
      l.on('connection', (c: Connection) => { c.on('stream', echo); resolve() })
    })
    const addr = l.addrs()[0] as Multiaddr
    const kept = await client.transport.dial(addr)
    // The client's dial settles when it sends its Finished; the listener has the connection once it
    // has read it (a handshake still in progress when the listener closes is dropped). Inline
    // (ioThreads 0) both ends share this thread, so that read has not happened yet.
    await withTimeout(accepted, 5000, 'server side of the connection')
    await l.close()
    const s = await kept.openStream(ECHO)
    s.send(enc.encode('still served'))
    await s.closeWrite()
    assert.equal(dec.decode(await withTimeout(readAll(s), 5000, 'echo after listener close')), 'still served')
    await assert.rejects(client.transport.dial(addr), (err: Error) => /timed out|timeout/i.test(err.message))
    await kept.close()
    await host.transport.close()
  })

  it('rejects addresses it cannot dial', async () => {
    await assert.rejects(client.transport.dial(multiaddr('/ip4/127.0.0.1/tcp/1')), InvalidArgumentError)
    assert.equal(client.transport.canDial(multiaddr('/ip4/1.2.3.4/udp/1/quic-v1')), true)
    assert.equal(client.transport.canDial(multiaddr('/ip4/1.2.3.4/udp/1/quic')), false)
    assert.equal(client.transport.canDial(multiaddr('/ip4/1.2.3.4/tcp/1')), false)
  })
})

describe('native quic: inbound streams before a \'stream\' listener', () => {
  it('holds a stream the listener opens at once until the dialer listens', async () => {
    const server = makeNode()
    const client = makeNode()
    try {
      const listener = await server.transport.listen(multiaddr('/ip4/127.0.0.1/udp/0/quic-v1'))
      listener.on('connection', (c: Connection) => {
        void (async () => {
          const s = await c.openStream(ECHO)
          s.send(enc.encode('early'))
          await s.closeWrite()
        })()
      })
      const conn = await client.transport.dial(listener.addrs()[0] as Multiaddr)
      // listen only after a while: the stream has surely arrived by now
      await new Promise(r => setTimeout(r, 100))
      const s = await withTimeout(new Promise<Stream>(resolve => { conn.once('stream', resolve) }), 5000, 'held stream')
      assert.equal(s.protocol, ECHO)
      const got = withTimeout(readAll(s), 5000, 'early data')
      await s.closeWrite()
      assert.equal(dec.decode(await got), 'early')
    } finally {
      await client.transport.close()
      await server.transport.close()
    }
  })
})
