/**
 * Perf's connection handler: serves `/perf/1.0.0` with protocol.ts's `handlePerfStream`, and runs
 * client exchanges its behaviour asks for on streams the Swarm opens. The client side is written
 * on the stream the handler is given (protocol.ts's `runPerf` opens its own from a Connection,
 * which a handler must not do).
 */
import { PollQueue, type ConnectionHandler, type ConnectionHandlerEvent, type PollContext, type StreamUpgradeError } from '../../core/handler.ts'
import type { Stream } from '../../core/stream.ts'
import { ProtocolViolationError } from '../../core/errors.ts'
import { PERF_HEADER_LENGTH, PERF_PROTOCOL } from './constants.ts'
import { handlePerfStream, readToEnd, sendBytes } from './protocol.ts'

export type PerfRunId = number

export interface PerfRunParams { uploadBytes: number, downloadBytes: number }
/** Totals of one run, in the test-plans perf shape. */
export interface PerfRunResult { timeSeconds: number, uploadBytes: number, downloadBytes: number }

export type PerfHandlerIn = { type: 'run', runId: PerfRunId, params: PerfRunParams }
export type PerfHandlerEvent =
  | { type: 'result', runId: PerfRunId, result: PerfRunResult }
  | { type: 'error', runId: PerfRunId, error: Error }
  | { type: 'served', uploadBytes: number, downloadBytes: number }

const PROTOCOLS: readonly string[] = Object.freeze([PERF_PROTOCOL])

export class PerfHandler implements ConnectionHandler<PerfHandlerIn, PerfHandlerEvent, PerfHandlerIn> {
  private readonly out = new PollQueue<ConnectionHandlerEvent<PerfHandlerEvent, PerfHandlerIn>>()
  private readonly streams = new Set<Stream>()
  private pending = 0
  private readonly serve: boolean

  constructor (serve: boolean) {
    this.serve = serve
  }

  listenProtocols (): readonly string[] { return this.serve ? PROTOCOLS : [] }

  onBehaviourEvent (event: PerfHandlerIn): void {
    this.pending++
    this.out.push({ type: 'outboundStreamRequest', protocols: PROTOCOLS, info: event })
  }

  onInboundStream (stream: Stream): void {
    this.streams.add(stream)
    handlePerfStream(stream).then(r => {
      this.out.push({ type: 'notifyBehaviour', event: { type: 'served', ...r } })
    }, () => {}).finally(() => { this.streams.delete(stream) })
  }

  onOutboundStream (stream: Stream, _protocol: string, info: PerfHandlerIn): void {
    this.pending--
    this.streams.add(stream)
    runOnStream(stream, info.params).then(result => {
      this.out.push({ type: 'notifyBehaviour', event: { type: 'result', runId: info.runId, result } })
    }, (err: unknown) => {
      stream.reset()
      this.out.push({ type: 'notifyBehaviour', event: { type: 'error', runId: info.runId, error: err instanceof Error ? err : new Error(String(err)) } })
    }).finally(() => { this.streams.delete(stream) })
  }

  onOutboundStreamError (info: PerfHandlerIn, error: StreamUpgradeError): void {
    this.pending--
    this.out.push({ type: 'notifyBehaviour', event: { type: 'error', runId: info.runId, error } })
  }

  keepAlive (): boolean {
    return this.pending > 0 || this.streams.size > 0
  }

  poll (cx: PollContext): ConnectionHandlerEvent<PerfHandlerEvent, PerfHandlerIn> | undefined {
    return this.out.poll(cx)
  }

  onClose (): void {
    for (const s of this.streams) s.reset()
    this.streams.clear()
  }
}

/** The perf client on an open stream: header, upload, FIN, then read the download to its end. */
async function runOnStream (stream: Stream, params: PerfRunParams): Promise<PerfRunResult> {
  const start = performance.now()
  const header = new Uint8Array(PERF_HEADER_LENGTH)
  new DataView(header.buffer).setBigUint64(0, BigInt(params.downloadBytes), false)
  if (!stream.send(header)) await stream.onDrain()
  await sendBytes(stream, params.uploadBytes)
  await stream.closeWrite()
  let downloaded = 0
  await readToEnd(stream, (chunk) => { downloaded += chunk.byteLength })
  if (downloaded !== params.downloadBytes) {
    throw new ProtocolViolationError(PERF_PROTOCOL, `expected ${params.downloadBytes} bytes, received ${downloaded}`)
  }
  return { timeSeconds: (performance.now() - start) / 1000, uploadBytes: params.uploadBytes, downloadBytes: downloaded }
}
