/**
 * The native QUIC transport, two transports in one process over loopback (IPv4 and IPv6): dial,
 * echo both ways, dial timeouts, listener close, and garbage datagrams that must not disturb a
 * connection. What every stream transport must do (negotiation, 16 concurrent streams, a large
 * transfer with integrity, half-close, reset, backpressure) and its dial failures (PeerId
 * mismatch, a dial settling on close) are the shared compliance suites' (compliance.test.ts here,
 * test/compliance/); bad certificates are in bad-certificate.test.ts, the Initial flood in
 * flood.test.ts.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Connection, Listener } from '../../../src/core/transport.ts'
import type { Stream } from '../../../src/core/stream.ts'
import { InvalidArgumentError, PeerIdMismatchError } from '../../../src/core/errors.ts'
import { generateKeyPair, peerIdFromPrivateKey } from '../../../src/identity/index.ts'
import { StaticProtocolTable } from '../../../src/utils/protocol-table.ts'
import { quic, type QuicOptions, type QuicTransport } from '../../../src/transports/quic/index.ts'
import type { TransportContext } from '../../../src/core/transport.ts'
import { echo, readAll, withTimeout } from '../tcp/helpers.ts'

const ECHO = '/echo/1.0.0'
const enc = new TextEncoder()
const dec = new TextDecoder()

interface QuicNode { context: TransportContext, transport: QuicTransport }

function makeNode (protocols: string[] = [ECHO], options: QuicOptions = {}): QuicNode {
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

    before(async () => {
      server = makeNode()
      client = makeNode()
      listener = await server.transport.listen(multiaddr(`/${family}/${loopback}/udp/0/quic-v1`))
      listener.on('connection', (c: Connection) => {
        serverConns.push(c)
        c.on('stream', (s: Stream) => { if (s.protocol === ECHO) echo(s) })
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
  let client: QuicNode

  before(() => { client = makeNode([ECHO], { handshakeTimeoutMs: 1000 }) })

  after(async () => {
    await client.transport.close()
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

  it('an address object dialed again keeps its own /p2p/ check (dial targets are parsed once per object)', async () => {
    const host = makeNode()
    const l = await host.transport.listen(multiaddr('/ip4/127.0.0.1/udp/0/quic-v1'))
    const base = l.addrs()[0] as Multiaddr
    const right = base.encapsulate(`/p2p/${host.context.peerId.toString()}`)
    const wrongPeer = peerIdFromPrivateKey(generateKeyPair('Ed25519')).toString()
    const wrong = multiaddr(`${base.toString()}/p2p/${wrongPeer}`)
    try {
      for (const a of [right, right, wrong, wrong, right, base]) {
        const result = await client.transport.dial(a).then(async (c) => { await c.close(); return c.remotePeer.toString() }, (e: unknown) => e)
        if (a === wrong) {
          assert.ok(result instanceof PeerIdMismatchError, `got ${String(result)}`)
          assert.equal(result.expected, wrongPeer)
        } else {
          assert.equal(result, host.context.peerId.toString())
        }
      }
    } finally {
      await host.transport.close()
    }
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
