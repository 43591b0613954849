/**
 * Interop of /tls/1.0.0 over TCP with js-libp2p 3 configured with @libp2p/tls only
 * (connectionEncrypters: [tls()]), over real loopback TCP, both directions: ping, perf upload and
 * download, 16 concurrent streams, a `/p2p/` id mismatch that must fail, and the security
 * negotiation (our default [noise, tls] falls back to TLS against a TLS-only peer; a Noise-only
 * dialer is refused). Early muxer negotiation through ALPN: @libp2p/tls offers /yamux/1.0.0 before
 * "libp2p" and so do we, so both sides skip the multistream round for the muxer.
 */
import '../helpers/polyfill.ts'
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp as jsTcp } from '@libp2p/tcp'
import { tls } from '@libp2p/tls'
import { yamux } from '@chainsafe/libp2p-yamux'
import { ping } from '@libp2p/ping'
import type { Connection as JsConnection, Stream as JsStream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Connection, Listener, TransportContext } from '../../src/core/transport.ts'
import type { Stream } from '../../src/core/stream.ts'
import { PeerIdMismatchError, UnsupportedProtocolError } from '../../src/core/errors.ts'
import { generateKeyPair, peerIdFromPrivateKey } from '../../src/identity/index.ts'
import { StaticProtocolTable } from '../../src/utils/protocol-table.ts'
import { withPeerId } from '../../src/utils/multiaddr.ts'
import { tcp, type NativeConnection, type TcpOptions, type TcpTransport } from '../../src/transports/tcp/index.ts'
import { PING_PROTOCOL } from '../../src/protocols/ping/constants.ts'
import { PingSession, handlePingStream } from '../../src/protocols/ping/protocol.ts'
import { PERF_PROTOCOL } from '../../src/protocols/perf/constants.ts'
import { handlePerfStream, runPerf, type PerfServerResult } from '../../src/protocols/perf/protocol.ts'
import { runJsPerf, servePerf } from '../helpers/js-libp2p.ts'
import { withTimeout as boundedBy } from '../helpers/timeout.ts'

const addonBuilt = existsSync(new URL('../../build/Release/libp2p_native.node', import.meta.url)) || process.env.LIBP2P_NATIVE_ADDON !== undefined
const skip = addonBuilt ? false : 'native addon not built (npm run build:native)'

const TLS = '/tls/1.0.0'
const YAMUX = '/yamux/1.0.0'
const ECHO = '/interop/echo/1.0.0'
/** Perf transfer each way: "a few MiB" (issue 4, deliver 3). */
const PERF_BYTES = 4 * 1024 * 1024
/** Concurrent streams on one connection (issue 4, deliver 3). */
const CONCURRENT_STREAMS = 16
/** Bytes echoed per concurrent stream: beyond Yamux's 256 KiB initial window, many TLS records. */
const BYTES_PER_STREAM = 300 * 1024
/** Write size for the concurrent streams: small enough that the streams' frames interleave. */
const ECHO_CHUNK = 16 * 1024
/** js-libp2p stream limits for the test protocols: above CONCURRENT_STREAMS. */
const MAX_STREAMS = 64
const PINGS = 5
const STEP_MS = 10_000
const TEST_MS = 30_000

async function withTimeout<T> (p: Promise<T>, what: string, ms = STEP_MS): Promise<T> {
  return await boundedBy(p, ms, what)
}

async function until (cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + STEP_MS
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timeout: ${what}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

function sha256 (chunks: Iterable<Uint8Array>): string {
  const h = createHash('sha256')
  for (const c of chunks) h.update(c)
  return h.digest('hex')
}

// ---- js-libp2p 3 with @libp2p/tls only ------------------------------------------------------------

interface JsNode { node: Libp2p<{ ping: ReturnType<ReturnType<typeof ping>> }>, perfUploads: number[], errors: Error[] }

async function createJsTlsNode (): Promise<JsNode> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [jsTcp()],
    connectionEncrypters: [tls()],
    streamMuxers: [yamux()],
    services: { ping: ping() }
  })
  const self: JsNode = { node, perfUploads: [], errors: [] }
  const limits = { maxInboundStreams: MAX_STREAMS, maxOutboundStreams: MAX_STREAMS }
  await node.handle(PERF_PROTOCOL, (stream) => {
    const i = self.perfUploads.push(0) - 1
    // servePerf (test/helpers/js-libp2p.ts) reading through an iterator that counts the upload
    const counted = new Proxy(stream, {
      get (target, prop) {
        if (prop === Symbol.asyncIterator) {
          return async function * () {
            for await (const buf of target) {
              self.perfUploads[i] = (self.perfUploads[i] ?? 0) + buf.byteLength
              yield buf
            }
          }
        }
        const v = Reflect.get(target, prop, target) as unknown
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
      }
    })
    servePerf(counted).catch((err: Error) => { self.errors.push(err); stream.abort(err) })
  }, limits)
  await node.handle(ECHO, (stream) => {
    void (async () => {
      for await (const buf of stream) {
        if (!stream.send(buf instanceof Uint8Array ? buf : buf.subarray())) await stream.onDrain()
      }
      await stream.close()
    })().catch((err: Error) => { self.errors.push(err); stream.abort(err) })
  }, limits)
  return self
}

// ---- our side ----------------------------------------------------------------------------------

interface OurNode { context: TransportContext, transport: TcpTransport, listener?: Listener, inbound: NativeConnection[], perf: Array<Promise<PerfServerResult>>, pings: number }

async function echoStream (stream: Stream): Promise<void> {
  for await (const chunk of stream) {
    if (!stream.send(chunk)) await stream.onDrain()
  }
  await stream.closeWrite()
}

function serve (ours: OurNode, conn: Connection): void {
  conn.on('stream', (stream: Stream) => {
    if (stream.protocol === PING_PROTOCOL) { ours.pings++; void handlePingStream(stream).catch(() => {}) }
    else if (stream.protocol === PERF_PROTOCOL) ours.perf.push(handlePerfStream(stream))
    else if (stream.protocol === ECHO) void echoStream(stream).catch(() => {})
  })
}

async function createOurNode (options: TcpOptions, listen: boolean): Promise<OurNode> {
  const privateKey = generateKeyPair('Ed25519')
  const context: TransportContext = { privateKey, peerId: peerIdFromPrivateKey(privateKey), protocols: new StaticProtocolTable([PING_PROTOCOL, PERF_PROTOCOL, ECHO]) }
  const ours: OurNode = { context, transport: tcp(options)(context) as TcpTransport, inbound: [], perf: [], pings: 0 }
  if (listen) {
    ours.listener = await ours.transport.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
    ours.listener.on('connection', (c: Connection) => { ours.inbound.push(c as NativeConnection); serve(ours, c) })
  }
  return ours
}

function ourAddr (ours: OurNode): Multiaddr {
  return withPeerId(ours.listener?.addrs()[0] as Multiaddr, ours.context.peerId)
}

async function echoThroughOurs (stream: Stream, data: Uint8Array): Promise<Uint8Array[]> {
  const received: Uint8Array[] = []
  const reading = (async () => { for await (const c of stream) received.push(Uint8Array.from(c)) })()
  for (let o = 0; o < data.byteLength; o += ECHO_CHUNK) {
    if (!stream.send(data.subarray(o, o + ECHO_CHUNK))) await stream.onDrain()
  }
  await stream.closeWrite()
  await reading
  return received
}

async function echoThroughJs (stream: JsStream, data: Uint8Array): Promise<Uint8Array[]> {
  const received: Uint8Array[] = []
  const reading = (async () => { for await (const c of stream) received.push(Uint8Array.from(c instanceof Uint8Array ? c : c.subarray())) })()
  for (let o = 0; o < data.byteLength; o += ECHO_CHUNK) {
    if (!stream.send(data.subarray(o, o + ECHO_CHUNK))) await stream.onDrain()
  }
  await stream.close()
  await reading
  return received
}

function checkEchoes (payloads: Uint8Array[], echoed: Uint8Array[][]): void {
  for (let i = 0; i < payloads.length; i++) {
    assert.equal(echoed[i]?.reduce((n, c) => n + c.byteLength, 0), BYTES_PER_STREAM, `stream ${i} length`)
    assert.equal(sha256(echoed[i] ?? []), sha256([payloads[i] as Uint8Array]), `stream ${i} content`)
  }
}

// ------------------------------------------------------------------------------------------------

describe('interop /tls/1.0.0: our native TCP (default security [noise, tls]) dials js-libp2p 3 with @libp2p/tls only', { skip, timeout: 90_000 }, () => {
  let ours: OurNode
  let js: JsNode
  let conn: NativeConnection
  let jsAddr: Multiaddr

  before(async () => {
    js = await createJsTlsNode()
    ours = await createOurNode({}, false)
    jsAddr = js.node.getMultiaddrs()[0] as Multiaddr
    conn = await withTimeout(ours.transport.dial(jsAddr), 'dial js-libp2p') as NativeConnection
    serve(ours, conn)
  })

  after(async () => {
    await ours?.transport.close()
    await js?.node.stop()
  })

  it('js-libp2p refuses /noise, we fall back to /tls/1.0.0; both authenticated; yamux agreed in ALPN', { timeout: TEST_MS }, async () => {
    assert.equal(conn.encryption, TLS)
    assert.equal(conn.muxer, YAMUX)
    assert.equal(conn.earlyMuxer, true, 'ALPN settled on /yamux/1.0.0')
    assert.equal(conn.remotePeer.toString(), js.node.peerId.toString())
    await until(() => js.node.getConnections(peerIdFromString(ours.context.peerId.toString())).length > 0, 'js-libp2p has the connection')
    const jsConn = js.node.getConnections(peerIdFromString(ours.context.peerId.toString()))[0] as JsConnection
    assert.equal(jsConn.encryption, TLS)
    assert.equal(jsConn.multiplexer, YAMUX)
  })

  it('ping: our PingSession against js-libp2p\'s ping service', { timeout: TEST_MS }, async () => {
    const session = await PingSession.open(conn)
    for (let i = 0; i < PINGS; i++) assert.ok(await withTimeout(session.ping(), `ping ${i}`) >= 0)
    await session.close()
  })

  it(`perf: our runPerf uploads and downloads ${PERF_BYTES / 1048576} MiB against js-libp2p`, { timeout: TEST_MS }, async () => {
    const before = js.perfUploads.length
    const report = await withTimeout(runPerf(conn, { uploadBytes: PERF_BYTES, downloadBytes: PERF_BYTES }), 'perf')
    assert.equal(report.uploadBytes, PERF_BYTES)
    assert.equal(report.downloadBytes, PERF_BYTES)
    await until(() => js.perfUploads[before] === 8 + PERF_BYTES, 'js-libp2p read the upload')
  })

  it(`${CONCURRENT_STREAMS} concurrent streams carry distinct data through js-libp2p's echo`, { timeout: TEST_MS }, async () => {
    const payloads = Array.from({ length: CONCURRENT_STREAMS }, () => randomBytes(BYTES_PER_STREAM))
    const streams = await Promise.all(payloads.map(async () => await conn.openStream(ECHO)))
    const echoed = await withTimeout(Promise.all(streams.map(async (s, i) => await echoThroughOurs(s, payloads[i] as Uint8Array))), 'concurrent echo')
    checkEchoes(payloads, echoed)
    assert.deepEqual(js.errors, [])
  })

  it('an optimistic TLS-only dial (proposal and ClientHello in one write) works too', { timeout: TEST_MS }, async () => {
    const other = await createOurNode({ security: ['tls'] }, false)
    try {
      const c = await withTimeout(other.transport.dial(jsAddr), 'tls-only dial')
      assert.equal(c.encryption, TLS)
      const session = await PingSession.open(c)
      assert.ok(await withTimeout(session.ping(), 'ping') >= 0)
      await session.close()
    } finally {
      await other.transport.close()
    }
  })

  it('a noise-only dial is refused (no security protocol in common)', { timeout: TEST_MS }, async () => {
    const other = await createOurNode({ security: ['noise'] }, false)
    try {
      await assert.rejects(withTimeout(other.transport.dial(jsAddr), 'noise-only dial'), (err: unknown) => err instanceof UnsupportedProtocolError)
    } finally {
      await other.transport.close()
    }
  })

  it('a dial whose /p2p/ id is not the peer fails with PeerIdMismatchError; the connection carries on', { timeout: TEST_MS }, async () => {
    const tcpAddr = jsAddr.decapsulateCode(421)
    const wrong = peerIdFromPrivateKey(generateKeyPair('Ed25519')).toString()
    await assert.rejects(withTimeout(ours.transport.dial(multiaddr(`${tcpAddr.toString()}/p2p/${wrong}`)), 'mismatched dial'), (err: unknown) => {
      assert.ok(err instanceof PeerIdMismatchError, `got ${String(err)}`)
      assert.equal(err.expected, wrong)
      assert.equal(err.actual, js.node.peerId.toString())
      return true
    })
    const session = await PingSession.open(conn)
    assert.ok(await withTimeout(session.ping(), 'ping after mismatch') >= 0)
    await session.close()
  })
})

describe('interop /tls/1.0.0: js-libp2p 3 with @libp2p/tls only dials our native TCP listener (default security)', { skip, timeout: 90_000 }, () => {
  let ours: OurNode
  let js: JsNode
  let jsConn: JsConnection

  before(async () => {
    ours = await createOurNode({}, true)
    js = await createJsTlsNode()
    jsConn = await withTimeout(js.node.dial(ourAddr(ours)), 'js-libp2p dials us')
    await until(() => ours.inbound.length > 0, 'our listener accepts')
  })

  after(async () => {
    await js?.node.stop()
    await ours?.listener?.close()
    await ours?.transport.close()
  })

  it('our listener accepts /tls/1.0.0; both authenticated; yamux agreed in ALPN', { timeout: TEST_MS }, () => {
    assert.equal(jsConn.encryption, TLS)
    assert.equal(jsConn.multiplexer, YAMUX)
    assert.equal(jsConn.remotePeer.toString(), ours.context.peerId.toString())
    const inbound = ours.inbound[0] as NativeConnection
    assert.equal(inbound.encryption, TLS)
    assert.equal(inbound.earlyMuxer, true)
    assert.equal(inbound.remotePeer.toString(), js.node.peerId.toString())
  })

  it('ping: js-libp2p\'s ping service against our handler', { timeout: TEST_MS }, async () => {
    const before = ours.pings
    for (let i = 0; i < PINGS; i++) {
      const rtt = await js.node.services.ping.ping(ourAddr(ours), { signal: AbortSignal.timeout(STEP_MS) })
      assert.ok(rtt >= 0)
    }
    assert.equal(ours.pings, before + PINGS)
    assert.equal(ours.inbound.length, 1, 'js-libp2p reused its connection')
  })

  it(`perf: js-libp2p uploads and downloads ${PERF_BYTES / 1048576} MiB against our handlePerfStream`, { timeout: TEST_MS }, async () => {
    const before = ours.perf.length
    const report = await withTimeout(runJsPerf(js.node as never, ourAddr(ours), PERF_BYTES, PERF_BYTES), 'js perf')
    assert.equal(report.uploadBytes, PERF_BYTES)
    assert.equal(report.downloadBytes, PERF_BYTES)
    const served = await withTimeout(ours.perf[before] as Promise<PerfServerResult>, 'our perf server')
    assert.deepEqual(served, { uploadBytes: PERF_BYTES, downloadBytes: PERF_BYTES })
  })

  it(`${CONCURRENT_STREAMS} concurrent js-libp2p streams carry distinct data through our echo`, { timeout: TEST_MS }, async () => {
    const payloads = Array.from({ length: CONCURRENT_STREAMS }, () => randomBytes(BYTES_PER_STREAM))
    const streams = await Promise.all(payloads.map(async () => await jsConn.newStream(ECHO, { maxOutboundStreams: MAX_STREAMS })))
    const echoed = await withTimeout(Promise.all(streams.map(async (s, i) => await echoThroughJs(s, payloads[i] as Uint8Array))), 'concurrent echo')
    checkEchoes(payloads, echoed)
  })

  it('a js-libp2p dial whose /p2p/ id is not ours fails; our listener keeps serving', { timeout: TEST_MS }, async () => {
    const wrong = peerIdFromPrivateKey(generateKeyPair('Ed25519')).toString()
    const tcpAddr = ours.listener?.addrs()[0] as Multiaddr
    const other = await createJsTlsNode()
    try {
      await assert.rejects(withTimeout(other.node.dial(multiaddr(`${tcpAddr.toString()}/p2p/${wrong}`), { signal: AbortSignal.timeout(STEP_MS) }), 'mismatched js dial'),
        (err: Error) => /peer|Encryption|mismatch/i.test(`${err.name} ${err.message}`))
    } finally {
      await other.node.stop()
    }
    const rtt = await js.node.services.ping.ping(ourAddr(ours), { signal: AbortSignal.timeout(STEP_MS) })
    assert.ok(rtt >= 0)
  })
})
