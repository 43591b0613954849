/**
 * libp2p-native bench peer: bare TCP transport (native Noise + Yamux), or with `--transport quic`
 * the native QUIC transport (/quic-v1: ngtcp2 + GnuTLS), perf and echo written on
 * the same Stream API users get. Command line and output: bench/perf/peer-protocol.md.
 */
import { multiaddr } from '@multiformats/multiaddr'
import type { Connection, TransportContext } from '../../src/core/transport.ts'
import type { Stream } from '../../src/core/stream.ts'
import { generateKeyPair, peerIdFromPrivateKey } from '../../src/identity/index.ts'
import { StaticProtocolTable } from '../../src/utils/protocol-table.ts'
import { withPeerId, splitPeerId } from '../../src/utils/multiaddr.ts'
import { PERF_PROTOCOL } from '../../src/protocols/perf/constants.ts'
import { handlePerfStream, runPerf } from '../../src/protocols/perf/protocol.ts'
import { tcp } from '../../src/transports/tcp/index.ts'
import { quic } from '../../src/transports/quic/index.ts'
import { argValue, markBaseline, percentile, printLine, usage } from './usage.ts'
import { traceFlush, tracePoint } from './setup-trace.ts'

const ECHO_PROTOCOL = '/bench/echo/1.0.0'
const args = process.argv.slice(2)
const role = argValue(args, 'role')
const transportName = argValue(args, 'transport', 'tcp')
if (transportName !== 'tcp' && transportName !== 'quic') throw new Error(`--transport must be tcp or quic, got ${transportName}`)
const privateKey = generateKeyPair('Ed25519')
const context: TransportContext = {
  privateKey,
  peerId: peerIdFromPrivateKey(privateKey),
  protocols: new StaticProtocolTable(role === 'server' ? [PERF_PROTOCOL, ECHO_PROTOCOL] : []),
}
const transport = transportName === 'quic' ? quic()(context) : tcp()(context)

async function echo (stream: Stream): Promise<void> {
  for await (const chunk of stream) {
    tracePoint('js_echo_data')
    if (!stream.send(chunk)) await stream.onDrain()
  }
  await stream.closeWrite()
}

function serve (conn: Connection): void {
  tracePoint('js_conn')
  conn.on('stream', (stream) => {
    tracePoint('js_stream')
    const work = stream.protocol === PERF_PROTOCOL ? handlePerfStream(stream) : echo(stream)
    work.catch(err => stream.reset(err instanceof Error ? err : undefined))
  })
}

if (role === 'server') {
  const listener = await transport.listen(multiaddr(argValue(args, 'listen', transportName === 'quic' ? '/ip4/127.0.0.1/udp/0/quic-v1' : '/ip4/127.0.0.1/tcp/0')))
  listener.on('connection', serve)
  markBaseline()
  printLine({ type: 'listening', addrs: listener.addrs().map(a => withPeerId(a, context.peerId).toString()) })
  process.on('SIGTERM', () => {
    traceFlush()
    printLine(usage())
    void transport.close().finally(() => process.exit(0))
  })
} else {
  const addr = multiaddr(argValue(args, 'addr'))
  const mode = argValue(args, 'mode')
  markBaseline()
  const expectedPeer = splitPeerId(addr).peerId
  const dial = async (): Promise<Connection> => await transport.dial(addr, expectedPeer !== undefined ? { expectedPeer } : {})
  if (mode === 'perf') {
    const upload = Number(argValue(args, 'upload', '0'))
    const download = Number(argValue(args, 'download', '0'))
    const streams = Number(argValue(args, 'streams', '1'))
    const conn = await dial()
    const start = performance.now()
    await Promise.all(Array.from({ length: streams }, async () => await runPerf(conn, { uploadBytes: upload, downloadBytes: download })))
    const seconds = (performance.now() - start) / 1000
    printLine({ type: 'result', mode, streams, seconds, uploadBytes: upload * streams, downloadBytes: download * streams })
    await conn.close()
  } else if (mode === 'connect') {
    const count = Number(argValue(args, 'count', '300'))
    const times: number[] = []
    const one = new Uint8Array([1])
    for (let i = 0; i < count; i++) {
      const t0 = performance.now()
      tracePoint('js_dial')
      const conn = await dial()
      tracePoint('js_dialed')
      const stream = await conn.openStream(ECHO_PROTOCOL)
      const got = new Promise<void>((resolve) => { stream.once('data', () => resolve()) })
      stream.send(one)
      await got
      tracePoint('js_got')
      times.push(performance.now() - t0)
      conn.abort(new Error('bench: done'))
    }
    times.sort((a, b) => a - b)
    printLine({ type: 'result', mode, count, p50Ms: percentile(times, 0.5), p90Ms: percentile(times, 0.9), p99Ms: percentile(times, 0.99) })
  } else if (mode === 'rtt') {
    const count = Number(argValue(args, 'count', '2000'))
    const size = Number(argValue(args, 'size', '8'))
    const conn = await dial()
    const stream = await conn.openStream(ECHO_PROTOCOL)
    const payload = new Uint8Array(size)
    const times: number[] = []
    let pending: (() => void) | undefined
    let have = 0
    stream.on('data', (chunk) => {
      have += chunk.byteLength
      if (have >= size && pending !== undefined) { have -= size; const p = pending; pending = undefined; p() }
    })
    for (let i = 0; i < count; i++) {
      const t0 = performance.now()
      const done = new Promise<void>((resolve) => { pending = resolve })
      stream.send(payload)
      await done
      times.push(performance.now() - t0)
    }
    times.sort((a, b) => a - b)
    printLine({ type: 'result', mode, count, size, p50Us: percentile(times, 0.5) * 1000, p90Us: percentile(times, 0.9) * 1000, p99Us: percentile(times, 0.99) * 1000 })
    await conn.close()
  } else {
    throw new Error(`unknown mode ${mode}`)
  }
  traceFlush()
  printLine(usage())
  await transport.close()
  process.exit(0)
}
