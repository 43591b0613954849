/**
 * The Stream every transport gives its users: Yamux streams over native TCP, QUIC streams, and
 * in-memory streams for tests. It is a message stream in the shape of js-libp2p 3's
 * (`send()` returns false when the write buffer is full, then `'drain'`), so an adapter can back a
 * js-libp2p stream with it without copying.
 *
 * Buffers: a chunk delivered by `'data'` or async iteration may be a view on native memory
 * (see docs/buffer-ownership.md). It stays valid as long as the receiver holds it. A buffer given
 * to `send()` must not be modified by the caller until the stream reports it written
 * (`writeBufferLength` drops, or `'drain'`): transports read it without copying.
 */
import { EventEmitter } from 'node:events'
import { StreamClosedError, StreamResetError } from './errors.ts'

export type StreamDirection = 'inbound' | 'outbound'
export type StreamStatus = 'open' | 'closing' | 'closed' | 'reset' | 'aborted'
export type ReadStatus = 'readable' | 'paused' | 'closed'
export type WriteStatus = 'writable' | 'closing' | 'closed'

export interface StreamEvents {
  /** A chunk from the remote. Emitted only while the stream is flowing (not paused). */
  data: [chunk: Uint8Array]
  /** The write buffer fell below its low-water mark: `send()` may be called again. */
  drain: []
  /** The remote closed its writing side (FIN). Buffered data may still be unread. */
  remoteCloseWrite: []
  /** No more data will be delivered: the remote closed its side and everything was read. */
  end: []
  /** The stream is finished in both directions; `err` is set when it ended by reset or abort. */
  close: [err?: Error]
}

export interface Stream {
  readonly id: string
  readonly protocol: string
  readonly direction: StreamDirection
  readonly status: StreamStatus
  readonly readStatus: ReadStatus
  readonly writeStatus: WriteStatus
  readonly remoteWriteStatus: WriteStatus
  /** True after `send()` returned false, until `'drain'`. */
  readonly writableNeedsDrain: boolean
  /** Bytes received but not yet delivered to the user. */
  readonly readBufferLength: number
  /** Bytes handed to `send()` that the transport has not yet written. */
  readonly writeBufferLength: number
  /** Queue `data` for sending. Returns false when the write buffer is full: wait for `'drain'`. */
  send(data: Uint8Array): boolean
  /** Half-close: FIN after pending data. Resolves when pending data was handed to the transport. */
  closeWrite(): Promise<void>
  /** Close both sides gracefully: FIN, then wait for the remote's FIN (unread data is discarded). */
  close(): Promise<void>
  /** Reset (RST) at once, discarding unsent and unread data. */
  reset(err?: Error): void
  /** Stop delivering data; the transport stops granting the remote more window. */
  pause(): void
  resume(): void
  /** Resolves at the next `'drain'` (or at once if not needed); rejects if the stream ends first. */
  onDrain(): Promise<void>
  on<E extends keyof StreamEvents>(event: E, listener: (...args: StreamEvents[E]) => void): this
  once<E extends keyof StreamEvents>(event: E, listener: (...args: StreamEvents[E]) => void): this
  off<E extends keyof StreamEvents>(event: E, listener: (...args: StreamEvents[E]) => void): this
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array>
}

/**
 * Read-side buffer limit before a stream pauses its remote (bytes). With Yamux the remote is
 * stopped by not granting window, so this bounds memory per stream beyond the muxer window.
 */
export const DEFAULT_READ_HIGH_WATER_MARK = 4 * 1024 * 1024
/**
 * Write-side buffer: `send()` returns false once this many bytes wait for the transport.
 * 4 MiB keeps a 10 Gbit/s stream fed across a few milliseconds of JS latency (1.25 GB/s * 3 ms).
 */
export const DEFAULT_WRITE_HIGH_WATER_MARK = 4 * 1024 * 1024

/**
 * Dequeued slots the read queue leaves behind before it compacts (one `splice`, O(live chunks)):
 * compacting only when the dead prefix is this long and at least half the array keeps dequeue
 * amortized O(1) (`Array.prototype.shift` is O(n): 40k queued chunks took 780 ms to drain).
 */
const READ_QUEUE_COMPACT_AT = 1024

export interface AbstractStreamInit {
  id: string
  protocol: string
  direction: StreamDirection
  readHighWaterMark?: number
}

/**
 * Shared logic of every Stream: read buffering, flowing/paused delivery, async iteration, status
 * and events. A transport subclasses it and implements the `do*` hooks; it reports what the wire
 * did through the `on*` methods (`onData`, `onRemoteCloseWrite`, `onRemoteReset`, `onWritten`).
 */
export abstract class AbstractStream extends EventEmitter implements Stream {
  readonly id: string
  protocol: string
  readonly direction: StreamDirection
  status: StreamStatus = 'open'
  writeStatus: WriteStatus = 'writable'
  remoteWriteStatus: WriteStatus = 'writable'
  writableNeedsDrain = false
  readBufferLength = 0
  private readonly readHighWaterMark: number
  /** Chunks not yet delivered: readQueue[readHead .. length). */
  private readonly readQueue: Array<Uint8Array | undefined> = []
  private readHead = 0
  private paused = false
  private remotePausedByUs = false
  private ended = false
  private closeError: Error | undefined
  private iteratorWaiter: (() => void) | undefined
  private remoteFinWaiters: Array<() => void> = []

  constructor (init: AbstractStreamInit) {
    super()
    this.id = init.id
    this.protocol = init.protocol
    this.direction = init.direction
    this.readHighWaterMark = init.readHighWaterMark ?? DEFAULT_READ_HIGH_WATER_MARK
    // Chunks queued while nobody listened reach the first 'data' listener (emitted before the
    // listener is added, hence the microtask), as they would after resume().
    this.on('newListener', (event: string | symbol) => {
      if (event === 'data') queueMicrotask(() => { this.flushReadQueue() })
    })
  }

  // ---- hooks a transport implements -------------------------------------------------------
  /** Hand `data` to the transport. Return false when the write buffer is now full. */
  protected abstract doSend (data: Uint8Array): boolean
  /** Send FIN after pending data; resolve when pending data was handed to the transport. */
  protected abstract doCloseWrite (): Promise<void>
  /** Send RST and release resources. */
  protected abstract doReset (): void
  /** Stop (true) or restart (false) granting the remote window to send more. */
  protected abstract doSetRemotePaused (paused: boolean): void
  /** Bytes handed to `doSend` not yet written by the transport. */
  abstract get writeBufferLength (): number

  // ---- what the transport reports ---------------------------------------------------------
  /** Data arrived from the remote (may be a view on native memory). */
  onData (chunk: Uint8Array): void {
    if (this.status === 'reset' || this.status === 'aborted' || chunk.byteLength === 0) return
    if (!this.paused && this.queued() === 0 && this.iteratorWaiter === undefined && this.listenerCount('data') > 0) {
      this.emit('data', chunk)
      return
    }
    this.readQueue.push(chunk)
    this.readBufferLength += chunk.byteLength
    if (this.readBufferLength >= this.readHighWaterMark && !this.remotePausedByUs) {
      this.remotePausedByUs = true
      this.doSetRemotePaused(true)
    }
    this.wakeIterator()
    if (!this.paused && this.listenerCount('data') > 0) this.flushReadQueue()
  }

  /** The remote sent FIN. */
  onRemoteCloseWrite (): void {
    if (this.remoteWriteStatus === 'closed') return
    this.remoteWriteStatus = 'closed'
    this.emit('remoteCloseWrite')
    for (const waiter of this.remoteFinWaiters.splice(0)) waiter()
    this.maybeEnd()
    this.maybeClose()
  }

  /** The remote reset the stream, or the connection died (pass the cause). */
  onRemoteReset (err: Error = new StreamResetError(false)): void {
    if (this.status === 'closed' || this.status === 'reset' || this.status === 'aborted') return
    this.finish('reset', err)
  }

  /** The transport wrote buffered bytes and is below its low-water mark again. */
  onDrained (): void {
    if (!this.writableNeedsDrain) return
    this.writableNeedsDrain = false
    this.emit('drain')
  }

  // ---- user API ----------------------------------------------------------------------------
  get readStatus (): ReadStatus {
    if (this.ended || this.status === 'reset' || this.status === 'aborted' || this.status === 'closed') return 'closed'
    return this.paused ? 'paused' : 'readable'
  }

  send (data: Uint8Array): boolean {
    if (this.writeStatus !== 'writable') throw new StreamClosedError()
    if (data.byteLength === 0) return !this.writableNeedsDrain
    const ok = this.doSend(data)
    if (!ok) this.writableNeedsDrain = true
    return ok
  }

  async closeWrite (): Promise<void> {
    if (this.writeStatus !== 'writable') return
    this.writeStatus = 'closing'
    if (this.status === 'open') this.status = 'closing'
    await this.doCloseWrite()
    this.writeStatus = 'closed'
    this.maybeClose()
  }

  async close (): Promise<void> {
    await this.closeWrite()
    if (this.remoteWriteStatus !== 'closed' && this.status !== 'reset' && this.status !== 'aborted') {
      // Discard what the user will not read so the remote is never window-blocked.
      this.discardReadQueue()
      await new Promise<void>(resolve => { this.remoteFinWaiters.push(resolve) })
    }
  }

  reset (err?: Error): void {
    if (this.status === 'closed' || this.status === 'reset' || this.status === 'aborted') return
    this.doReset()
    this.finish('aborted', err ?? new StreamResetError(true))
  }

  pause (): void {
    this.paused = true
  }

  resume (): void {
    this.paused = false
    this.flushReadQueue()
  }

  async onDrain (): Promise<void> {
    if (!this.writableNeedsDrain) return
    await new Promise<void>((resolve, reject) => {
      const onDrain = (): void => { this.off('close', onClose); resolve() }
      const onClose = (err?: Error): void => { this.off('drain', onDrain); reject(err ?? new StreamClosedError()) }
      this.once('drain', onDrain)
      this.once('close', onClose)
    })
  }

  async * [Symbol.asyncIterator] (): AsyncIterator<Uint8Array> {
    while (true) {
      const chunk = this.dequeue()
      if (chunk !== undefined) {
        this.readBufferLength -= chunk.byteLength
        this.maybeUnpauseRemote()
        yield chunk
        continue
      }
      if (this.closeError !== undefined) throw this.closeError
      if (this.remoteWriteStatus === 'closed' || this.status === 'closed') {
        this.maybeEnd()
        return
      }
      await new Promise<void>(resolve => { this.iteratorWaiter = resolve })
    }
  }

  // ---- internals ---------------------------------------------------------------------------
  private wakeIterator (): void {
    const waiter = this.iteratorWaiter
    if (waiter !== undefined) {
      this.iteratorWaiter = undefined
      waiter()
    }
  }

  private flushReadQueue (): void {
    while (!this.paused && this.queued() > 0 && this.listenerCount('data') > 0) {
      const chunk = this.dequeue() as Uint8Array
      this.readBufferLength -= chunk.byteLength
      this.emit('data', chunk)
    }
    this.maybeUnpauseRemote()
    this.maybeEnd()
  }

  private queued (): number {
    return this.readQueue.length - this.readHead
  }

  /** The oldest queued chunk, or undefined: O(1) amortized (see READ_QUEUE_COMPACT_AT). */
  private dequeue (): Uint8Array | undefined {
    if (this.readHead === this.readQueue.length) return undefined
    const chunk = this.readQueue[this.readHead]
    this.readQueue[this.readHead++] = undefined  // the chunk may pin a 1 MiB native slab
    if (this.readHead === this.readQueue.length) {
      this.clearReadQueue()
    } else if (this.readHead >= READ_QUEUE_COMPACT_AT && this.readHead * 2 >= this.readQueue.length) {
      this.readQueue.splice(0, this.readHead)
      this.readHead = 0
    }
    return chunk
  }

  private clearReadQueue (): void {
    this.readQueue.length = 0
    this.readHead = 0
  }

  private discardReadQueue (): void {
    this.clearReadQueue()
    this.readBufferLength = 0
    this.maybeUnpauseRemote()
  }

  private maybeUnpauseRemote (): void {
    if (this.remotePausedByUs && this.readBufferLength < this.readHighWaterMark / 2) {
      this.remotePausedByUs = false
      this.doSetRemotePaused(false)
    }
  }

  private maybeEnd (): void {
    if (this.ended || this.remoteWriteStatus !== 'closed' || this.queued() > 0) return
    this.ended = true
    this.wakeIterator()
    this.emit('end')
  }

  private maybeClose (): void {
    if (this.writeStatus === 'closed' && this.remoteWriteStatus === 'closed' && (this.status === 'open' || this.status === 'closing')) {
      this.finish('closed', undefined)
    }
  }

  private finish (status: StreamStatus, err: Error | undefined): void {
    this.status = status
    this.writeStatus = 'closed'
    this.remoteWriteStatus = 'closed'
    if (err !== undefined) {
      this.closeError = err
      this.clearReadQueue()
      this.readBufferLength = 0
    }
    for (const waiter of this.remoteFinWaiters.splice(0)) waiter()
    this.wakeIterator()
    if (this.writableNeedsDrain) this.writableNeedsDrain = false
    this.emit('close', err)
  }
}
