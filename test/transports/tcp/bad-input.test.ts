/**
 * Malformed bytes at each layer, from a raw socket: each closes only that connection with a typed
 * error, while another connection on the same I/O thread keeps working.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import type { Connection, Listener } from '../../../src/core/transport.ts'
import { HandshakeError, ProtocolViolationError } from '../../../src/core/errors.ts'
import { nativeCodeOf } from '../../../src/native/index.ts'
import { makeNode, echo, readAll, withTimeout, type TestNode } from './helpers.ts'
import { RawPeer, YamuxFrameReader, concat, mssLine, yamuxHeader } from './raw-peer.ts'

const ECHO = '/echo/1.0.0'

describe('native tcp: malformed input closes only that connection', () => {
  let server: TestNode
  let client: TestNode
  let listener: Listener
  let good: Connection
  let port: number
  const inboundErrors: Error[] = []
  const serverConns: Connection[] = []

  before(async () => {
    server = makeNode([ECHO])
    client = makeNode([ECHO])
    listener = await server.transport.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
    listener.on('error', (err: Error) => { inboundErrors.push(err) })
    listener.on('connection', (c: Connection) => {
      serverConns.push(c)
      c.on('stream', echo)
    })
    port = Number(listener.addrs()[0]?.toString().split('/')[4])
    good = await client.transport.dial(listener.addrs()[0] as ReturnType<typeof multiaddr>)
  })

  after(async () => {
    await client.transport.close()
    await server.transport.close()
  })

  async function goodStillWorks (): Promise<void> {
    const s = await good.openStream(ECHO)
    s.send(new TextEncoder().encode('still here'))
    await s.closeWrite()
    assert.equal(new TextDecoder().decode(await withTimeout(readAll(s), 5000, 'echo on the good connection')), 'still here')
    assert.equal(good.status, 'open')
  }

  async function nextInboundError (before: number): Promise<Error> {
    await withTimeout((async () => { while (inboundErrors.length === before) await new Promise(r => setTimeout(r, 2)) })(), 5000, 'listener error')
    return inboundErrors[inboundErrors.length - 1] as Error
  }

  /** Completes a real handshake from a raw socket; returns it with the server's connection object. */
  async function handshaken (): Promise<{ raw: RawPeer, conn: Connection }> {
    const n = serverConns.length
    const raw = await RawPeer.connect('127.0.0.1', port)
    await raw.handshake()
    await withTimeout((async () => { while (serverConns.length === n) await new Promise(r => setTimeout(r, 2)) })(), 5000, 'server connection')
    return { raw, conn: serverConns[serverConns.length - 1] as Connection }
  }

  async function closeError (conn: Connection): Promise<Error | undefined> {
    if (conn.status === 'closed') throw new Error('already closed')
    return await withTimeout(new Promise<Error | undefined>(resolve => { conn.once('close', resolve) }), 5000, 'connection close')
  }

  it('bad multistream header', async () => {
    const n = inboundErrors.length
    const raw = await RawPeer.connect('127.0.0.1', port)
    raw.write(mssLine('/not-multistream/9'))
    const err = await nextInboundError(n)
    assert.ok(err instanceof ProtocolViolationError, String(err))
    assert.equal(err.protocol, 'multistream-select')
    assert.equal(err.code, 'ERR_MSS_BAD_HEADER')
    await withTimeout(raw.waitClosed(), 5000, 'raw socket closed')
    await goodStillWorks()
  })

  it('multistream line longer than the limit', async () => {
    const n = inboundErrors.length
    const raw = await RawPeer.connect('127.0.0.1', port)
    raw.write(Uint8Array.of(0xff, 0xff, 0x03))  // uvarint 65535: over kMaxMessageLength
    const err = await nextInboundError(n)
    assert.ok(err instanceof ProtocolViolationError, String(err))
    assert.equal(err.code, 'ERR_MSS_MESSAGE_TOO_LONG')
    await withTimeout(raw.waitClosed(), 5000, 'raw socket closed')
    await goodStillWorks()
  })

  it('garbage Noise handshake message', async () => {
    const n = inboundErrors.length
    const raw = await RawPeer.connect('127.0.0.1', port)
    raw.write(mssLine('/multistream/1.0.0'))
    raw.write(mssLine('/noise'))
    raw.write(Uint8Array.of(0, 5, 1, 2, 3, 4, 5))  // a 5-byte "message 1": shorter than an X25519 key
    const err = await nextInboundError(n)
    assert.ok(err instanceof HandshakeError, String(err))
    assert.ok(nativeCodeOf(err) !== undefined && (nativeCodeOf(err) as number) >= 300 && (nativeCodeOf(err) as number) < 400)
    await withTimeout(raw.waitClosed(), 5000, 'raw socket closed')
    await goodStillWorks()
  })

  it('garbage Noise transport message after a real handshake', async () => {
    const { raw, conn } = await handshaken()
    const closed = closeError(conn)
    raw.write(Uint8Array.of(0, 20, ...new Uint8Array(20).fill(7)))  // fails authentication
    const err = await closed
    assert.ok(err instanceof ProtocolViolationError, String(err))
    assert.equal(err.protocol, 'noise')
    assert.equal(err.code, 'ERR_NOISE_DECRYPT_FAILED')
    await withTimeout(raw.waitClosed(), 5000, 'raw socket closed')
    await goodStillWorks()
  })

  it('Yamux frame with an unknown version', async () => {
    const { raw, conn } = await handshaken()
    const closed = closeError(conn)
    raw.sendEncrypted(yamuxHeader(7, 0, 1, 1, 0))
    const err = await closed
    assert.ok(err instanceof ProtocolViolationError, String(err))
    assert.equal(err.code, 'ERR_YAMUX_BAD_VERSION')
    await goodStillWorks()
    raw.close()
  })

  it('Yamux frame of an unknown type', async () => {
    const { raw, conn } = await handshaken()
    const closed = closeError(conn)
    raw.sendEncrypted(yamuxHeader(0, 9, 0, 1, 0))
    const err = await closed
    assert.ok(err instanceof ProtocolViolationError, String(err))
    assert.equal(err.code, 'ERR_YAMUX_BAD_TYPE')
    await goodStillWorks()
    raw.close()
  })

  it('oversized Yamux data frame (beyond the stream window)', async () => {
    const { raw, conn } = await handshaken()
    const closed = closeError(conn)
    // SYN + data announcing 1 MiB on a fresh stream whose window is 256 KiB: rejected at the header
    raw.sendEncrypted(yamuxHeader(0, 0, 1, 1, 1024 * 1024))
    const err = await closed
    assert.ok(err instanceof ProtocolViolationError, String(err))
    assert.equal(err.code, 'ERR_YAMUX_WINDOW_EXCEEDED')
    await goodStillWorks()
    raw.close()
  })

  it('a flood of stream opens is refused with RST, the connection carries on', async () => {
    const { raw, conn } = await handshaken()
    // 1100 SYNs (window updates with SYN) in one message: the Yamux engine keeps at most 256
    // streams pending negotiation (max_pending_inbound) and refuses the others with RST.
    const total = 1100
    const all = new Uint8Array(total * 12)
    for (let i = 0; i < total; i++) all.set(yamuxHeader(0, 1, 1, 2 * i + 1, 0), i * 12)
    raw.sendEncrypted(all)
    const reader = new YamuxFrameReader()
    let resets = 0
    await withTimeout((async () => {
      while (resets < total - 256) {
        for (const f of reader.push(await raw.readEncrypted())) if ((f.flags & 8) !== 0) resets++
      }
    })(), 5000, 'RST frames')
    assert.equal(resets, total - 256)
    assert.equal(conn.status, 'open')
    assert.equal(conn.streams.length, 0, 'no stream reached the application')
    await goodStillWorks()
    raw.close()
    await closeError(conn)
  })

  it('a ping flood from a peer that never reads is throttled, not buffered', async () => {
    const { raw, conn } = await handshaken()
    raw.socket.pause()  // never read the pongs
    const perMessage = Math.floor(65519 / 12)
    const msg = new Uint8Array(perMessage * 12)
    for (let i = 0; i < perMessage; i++) msg.set(yamuxHeader(0, 2, 1, 0, i), i * 12)
    const messages = 700  // ~45 MB of pings, each asking for a 12-byte pong
    for (let i = 0; i < messages; i++) raw.sendEncrypted(msg)
    await new Promise(r => setTimeout(r, 500))
    const c = conn.counters()
    // The server stops reading once its unsent output reaches kMaxOutputBuffer (1 MiB); what it
    // read is bounded by that plus the kernel buffers, far below what was sent.
    assert.ok(c.bytesIn < (messages * msg.byteLength) / 2, `server read ${c.bytesIn} of ${messages * msg.byteLength}`)
    assert.equal(conn.status, 'open')
    await goodStillWorks()
    raw.close()
    await closeError(conn)
  })

  it('a stream that never proposes a protocol is reset after the negotiation timeout', async () => {
    const slow = makeNode([ECHO], { streamNegotiationTimeoutMs: 200 })
    try {
      const l = await slow.transport.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
      const p = Number(l.addrs()[0]?.toString().split('/')[4])
      const raw = await RawPeer.connect('127.0.0.1', p)
      await raw.handshake()
      raw.sendEncrypted(yamuxHeader(0, 1, 1, 1, 0))  // SYN on stream 1, then silence
      const t0 = Date.now()
      const reader = new YamuxFrameReader()
      let reset = false
      await withTimeout((async () => {
        while (!reset) for (const f of reader.push(await raw.readEncrypted())) if (f.streamId === 1 && (f.flags & 8) !== 0) reset = true
      })(), 5000, 'RST of the silent stream')
      assert.ok(Date.now() - t0 >= 150, 'not before the timeout')
      raw.close()
    } finally {
      await slow.transport.close()
    }
  })

  it('without early muxer negotiation, Yamux is selected by multistream inside Noise', async () => {
    const n = serverConns.length
    const raw = await RawPeer.connect('127.0.0.1', port)
    await raw.handshake([])  // our payload lists no muxer: the listener must fall back to mss
    raw.sendEncrypted(concat(mssLine('/multistream/1.0.0'), mssLine('/yamux/1.0.0')))
    const body = concat(mssLine('/multistream/1.0.0'), mssLine(ECHO), new TextEncoder().encode('ping!'))
    raw.sendEncrypted(concat(yamuxHeader(0, 0, 1, 1, body.byteLength), body))  // SYN + data on stream 1
    let plain: Uint8Array<ArrayBuffer> = new Uint8Array(0)
    const lines: string[] = []
    const reader = new YamuxFrameReader()
    let stream1: Uint8Array<ArrayBuffer> = new Uint8Array(0)
    await withTimeout((async () => {
      while (!new TextDecoder().decode(stream1).endsWith('ping!')) {
        plain = concat(plain, await raw.readEncrypted())
        while (lines.length < 2 && plain.byteLength > 0 && plain.byteLength >= 1 + (plain[0] as number)) {
          lines.push(new TextDecoder().decode(plain.subarray(1, 1 + (plain[0] as number))).trimEnd())
          plain = plain.slice(1 + (plain[0] as number))
        }
        if (lines.length < 2) continue
        for (const f of reader.push(plain)) if (f.streamId === 1 && f.type === 0) stream1 = concat(stream1, f.body)
        plain = new Uint8Array(0)
      }
    })(), 5000, 'echo over the fallback muxer path')
    assert.deepEqual(lines, ['/multistream/1.0.0', '/yamux/1.0.0'])
    assert.equal(new TextDecoder().decode(stream1), `\x13/multistream/1.0.0\n\x0c${ECHO}\nping!`)
    assert.equal(serverConns.length, n + 1)
    assert.equal((serverConns[n] as unknown as { earlyMuxer: boolean }).earlyMuxer, false)
    raw.close()
  })

  it('a listener out of file descriptors sheds connections and recovers', async (t) => {
    const { spawnSync, spawn } = await import('node:child_process')
    if (spawnSync('prlimit', ['--version']).status !== 0) { t.skip('prlimit not available'); return }
    const { createInterface } = await import('node:readline')
    const { connect } = await import('node:net')
    // ~40 descriptors are taken by node itself; 96 leaves room for a few dozen sockets
    const child = spawn('prlimit', ['--nofile=96', process.execPath, '--import', 'tsx', new URL('./fd-limit-server.ts', import.meta.url).pathname],
      { stdio: ['pipe', 'pipe', 'inherit'] })
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
    try {
      const addr = (await withTimeout(lines.next(), 20000, 'child address')).value as string
      const port = Number(addr.split('/')[4])
      // Far more raw TCP connections than descriptors: the listener must not spin or die.
      const sockets = await Promise.all(Array.from({ length: 150 }, async () => await new Promise<import('node:net').Socket>((resolve) => {
        const s = connect(port, '127.0.0.1')
        s.on('error', () => {})
        s.once('connect', () => { resolve(s) })
        s.once('close', () => { resolve(s) })
      })))
      await new Promise(r => setTimeout(r, 300))
      for (const s of sockets) s.destroy()
      await new Promise(r => setTimeout(r, 300))
      // After the flood the child still accepts and upgrades a real connection.
      const conn = await withTimeout(client.transport.dial(multiaddr(addr)), 10000, 'dial after exhaustion')
      const s = await conn.openStream(ECHO)
      s.send(new TextEncoder().encode('alive'))
      await s.closeWrite()
      assert.equal(new TextDecoder().decode(await withTimeout(readAll(s), 5000, 'echo')), 'alive')
      await conn.close()
    } finally {
      child.stdin.end()
      await new Promise(r => { child.once('exit', r); setTimeout(r, 5000) })
    }
  })

  it('the remote vanishing mid-handshake is reported, not fatal', async () => {
    const n = inboundErrors.length
    const raw = await RawPeer.connect('127.0.0.1', port)
    raw.write(mssLine('/multistream/1.0.0'))
    raw.close()
    const err = await nextInboundError(n)
    assert.equal((err as { code?: string }).code, 'ERR_CONNECTION_CLOSED')
    await goodStillWorks()
  })
})
