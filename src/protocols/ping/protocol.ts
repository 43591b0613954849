/**
 * `/ipfs/ping/1.0.0` on the Stream API: the dialer sends 32 random bytes and measures the time
 * until the same 32 bytes come back; the listener echoes every 32-byte ping until the stream
 * ends. Several pings may share one stream, one at a time (ping spec).
 */
import { randomFillSync } from 'node:crypto'
import type { Stream } from '../../core/stream.ts'
import type { Connection } from '../../core/transport.ts'
import { ProtocolViolationError, TimeoutError, StreamClosedError } from '../../core/errors.ts'
import { ByteReader } from '../../utils/byte-reader.ts'
import { PING_LENGTH, PING_PROTOCOL, PING_TIMEOUT_MS } from './constants.ts'

/**
 * Listener side: echo each 32-byte ping until the remote closes its side, then close ours.
 * A trailing partial ping is a protocol violation (the stream is reset).
 */
export async function handlePingStream (stream: Stream): Promise<void> {
  const reader = new ByteReader(stream)
  try {
    while (true) {
      const ping = await reader.readExactly(PING_LENGTH)
      if (ping === undefined) {
        if (reader.partial > 0) throw new ProtocolViolationError(PING_PROTOCOL, `stream ended inside a ping (${reader.partial} of ${PING_LENGTH} bytes)`)
        break
      }
      if (!stream.send(ping)) await stream.onDrain()
    }
    await stream.closeWrite()
  } catch (err) {
    stream.reset(err as Error)
    if (!(err instanceof ProtocolViolationError)) return
    throw err
  }
}

export interface PingOptions {
  /** Fail a ping whose echo takes longer (default PING_TIMEOUT_MS). */
  timeoutMs?: number
  signal?: AbortSignal
}

/** Dialer side: one ping stream, reused for successive pings. */
export class PingSession {
  readonly stream: Stream
  private readonly reader: ByteReader
  private readonly payload = new Uint8Array(PING_LENGTH)
  private busy = false

  constructor (stream: Stream) {
    this.stream = stream
    this.reader = new ByteReader(stream)
  }

  /** Opens a ping stream on `connection`. */
  static async open (connection: Connection, options: { signal?: AbortSignal } = {}): Promise<PingSession> {
    return new PingSession(await connection.openStream(PING_PROTOCOL, options))
  }

  /** Sends one ping and resolves with the round-trip time in milliseconds. */
  async ping (options: PingOptions = {}): Promise<number> {
    if (this.busy) throw new StreamClosedError('a ping is already in flight on this stream')
    this.busy = true
    const timeoutMs = options.timeoutMs ?? PING_TIMEOUT_MS
    let timer: NodeJS.Timeout | undefined
    const onAbort = (): void => { this.stream.reset(options.signal?.reason instanceof Error ? options.signal.reason : undefined) }
    try {
      options.signal?.throwIfAborted()
      options.signal?.addEventListener('abort', onAbort, { once: true })
      randomFillSync(this.payload)
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          const err = new TimeoutError(`no ping echo within ${timeoutMs} ms`)
          this.stream.reset(err)
          reject(err)
        }, timeoutMs)
      })
      const start = performance.now()
      // The payload is sent only once per ping and not touched until the echo is back.
      if (!this.stream.send(this.payload)) await Promise.race([this.stream.onDrain(), timeout])
      const echo = await Promise.race([this.reader.readExactly(PING_LENGTH), timeout])
      const rtt = performance.now() - start
      if (echo === undefined) throw new ProtocolViolationError(PING_PROTOCOL, 'stream ended before the ping echo')
      for (let i = 0; i < PING_LENGTH; i++) {
        if (echo[i] !== this.payload[i]) throw new ProtocolViolationError(PING_PROTOCOL, 'the echo differs from the ping')
      }
      return rtt
    } catch (err) {
      // A failed ping leaves the stream in an unknown state: it cannot carry another ping.
      this.stream.reset(err as Error)
      throw err
    } finally {
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      this.busy = false
    }
  }

  /** Ends the session gracefully (the listener then closes its side). */
  async close (): Promise<void> {
    await this.stream.close()
  }
}

/** One ping on a new stream; resolves with the RTT in milliseconds. */
export async function ping (connection: Connection, options: PingOptions = {}): Promise<number> {
  const session = await PingSession.open(connection, options)
  const rtt = await session.ping(options)
  await session.close()
  return rtt
}
