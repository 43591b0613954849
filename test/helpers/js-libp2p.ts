/**
 * js-libp2p 3 peers for interop tests and side-by-side benchmarks: TCP + Noise + Yamux (or
 * @chainsafe/libp2p-quic with `transport: 'quic'`), ping and
 * identify, plus the perf protocol (/perf/1.0.0, libp2p/specs perf) written here on js-libp2p's
 * own stream API because no @libp2p/perf release exists for js-libp2p 3 in this registry.
 */
import './polyfill.ts'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { ping } from '@libp2p/ping'
import { identify } from '@libp2p/identify'
import type { PrivateKey, Stream as JsStream } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'

export const PERF_PROTOCOL = '/perf/1.0.0'
/** Size of each perf write: large writes, as a tuned perf implementation would make. */
const PERF_WRITE_SIZE = 64 * 1024 - 1024

export interface JsPeerOptions {
  listen?: string[]
  privateKey?: PrivateKey
  /** Serve /perf/1.0.0 (default true). */
  perf?: boolean
  /** 'tcp' (default: TCP + Noise + Yamux) or 'quic' (@chainsafe/libp2p-quic: QUIC v1 + libp2p TLS). */
  transport?: 'tcp' | 'quic'
}

export type JsPeer = Libp2p<{ ping: ReturnType<ReturnType<typeof ping>>, identify: ReturnType<ReturnType<typeof identify>> }>

export async function createJsPeer (options: JsPeerOptions = {}): Promise<JsPeer> {
  const node = await createLibp2p({
    ...(options.privateKey !== undefined ? { privateKey: options.privateKey } : {}),
    addresses: { listen: options.listen ?? ['/ip4/127.0.0.1/tcp/0'] },
    // Loaded only when asked for: its napi module stays out of TCP-only tests.
    transports: [options.transport === 'quic' ? (await import('@chainsafe/libp2p-quic')).quic() : tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { ping: ping(), identify: identify() },
    connectionManager: {
      maxConnections: 20_000,
      // js-libp2p rate-limits inbound connections per host (5/s by default): lift it for loopback benches.
      inboundConnectionThreshold: 1_000_000,
      maxIncomingPendingConnections: 10_000,
    },
  })
  if (options.perf !== false) {
    await node.handle(PERF_PROTOCOL, (stream) => { void servePerf(stream).catch(err => stream.abort(err)) }, {
      maxInboundStreams: 1024, maxOutboundStreams: 1024,
    })
  }
  return node as unknown as JsPeer
}

async function sendAll (stream: JsStream, total: number, chunk: Uint8Array): Promise<void> {
  let left = total
  while (left > 0) {
    const n = Math.min(left, chunk.byteLength)
    if (!stream.send(n === chunk.byteLength ? chunk : chunk.subarray(0, n))) await stream.onDrain()
    left -= n
  }
}

/** Perf server: read the u64 download size, drain the upload, send the download, close. */
export async function servePerf (stream: JsStream): Promise<void> {
  const header = new Uint8Array(8)
  let got = 0
  for await (const buf of stream) {
    const bytes = buf instanceof Uint8Array ? buf : buf.subarray()
    if (got < 8) {
      const n = Math.min(8 - got, bytes.byteLength)
      header.set(bytes.subarray(0, n), got)
      got += n
    }
  }
  const download = Number(new DataView(header.buffer).getBigUint64(0, false))
  await sendAll(stream, download, new Uint8Array(PERF_WRITE_SIZE))
  await stream.close()
}

export interface PerfProgress { type: 'intermediary' | 'final', timeSeconds: number, uploadBytes: number, downloadBytes: number }

/** Perf client over a js-libp2p node. */
export async function runJsPerf (node: JsPeer, addr: Multiaddr | string, uploadBytes: number, downloadBytes: number,
  onProgress?: (p: PerfProgress) => void): Promise<PerfProgress> {
  const start = performance.now()
  const stream = await node.dialProtocol(typeof addr === 'string' ? multiaddr(addr) : addr, PERF_PROTOCOL)
  const header = new Uint8Array(8)
  new DataView(header.buffer).setBigUint64(0, BigInt(downloadBytes), false)
  stream.send(header)
  await sendAll(stream, uploadBytes, new Uint8Array(PERF_WRITE_SIZE))
  await stream.close()
  let received = 0
  let lastReport = performance.now()
  for await (const buf of stream) {
    received += buf.byteLength
    const now = performance.now()
    if (onProgress !== undefined && now - lastReport >= 1000) {
      onProgress({ type: 'intermediary', timeSeconds: (now - lastReport) / 1000, uploadBytes: 0, downloadBytes: received })
      lastReport = now
    }
  }
  if (received !== downloadBytes) throw new Error(`perf: expected ${downloadBytes} bytes, got ${received}`)
  return { type: 'final', timeSeconds: (performance.now() - start) / 1000, uploadBytes, downloadBytes }
}
