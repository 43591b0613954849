/**
 * A js-libp2p 3 node for the TCP interop tests (test/interop/tcp.test.ts): TCP + Noise + Yamux and
 * the ping service from npm, the perf server of test/helpers/js-libp2p.ts, and the test protocols
 * (echo, a source that resets mid-transfer, a sink that reports how its stream ended), all on
 * js-libp2p's own stream API.
 *
 * Its Noise encrypter is js-libp2p's, wrapped to record what each handshake settled: the muxers
 * the remote advertised in the `stream_muxers` extension and the muxer js-libp2p took from it
 * (early muxer negotiation). With `earlyMuxer: false` the wrapper asks js-libp2p's Noise to skip
 * early negotiation (`skipStreamMuxerNegotiation`): it then advertises no muxer and the upgrader
 * falls back to a multistream-select round for `/yamux/1.0.0`.
 */
import '../helpers/polyfill.ts'
import { createLibp2p, type Libp2p, type Libp2pInit } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { ping } from '@libp2p/ping'
import type { ConnectionEncrypter, SecureConnectionOptions, SecuredConnection, Stream as JsStream, MessageStream } from '@libp2p/interface'
import { PERF_PROTOCOL, servePerf } from '../helpers/js-libp2p.ts'

export const ECHO_PROTOCOL = '/interop/echo/1.0.0'
/**
 * Reset mid-transfer, on cue. The opener starts reading, then sends one byte; the receiver of the
 * protocol then sends without end (SOURCE_CHUNK writes, backpressure respected) until a second
 * byte arrives, and resets the stream at once, with data still being sent. The opener sends the
 * second byte once it has read RESET_CUE_AFTER bytes, so the reset always lands mid-transfer.
 */
export const SOURCE_PROTOCOL = '/interop/reset-source/1.0.0'
/** The receiver of this protocol reads until the stream ends and reports how it ended. */
export const SINK_PROTOCOL = '/interop/sink/1.0.0'
/** Bytes the opener of SOURCE_PROTOCOL reads before it cues the reset: a quarter of Yamux's 256 KiB initial window. */
export const RESET_CUE_AFTER = 64 * 1024
/** Bound on what a source sends when the cue never comes (a broken run): 64 MiB, well under a second on loopback. */
export const SOURCE_MAX_BYTES = 64 * 1024 * 1024
/** Chunk size of the source's writes: 64 KiB, a typical js-libp2p write. */
export const SOURCE_CHUNK = 64 * 1024
/**
 * Streams per protocol per connection that the handlers accept: js-libp2p's default for a
 * handler is 32 inbound streams; the concurrency test opens 16, plus room for leftovers.
 */
const MAX_STREAMS = 64

export interface SecuredRecord {
  direction: 'inbound' | 'outbound'
  remotePeer: string
  /** What the remote advertised in the Noise `stream_muxers` extension. */
  remoteMuxers: string[]
  /** The muxer js-libp2p took from early negotiation (undefined: multistream-select follows). */
  earlyMuxer: string | undefined
}

export interface SinkOutcome { bytes: number, error: Error | undefined }

export interface InteropJsNode {
  node: Libp2p<{ ping: ReturnType<ReturnType<typeof ping>> }>
  /** One record per completed Noise handshake, in order. */
  secured: SecuredRecord[]
  /** Resolves with the byte count and error of each SINK stream, in arrival order. */
  sinkOutcomes: Array<Promise<SinkOutcome>>
  /** Called (when set) as each SINK stream reads bytes: lets a test reset mid-transfer. */
  onSinkProgress: ((bytes: number) => void) | undefined
  /** Upload byte counts seen by the perf server, one per perf stream. */
  perfUploads: number[]
  /** Errors thrown by the js-side handlers (a test checks it stays empty where nothing should fail). */
  handlerErrors: Error[]
}

function observedNoise (secured: SecuredRecord[], earlyMuxer: boolean): NonNullable<Libp2pInit['connectionEncrypters']> {
  const factory = noise()
  return [(components) => {
    const inner = factory(components) as ConnectionEncrypter<{ streamMuxers?: string[] }>
    const record = (direction: SecuredRecord['direction'], r: SecuredConnection<{ streamMuxers?: string[] }>): void => {
      secured.push({
        direction,
        remotePeer: r.remotePeer.toString(),
        remoteMuxers: [...(r.remoteExtensions?.streamMuxers ?? [])],
        earlyMuxer: r.streamMuxer?.protocol
      })
    }
    const opts = (o?: SecureConnectionOptions): SecureConnectionOptions | undefined => earlyMuxer ? o : { ...o, skipStreamMuxerNegotiation: true }
    const wrapped: ConnectionEncrypter<{ streamMuxers?: string[] }> = {
      protocol: inner.protocol,
      async secureOutbound (connection: MessageStream, options?: SecureConnectionOptions) {
        const r = await inner.secureOutbound(connection, opts(options))
        record('outbound', r)
        return r
      },
      async secureInbound (connection: MessageStream, options?: SecureConnectionOptions) {
        const r = await inner.secureInbound(connection, opts(options))
        record('inbound', r)
        return r
      }
    }
    return wrapped
  }]
}

function bytesOf (buf: Uint8Array | { byteLength: number, subarray: () => Uint8Array }): Uint8Array {
  return buf instanceof Uint8Array ? buf : buf.subarray()
}

/** A view of `stream` whose async iteration counts the bytes read (for servePerf's upload). */
function countingReads (stream: JsStream, onBytes: (n: number) => void): JsStream {
  return new Proxy(stream, {
    get (target, prop) {
      if (prop === Symbol.asyncIterator) {
        return async function * () {
          for await (const buf of target) {
            onBytes(buf.byteLength)
            yield buf
          }
        }
      }
      const v = Reflect.get(target, prop, target) as unknown
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    }
  })
}

async function echo (stream: JsStream): Promise<void> {
  for await (const buf of stream) {
    if (!stream.send(bytesOf(buf))) await stream.onDrain()
  }
  await stream.close()
}

async function resetSource (stream: JsStream): Promise<void> {
  let cues = 0
  let cued: () => void = () => {}
  const resetCue = new Promise<void>(resolve => { cued = resolve })
  let started: () => void = () => {}
  const go = new Promise<void>(resolve => { started = resolve })
  stream.addEventListener('message', (evt) => {
    cues += evt.data.byteLength
    if (cues >= 1) started()
    if (cues >= 2) cued()
  })
  await go
  let reset = false
  void resetCue.then(() => { reset = true })
  const chunk = new Uint8Array(SOURCE_CHUNK).fill(0x5a)
  for (let sent = 0; !reset && sent < SOURCE_MAX_BYTES && stream.status === 'open'; sent += chunk.byteLength) {
    if (!stream.send(chunk)) await Promise.race([stream.onDrain(), resetCue])
    else await new Promise(resolve => setImmediate(resolve))
  }
  stream.abort(new Error('interop: source resets mid-transfer'))
}

export async function createInteropJsNode (options: { earlyMuxer?: boolean } = {}): Promise<InteropJsNode> {
  const secured: SecuredRecord[] = []
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: observedNoise(secured, options.earlyMuxer ?? true),
    streamMuxers: [yamux()],
    services: { ping: ping() }
  })
  const self: InteropJsNode = { node, secured, sinkOutcomes: [], onSinkProgress: undefined, perfUploads: [], handlerErrors: [] }
  const limits = { maxInboundStreams: MAX_STREAMS, maxOutboundStreams: MAX_STREAMS }
  const guard = (stream: JsStream, work: Promise<void>): void => {
    work.catch((err: Error) => { self.handlerErrors.push(err); stream.abort(err) })
  }
  await node.handle(PERF_PROTOCOL, (stream) => {
    const index = self.perfUploads.push(0) - 1
    guard(stream, servePerf(countingReads(stream, (n) => { self.perfUploads[index] = (self.perfUploads[index] ?? 0) + n })))
  }, limits)
  await node.handle(ECHO_PROTOCOL, (stream) => { guard(stream, echo(stream)) }, limits)
  await node.handle(SOURCE_PROTOCOL, (stream) => { void resetSource(stream).catch(() => {}) }, limits)
  await node.handle(SINK_PROTOCOL, (stream) => {
    self.sinkOutcomes.push((async () => {
      let bytes = 0
      try {
        for await (const buf of stream) {
          bytes += buf.byteLength
          self.onSinkProgress?.(bytes)
        }
        return { bytes, error: undefined }
      } catch (err) {
        return { bytes, error: err as Error }
      }
    })())
  }, limits)
  return self
}
