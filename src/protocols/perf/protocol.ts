/**
 * `/perf/1.0.0` on the Stream API (perf spec):
 *   client: open a stream, send the wanted download size as a u64 big-endian, upload N bytes,
 *           close its write side, read the download to the end;
 *   server: read the u64, drain the upload until the client's FIN, then (not concurrently) send
 *           the requested bytes and close.
 * Both sides send from one large reusable buffer and respect backpressure (`send()` false, then
 * `onDrain()`); the buffer is never modified, so reusing it while the transport still holds it is
 * safe. Nothing here is specific to a transport: the measured path is the user-facing Stream API.
 *
 * Results use the perf JSON shape of libp2p's test-plans:
 *   {"type":"intermediary"|"final","timeSeconds":…,"uploadBytes":…,"downloadBytes":…}
 * Intermediary reports carry the bytes moved during the interval they cover (timeSeconds is that
 * interval), as rust-libp2p's perf client prints them; the final report carries the totals from
 * stream open to stream close.
 */
import type { Stream } from '../../core/stream.ts'
import type { Connection } from '../../core/transport.ts'
import { ProtocolViolationError, StreamClosedError, StreamResetError, InvalidArgumentError } from '../../core/errors.ts'
import { PERF_HEADER_LENGTH, PERF_PROGRESS_INTERVAL_MS, PERF_PROTOCOL, PERF_SEND_BUFFER_SIZE } from './constants.ts'

export interface PerfReport {
  type: 'intermediary' | 'final'
  timeSeconds: number
  uploadBytes: number
  downloadBytes: number
}

/** One zero-filled buffer shared by every sender in the process: it is only ever read. */
let sharedSendBuffer: Uint8Array | undefined
function sendBuffer (): Uint8Array {
  sharedSendBuffer ??= new Uint8Array(PERF_SEND_BUFFER_SIZE)
  return sharedSendBuffer
}

/**
 * Calls `onChunk` for every chunk the remote sends and resolves at the end of its data (its FIN,
 * everything delivered); rejects with the cause when the stream is reset or aborted first.
 * It listens to 'data' rather than iterating: a chunk is then one synchronous call from the
 * transport's dispatch, where async iteration costs a promise, a generator resumption and a
 * microtask per chunk (16k chunks per GiB; perf measures the stack, not this loop).
 */
export async function readToEnd (stream: Stream, onChunk: (chunk: Uint8Array) => void): Promise<void> {
  // Already over before we listen: the end came with nothing left to deliver ('end' is not re-emitted).
  if (stream.readStatus === 'closed' && stream.readBufferLength === 0) {
    if (stream.status === 'reset' || stream.status === 'aborted') throw new StreamResetError(stream.status === 'aborted')
    return
  }
  await new Promise<void>((resolve, reject) => {
    const onEnd = (): void => { cleanup(); resolve() }
    const onClose = (err?: Error): void => { cleanup(); if (err === undefined) resolve(); else reject(err) }
    const cleanup = (): void => {
      stream.off('data', onChunk)
      stream.off('end', onEnd)
      stream.off('close', onClose)
    }
    stream.once('end', onEnd)
    stream.once('close', onClose)
    stream.on('data', onChunk)  // last: adding it flushes chunks queued before we listened
  })
}

/** Sends `count` bytes (Infinity: until the stream is closed or reset by the remote). Returns bytes sent. */
export async function sendBytes (stream: Stream, count: number, onSent?: (n: number) => void): Promise<number> {
  const buf = sendBuffer()
  let remaining = count
  let sent = 0
  while (remaining > 0) {
    const n = remaining >= buf.byteLength ? buf.byteLength : remaining
    const ok = stream.send(n === buf.byteLength ? buf : buf.subarray(0, n))
    remaining -= n
    sent += n
    onSent?.(n)
    if (!ok) await stream.onDrain()
  }
  return sent
}

export interface PerfServerOptions {
  /** Refuse requests for more than this many download bytes (default: no limit, as the spec allows). */
  maxDownloadBytes?: number
}

export interface PerfServerResult { uploadBytes: number, downloadBytes: number }

/** Server side of one perf stream. */
export async function handlePerfStream (stream: Stream, options: PerfServerOptions = {}): Promise<PerfServerResult> {
  let uploadBytes = 0
  let downloadBytes = 0
  const header = new Uint8Array(PERF_HEADER_LENGTH)
  let headerHave = 0
  let requested = 0n
  try {
    // The header, then the upload until the client's FIN (the spec forbids sending before it).
    // A header split across chunks is put together here; upload bytes are only counted.
    await readToEnd(stream, (chunk) => {
      let n = chunk.byteLength
      if (headerHave < PERF_HEADER_LENGTH) {
        const take = Math.min(PERF_HEADER_LENGTH - headerHave, n)
        header.set(take === n ? chunk : chunk.subarray(0, take), headerHave)
        headerHave += take
        n -= take
        if (headerHave === PERF_HEADER_LENGTH) {
          requested = new DataView(header.buffer).getBigUint64(0, false)
          // Refused at once, not after the upload: the reset ends readToEnd with this error.
          if (options.maxDownloadBytes !== undefined && requested > BigInt(options.maxDownloadBytes)) {
            stream.reset(new ProtocolViolationError(PERF_PROTOCOL, `requested ${requested} bytes, more than the server allows (${options.maxDownloadBytes})`, 'ERR_LIMIT_EXCEEDED'))
            return
          }
        }
      }
      uploadBytes += n
    })
    if (headerHave < PERF_HEADER_LENGTH) throw new ProtocolViolationError(PERF_PROTOCOL, `stream ended before the ${PERF_HEADER_LENGTH}-byte download size`)
    const count = requested > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(requested)
    downloadBytes = await sendBytes(stream, count)
    await stream.closeWrite()
  } catch (err) {
    // A client that resets a timer-based download ends the exchange; anything else is an error.
    if (err instanceof StreamResetError || err instanceof StreamClosedError) return { uploadBytes, downloadBytes }
    stream.reset(err as Error)
    throw err
  }
  return { uploadBytes, downloadBytes }
}

export interface PerfClientOptions {
  uploadBytes: number
  downloadBytes: number
  /** Called once per interval with the bytes moved during it. */
  onProgress?: (report: PerfReport) => void
  progressIntervalMs?: number
  /** Called every `totalsIntervalMs` with the running totals (for a live progress display). */
  onTotals?: (totals: PerfTotals) => void
  totalsIntervalMs?: number
  signal?: AbortSignal
}

export interface PerfTotals { elapsedSeconds: number, uploadBytes: number, downloadBytes: number }

/** Live display refresh: four times a second reads as smooth without costing anything measurable. */
export const PERF_TOTALS_INTERVAL_MS = 250

function checkCount (name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative safe integer, got ${n}`)
}

/**
 * Client side: opens a perf stream on `connection` and runs one upload-then-download exchange.
 * Resolves with the final report (time from stream open to the end of the download).
 */
export async function runPerf (connection: Connection, options: PerfClientOptions): Promise<PerfReport> {
  checkCount('uploadBytes', options.uploadBytes)
  checkCount('downloadBytes', options.downloadBytes)
  const start = performance.now()
  const stream = await connection.openStream(PERF_PROTOCOL, { signal: options.signal })
  let uploaded = 0
  let downloaded = 0
  let lastAt = start
  let lastUp = 0
  let lastDown = 0
  const interval = options.progressIntervalMs ?? PERF_PROGRESS_INTERVAL_MS
  const timer = options.onProgress === undefined
    ? undefined
    : setInterval(() => {
      const now = performance.now()
      options.onProgress?.({ type: 'intermediary', timeSeconds: (now - lastAt) / 1000, uploadBytes: uploaded - lastUp, downloadBytes: downloaded - lastDown })
      lastAt = now
      lastUp = uploaded
      lastDown = downloaded
    }, interval)
  const totalsTimer = options.onTotals === undefined
    ? undefined
    : setInterval(() => {
      options.onTotals?.({ elapsedSeconds: (performance.now() - start) / 1000, uploadBytes: uploaded, downloadBytes: downloaded })
    }, options.totalsIntervalMs ?? PERF_TOTALS_INTERVAL_MS)
  const onAbort = (): void => { stream.reset(options.signal?.reason instanceof Error ? options.signal.reason : undefined) }
  options.signal?.addEventListener('abort', onAbort, { once: true })
  try {
    const header = new Uint8Array(PERF_HEADER_LENGTH)
    new DataView(header.buffer).setBigUint64(0, BigInt(options.downloadBytes), false)
    if (!stream.send(header)) await stream.onDrain()
    await sendBytes(stream, options.uploadBytes, (n) => { uploaded += n })
    await stream.closeWrite()
    await readToEnd(stream, (chunk) => { downloaded += chunk.byteLength })
    if (downloaded !== options.downloadBytes) {
      throw new ProtocolViolationError(PERF_PROTOCOL, `received ${downloaded} bytes, expected ${options.downloadBytes}`)
    }
    const end = performance.now()
    return { type: 'final', timeSeconds: (end - start) / 1000, uploadBytes: uploaded, downloadBytes: downloaded }
  } catch (err) {
    stream.reset(err as Error)
    throw err
  } finally {
    clearInterval(timer)
    clearInterval(totalsTimer)
    options.signal?.removeEventListener('abort', onAbort)
  }
}
