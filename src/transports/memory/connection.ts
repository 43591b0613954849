/**
 * One side of an in-memory connection. The two sides are created together by a dial; there is no
 * security or muxer layer, but everything the Connection contract promises is kept: the remote
 * PeerId is the other side's identity, inbound streams are negotiated against the receiving
 * node's ProtocolTable, stream counts are bounded, and close/abort reach the other side (after
 * the injected latency, when there is one).
 */
import { EventEmitter } from 'node:events'
import type { Multiaddr } from '@multiformats/multiaddr'
import type {
  Connection, ConnectionCounters, ConnectionDirection, ConnectionStatus, ConnectionTimeline, OpenStreamOptions, TransportContext
} from '../../core/transport.ts'
import type { Stream } from '../../core/stream.ts'
import type { PeerId } from '../../identity/peer-id.ts'
import {
  AbortError, ConnectionClosedError, InvalidArgumentError, LimitExceededError, UnsupportedProtocolError
} from '../../core/errors.ts'
import type { Logger } from '../../log/index.ts'
import { MemoryStream } from './stream.ts'
import { CLOSE_TIMEOUT_MS, MAX_STREAMS_PER_CONNECTION, WRITE_HIGH_WATER_MARK, WRITE_LOW_WATER_MARK_RATIO } from './constants.ts'

export interface MemoryConnectionLimits {
  latencyMs: number
  maxStreams: number
  writeHighWaterMark: number
  readHighWaterMark: number | undefined
  closeTimeoutMs: number
}

export const DEFAULT_LIMITS: MemoryConnectionLimits = {
  latencyMs: 0,
  maxStreams: MAX_STREAMS_PER_CONNECTION,
  writeHighWaterMark: WRITE_HIGH_WATER_MARK,
  readHighWaterMark: undefined,
  closeTimeoutMs: CLOSE_TIMEOUT_MS
}

export interface MemoryConnectionInit {
  id: string
  context: TransportContext
  remotePeer: PeerId
  remoteAddr: Multiaddr
  localAddr: Multiaddr
  direction: ConnectionDirection
  limits: MemoryConnectionLimits
  log: Logger
}

let nextStreamId = 1

export class MemoryConnection extends EventEmitter implements Connection {
  readonly id: string
  readonly remotePeer: PeerId
  readonly remoteAddr: Multiaddr
  readonly localAddr: Multiaddr
  readonly direction: ConnectionDirection
  readonly transport = 'memory'
  readonly encryption = 'none'
  readonly muxer = 'memory'
  status: ConnectionStatus = 'open'
  readonly timeline: ConnectionTimeline
  /** The other side; set right after both sides are built. */
  peer!: MemoryConnection
  readonly context: TransportContext
  private readonly limits: MemoryConnectionLimits
  private readonly log: Logger
  private readonly openStreams = new Set<MemoryStream>()
  private readonly counts: ConnectionCounters = { bytesIn: 0, bytesOut: 0, framesIn: 0, framesOut: 0, errors: 0 }
  private closing: Promise<void> | undefined
  /** openStream waits in progress: failed with the close error when the connection ends. */
  private readonly waits = new Set<(err: Error) => void>()

  constructor (init: MemoryConnectionInit) {
    super()
    this.id = init.id
    this.context = init.context
    this.remotePeer = init.remotePeer
    this.remoteAddr = init.remoteAddr
    this.localAddr = init.localAddr
    this.direction = init.direction
    this.limits = init.limits
    this.log = init.log
    const now = Date.now()
    this.timeline = { open: now, upgraded: now }
  }

  get streams (): readonly Stream[] {
    return [...this.openStreams]
  }

  counters (): ConnectionCounters {
    return { ...this.counts }
  }

  async openStream (protocols: string | readonly string[], options: OpenStreamOptions = {}): Promise<Stream> {
    const list = typeof protocols === 'string' ? [protocols] : [...protocols]
    if (list.length === 0) throw new InvalidArgumentError('openStream needs at least one protocol')
    this.checkOpen()
    options.signal?.throwIfAborted()
    // The proposal travels to the remote...
    await this.delay(this.limits.latencyMs, options.signal)
    this.checkOpen()
    const peer = this.peer
    const selected = list.find(p => peer.context.protocols.has(p))
    if (selected === undefined) {
      await this.delay(this.limits.latencyMs, options.signal)
      throw new UnsupportedProtocolError(list)
    }
    if (this.openStreams.size >= this.limits.maxStreams || peer.openStreams.size >= peer.limits.maxStreams) {
      this.counts.errors++
      throw new LimitExceededError('max_streams', `connection ${this.id} has ${this.limits.maxStreams} open streams`)
    }
    const id = String(nextStreamId++)
    const outbound = this.makeStream(id, selected, 'outbound')
    const inbound = peer.makeStream(id, selected, 'inbound')
    outbound.peer = inbound
    inbound.peer = outbound
    if (this.log.enabled.debug) this.log.debug('stream opened', { connection: this.id, stream: id, protocol: selected })
    peer.emitStream(inbound)
    // ...and the acceptance comes back.
    try {
      await this.delay(this.limits.latencyMs, options.signal)
    } catch (err) {
      outbound.reset(err as Error)
      throw err
    }
    if (outbound.status === 'aborted' || outbound.status === 'reset') throw new ConnectionClosedError('stream reset while opening')
    return outbound
  }

  async close (): Promise<void> {
    this.closing ??= this.closeGracefully()
    await this.closing
  }

  abort (err: Error): void {
    if (this.status === 'closed') return
    this.log.debug('connection aborted', { connection: this.id, err })
    this.finish(err, true, err)
    const peer = this.peer
    this.schedule(() => { peer.remoteAborted(err) })
  }

  // ---- used by the streams and the other side --------------------------------------------
  countSent (bytes: number): void {
    this.counts.bytesOut += bytes
    this.counts.framesOut++
  }

  countReceived (bytes: number): void {
    this.counts.bytesIn += bytes
    this.counts.framesIn++
  }

  removeStream (stream: MemoryStream): void {
    this.openStreams.delete(stream)
  }

  /** Runs `fn` after the one-way latency (next macrotask when there is none). */
  schedule (fn: () => void): void {
    if (this.limits.latencyMs > 0) setTimeout(fn, this.limits.latencyMs)
    else setImmediate(fn)
  }

  // ---- internals ---------------------------------------------------------------------------
  private makeStream (id: string, protocol: string, direction: 'inbound' | 'outbound'): MemoryStream {
    const stream = new MemoryStream({
      id,
      protocol,
      direction,
      connection: this,
      latencyMs: this.limits.latencyMs,
      writeHighWaterMark: this.limits.writeHighWaterMark,
      writeLowWaterMark: Math.floor(this.limits.writeHighWaterMark * WRITE_LOW_WATER_MARK_RATIO),
      readHighWaterMark: this.limits.readHighWaterMark
    })
    this.openStreams.add(stream)
    return stream
  }

  private emitStream (stream: MemoryStream): void {
    try {
      this.emit('stream', stream)
    } catch (err) {
      this.log.warn('inbound stream listener threw; resetting the stream', { connection: this.id, err })
      stream.reset(err as Error)
    }
  }

  private checkOpen (): void {
    if (this.status !== 'open' || this.peer.status !== 'open') throw new ConnectionClosedError(`connection ${this.id} is ${this.status === 'open' ? this.peer.status : this.status}`)
  }

  private async delay (ms: number, signal: AbortSignal | undefined): Promise<void> {
    if (ms <= 0) return
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error): void => {
        clearTimeout(timer)
        this.waits.delete(fail)
        signal?.removeEventListener('abort', onAbort)
        reject(err)
      }
      const onAbort = (): void => { fail(new AbortError()) }
      const timer = setTimeout(() => {
        this.waits.delete(fail)
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }, ms)
      this.waits.add(fail)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  private async closeGracefully (): Promise<void> {
    if (this.status === 'closed') return
    this.status = 'closing'
    const peer = this.peer
    // Go-away: the remote opens no new streams either.
    this.schedule(() => { if (peer.status === 'open') peer.status = 'closing' })
    const streams = [...this.openStreams]
    let timer: NodeJS.Timeout | undefined
    const allClosed = Promise.all(streams.map(async s => {
      if (s.status === 'closed' || s.status === 'reset' || s.status === 'aborted') return
      await new Promise<void>(resolve => {
        s.once('close', () => { resolve() })
        s.closeWrite().catch(() => {})
      })
    }))
    const timedOut = await Promise.race([
      allClosed.then(() => false),
      new Promise<boolean>(resolve => { timer = setTimeout(() => { resolve(true) }, this.limits.closeTimeoutMs) })
    ])
    clearTimeout(timer)
    if ((this.status as ConnectionStatus) === 'closed') return
    const err = timedOut ? new ConnectionClosedError(`streams still open after ${this.limits.closeTimeoutMs} ms`) : new ConnectionClosedError()
    this.finish(err, true, undefined)
    this.schedule(() => { peer.remoteClosed() })
  }

  private remoteClosed (): void {
    if (this.status === 'closed') return
    const err = new ConnectionClosedError('connection closed by the remote')
    this.finish(err, false, err)
  }

  private remoteAborted (cause: Error): void {
    if (this.status === 'closed') return
    const err = new ConnectionClosedError('connection reset by the remote', { cause })
    this.finish(err, false, err)
  }

  /**
   * Ends this side: streams still open end with `streamErr` (as a local reset, or as a remote
   * one when the other side ended the connection), pending openStream calls fail, then 'close' is
   * emitted with `closeErr` (undefined for a local graceful close).
   */
  private finish (streamErr: Error, local: boolean, closeErr: Error | undefined): void {
    this.status = 'closed'
    this.timeline.close = Date.now()
    for (const fail of [...this.waits]) fail(new ConnectionClosedError(`connection ${this.id} closed`, { cause: closeErr }))
    for (const stream of [...this.openStreams]) stream.abortByConnection(streamErr, !local)
    this.openStreams.clear()
    this.emit('close', closeErr)
  }
}
