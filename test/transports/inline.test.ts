/**
 * Inline I/O mode (ioThreads: 0): the native I/O loop runs on the JS thread, driven by Node's libuv
 * loop (native/binding/host.cpp run_inline). The whole TCP and QUIC suites also run in this mode
 * (scripts/test.sh: LIBP2P_NATIVE_THREADS=0); this file checks what is particular to it, whatever the
 * environment says: no I/O thread is started, inline and threaded peers interoperate, a JS callback
 * may submit (and even close the transport) while a batch is being delivered, timers fire with no
 * socket activity, and a process whose transports are closed exits by itself (uv handles closed).
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Connection, TransportContext } from '../../src/core/transport.ts'
import type { Stream } from '../../src/core/stream.ts'
import { InvalidArgumentError } from '../../src/core/errors.ts'
import { generateKeyPair, peerIdFromPrivateKey } from '../../src/identity/index.ts'
import { StaticProtocolTable } from '../../src/utils/protocol-table.ts'
import { quic, type QuicTransport } from '../../src/transports/quic/index.ts'
import { makeNode, echo, readAll, withTimeout, type TestNode } from './tcp/helpers.ts'

const ECHO = '/echo/1.0.0'
const enc = new TextEncoder()
const dec = new TextDecoder()
const here = dirname(fileURLToPath(import.meta.url))

/** Threads of this process named by IoThread::start (pthread_setname_np "l2n-io-<n>"). */
function ioThreads (): number {
  let n = 0
  for (const t of readdirSync('/proc/self/task')) {
    try {
      if (readFileSync(`/proc/self/task/${t}/comm`, 'utf8').startsWith('l2n-io-')) n++
    } catch { /* the thread exited meanwhile */ }
  }
  return n
}

async function pair (serverThreads: number, clientThreads: number): Promise<{ server: TestNode, client: TestNode, conn: Connection, serverConns: Connection[] }> {
  const server = makeNode([ECHO], { ioThreads: serverThreads })
  const client = makeNode([ECHO], { ioThreads: clientThreads })
  const serverConns: Connection[] = []
  const listener = await server.transport.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
  listener.on('connection', (c: Connection) => {
    serverConns.push(c)
    c.on('stream', (s: Stream) => { echo(s) })
  })
  const conn = await client.transport.dial(listener.addrs()[0] as Multiaddr)
  return { server, client, conn, serverConns }
}

async function echoThrough (conn: Connection, bytes: number, chunk: number): Promise<{ same: boolean, pausedOnce: boolean }> {
  const s = await conn.openStream(ECHO)
  const sent = createHash('sha256')
  const got = createHash('sha256')
  const reader = (async () => { for await (const c of s) got.update(c) })()
  let pausedOnce = false
  for (let off = 0; off < bytes; off += chunk) {
    const buf = randomBytes(Math.min(chunk, bytes - off))
    sent.update(buf)
    if (!s.send(buf)) {
      pausedOnce = true
      await s.onDrain()
    }
  }
  await s.closeWrite()
  await withTimeout(reader, 30000, 'echo')
  return { same: got.digest('hex') === sent.digest('hex'), pausedOnce }
}

describe('inline I/O mode (ioThreads 0)', () => {
  it('accepts 0 and still rejects negative thread counts', () => {
    assert.throws(() => makeNode([ECHO], { ioThreads: -1 }), InvalidArgumentError)
    assert.doesNotThrow(() => makeNode([ECHO], { ioThreads: 0 }))
  })

  it('starts no I/O thread, where ioThreads 1 starts one', async () => {
    const before = ioThreads()
    const inline = await pair(0, 0)
    assert.equal(ioThreads(), before, 'inline hosts start no l2n-io thread')
    const threaded = makeNode([ECHO], { ioThreads: 1 })
    await threaded.transport.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
    assert.equal(ioThreads(), before + 1, 'a threaded host starts one')
    await threaded.transport.close()
    await inline.client.transport.close()
    await inline.server.transport.close()
  })

  for (const [serverThreads, clientThreads] of [[0, 0], [0, 1], [1, 0]] as const) {
    it(`TCP: echo with integrity and backpressure, server ${serverThreads === 0 ? 'inline' : 'threaded'}, client ${clientThreads === 0 ? 'inline' : 'threaded'}`, async () => {
      const { server, client, conn } = await pair(serverThreads, clientThreads)
      try {
        const r = await echoThrough(conn, 16 * 1024 * 1024, 256 * 1024)
        assert.ok(r.same, 'echoed bytes differ')
        assert.ok(r.pausedOnce, 'send() never returned false: backpressure not exercised')
        // many small round trips (the latency path: one submit, one delivery per message)
        const s = await conn.openStream(ECHO)
        const it = s[Symbol.asyncIterator]()
        for (let i = 0; i < 200; i++) {
          s.send(Uint8Array.of(i & 0xff, 1, 2, 3, 4, 5, 6, 7))
          const { value } = await withTimeout(it.next(), 5000, `round trip ${i}`)
          assert.equal((value as Uint8Array)[0], i & 0xff)
        }
        await s.closeWrite()
      } finally {
        await client.transport.close()
        await server.transport.close()
      }
    })
  }

  it('TCP: a callback that submits while its batch is delivered (send, close, reset, open)', async () => {
    const { server, client, conn } = await pair(0, 0)
    try {
      // Each data event submits at once (the flush at the end of the dispatch), re-entering native
      // while the binding is still inside its delivery loop.
      const s = await conn.openStream(ECHO)
      const replies: string[] = []
      const done = new Promise<void>((resolve, reject) => {
        s.on('data', (c: Uint8Array) => {
          replies.push(dec.decode(c))
          const text = replies.join('')
          if (text.length < 30) s.send(enc.encode('x'))  // ping-pong driven from the callback
          else resolve()
        })
        s.once('close', (err?: Error) => { if (err !== undefined) reject(err) })
      })
      s.send(enc.encode('x'))
      await withTimeout(done, 5000, 'ping-pong from data callbacks')
      assert.equal(replies.join(''), 'x'.repeat(30))
      // open a stream and reset another from inside a data callback
      const t = await conn.openStream(ECHO)
      const opened = new Promise<Stream>((resolve, reject) => {
        t.once('data', () => {
          t.reset()
          conn.openStream(ECHO).then(resolve, reject)
        })
      })
      t.send(enc.encode('go'))
      const u = await withTimeout(opened, 5000, 'open from a callback')
      u.send(enc.encode('after'))
      await u.closeWrite()
      assert.equal(dec.decode(await withTimeout(readAll(u), 5000, 'echo after reset')), 'after')
      await s.closeWrite()
    } finally {
      await client.transport.close()
      await server.transport.close()
    }
  })

  it('TCP: closing the transport from inside a delivery', async () => {
    const { server, client, conn } = await pair(0, 0)
    const s = await conn.openStream(ECHO)
    const closed = new Promise<void>((resolve) => {
      s.once('data', () => { void client.transport.close().then(resolve) })
    })
    s.send(enc.encode('bye'))
    await withTimeout(closed, 5000, 'close from a data callback')
    await assert.rejects(conn.openStream(ECHO))
    // the inline server notices the peer is gone and keeps serving others
    const other = makeNode([ECHO], { ioThreads: 0 })
    const addr = (server.transport as unknown as { listeners: Set<{ addrs: () => Multiaddr[] }> }).listeners.values().next().value?.addrs()[0] as Multiaddr
    const c2 = await other.transport.dial(addr)
    assert.ok((await echoThrough(c2, 64 * 1024, 16 * 1024)).same)
    await other.transport.close()
    await server.transport.close()
  })

  it('TCP: a remote reset and an aborted connection reach the other side', async () => {
    const { server, client, conn, serverConns } = await pair(0, 0)
    try {
      const s = await conn.openStream(ECHO)
      s.send(enc.encode('r'))
      await withTimeout(new Promise(resolve => { s.once('data', resolve) }), 5000, 'first echo')
      const remoteClosed = new Promise<void>(resolve => { serverConns[0]?.once('close', () => { resolve() }) })
      const streamErr = new Promise<Error | undefined>(resolve => { s.once('close', resolve) })
      conn.abort(new Error('test abort'))
      await withTimeout(remoteClosed, 5000, 'server sees the abort')
      const err = await streamErr
      assert.ok(err instanceof Error, 'the local stream closes with an error')
    } finally {
      await client.transport.close()
      await server.transport.close()
    }
  })

  it('QUIC: dial, echo with integrity, close; handshake timeout fires from the timer alone', async () => {
    const mk = (): QuicTransport => {
      const privateKey = generateKeyPair('Ed25519')
      const context: TransportContext = { privateKey, peerId: peerIdFromPrivateKey(privateKey), protocols: new StaticProtocolTable([ECHO]) }
      return quic({ ioThreads: 0, handshakeTimeoutMs: 300 })(context) as QuicTransport
    }
    const server = mk()
    const client = mk()
    try {
      const l = await server.listen(multiaddr('/ip4/127.0.0.1/udp/0/quic-v1'))
      l.on('connection', (c: Connection) => { c.on('stream', (s: Stream) => { echo(s) }) })
      const conn = await client.dial(l.addrs()[0] as Multiaddr)
      const r = await echoThrough(conn, 8 * 1024 * 1024, 256 * 1024)
      assert.ok(r.same)
      // A UDP socket that never answers: only the inline uv_timer can end this dial.
      const mute = createSocket('udp4')
      await new Promise<void>(resolve => { mute.bind(0, '127.0.0.1', resolve) })
      const started = Date.now()
      await assert.rejects(client.dial(multiaddr(`/ip4/127.0.0.1/udp/${mute.address().port}/quic-v1`)), /timed out|timeout/i)
      const took = Date.now() - started
      mute.close()
      assert.ok(took >= 250 && took < 3000, `handshake timeout after ${took} ms (configured 300)`)
      await conn.close()
    } finally {
      await client.close()
      await server.close()
    }
  })

  it('hosts opened and closed in a loop leave no descriptor behind (epoll fd, eventfd, sockets)', async () => {
    const fds = (): number => readdirSync('/proc/self/fd').length
    // one round first: lazily created process-wide descriptors are not leaks
    const warm = await pair(0, 0)
    await warm.client.transport.close()
    await warm.server.transport.close()
    const before = fds()
    for (let i = 0; i < 20; i++) {
      const { server, client, conn } = await pair(0, 0)
      const s = await conn.openStream(ECHO)
      s.send(Uint8Array.of(i))
      await s.closeWrite()
      assert.deepEqual([...await withTimeout(readAll(s), 5000, `echo ${i}`)], [i])
      await client.transport.close()
      await server.transport.close()
    }
    // each inline host holds an epoll fd and an eventfd, each pair two sockets and a listener
    assert.ok(fds() <= before + 2, `descriptors ${before} -> ${fds()}`)
  })

  it('a worker terminated in the middle of inline traffic does not take the process down', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'inline-worker-peer.ts')], { encoding: 'utf8', timeout: 60000 })
    assert.equal(r.signal, null, `killed by ${String(r.signal)} ${r.stderr}`)
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /terminated a busy inline worker/)
  })

  it('a process whose inline transports are closed exits by itself', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'inline-exit-peer.ts')], { encoding: 'utf8', timeout: 30000 })
    assert.equal(r.signal, null, `killed by ${String(r.signal)} (did not exit: a uv handle left open?) ${r.stderr}`)
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /echoed 4096 bytes over tcp and quic/)
  })
})
