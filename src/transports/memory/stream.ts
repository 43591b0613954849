/**
 * One half of an in-memory stream pair. Each half owns the queue of what it sent and not yet
 * delivered; delivery runs in a later macrotask (or after the injected latency), so a writer in
 * a tight loop sees `send()` return false and must wait for 'drain'.
 *
 * Backpressure is end to end, as with Yamux windows: when the receiving half's read buffer
 * reaches its high-water mark, AbstractStream calls its `doSetRemotePaused(true)`, which stops
 * the sender's delivery; the sender's queue then fills to its own high-water mark and `send()`
 * returns false. Memory per direction is therefore bounded by the two high-water marks plus one
 * chunk.
 *
 * Buffers: `send()` copies the chunk (the sender may reuse its buffer at once); the receiver owns
 * the copy it is given.
 */
import { AbstractStream, type StreamDirection } from '../../core/stream.ts'
import { StreamResetError } from '../../core/errors.ts'
import type { MemoryConnection } from './connection.ts'

/** A FIN in the send queue. */
const FIN = null

interface Pending { chunk: Uint8Array | typeof FIN, dueAt: number }

export interface MemoryStreamInit {
  id: string
  protocol: string
  direction: StreamDirection
  connection: MemoryConnection
  latencyMs: number
  writeHighWaterMark: number
  writeLowWaterMark: number
  readHighWaterMark?: number
}

export class MemoryStream extends AbstractStream {
  /** The other half; set right after both halves are built. */
  peer!: MemoryStream
  readonly connection: MemoryConnection
  private readonly latencyMs: number
  private readonly writeHighWaterMark: number
  private readonly writeLowWaterMark: number
  private readonly queue: Pending[] = []
  private queuedBytes = 0
  /** The receiving half asked us to stop delivering (its read buffer is full). */
  private remotePaused = false
  private pumpScheduled = false
  private timer: NodeJS.Timeout | undefined
  private finWaiters: Array<() => void> = []
  /** Set when the connection aborts: no per-stream RST is sent, the connection tells the peer. */
  private silentReset = false

  constructor (init: MemoryStreamInit) {
    super({ id: init.id, protocol: init.protocol, direction: init.direction, readHighWaterMark: init.readHighWaterMark })
    this.connection = init.connection
    this.latencyMs = init.latencyMs
    this.writeHighWaterMark = init.writeHighWaterMark
    this.writeLowWaterMark = init.writeLowWaterMark
    this.once('close', () => { this.cleanup() })
  }

  get writeBufferLength (): number {
    return this.queuedBytes
  }

  protected doSend (data: Uint8Array): boolean {
    const chunk = data.slice()
    this.queue.push({ chunk, dueAt: this.dueAt() })
    this.queuedBytes += chunk.byteLength
    this.connection.countSent(chunk.byteLength)
    this.schedulePump()
    return this.queuedBytes < this.writeHighWaterMark
  }

  protected async doCloseWrite (): Promise<void> {
    this.queue.push({ chunk: FIN, dueAt: this.dueAt() })
    this.schedulePump()
    // Resolves once the FIN (and so all data before it) reached the other half, or on reset.
    await new Promise<void>(resolve => { this.finWaiters.push(resolve) })
  }

  protected doReset (): void {
    this.dropQueue()
    if (this.silentReset) return
    const peer = this.peer
    this.connection.schedule(() => { peer.onRemoteReset(new StreamResetError(false)) })
  }

  protected doSetRemotePaused (paused: boolean): void {
    const sender = this.peer
    sender.remotePaused = paused
    if (!paused) sender.schedulePump()
  }

  /** The connection died: end this half with `err` without sending anything to the peer. */
  abortByConnection (err: Error, remote: boolean): void {
    if (remote) {
      this.onRemoteReset(err)
    } else {
      this.silentReset = true
      this.reset(err)
    }
  }

  // ---- delivery ----------------------------------------------------------------------------
  private dueAt (): number {
    return this.latencyMs > 0 ? performance.now() + this.latencyMs : 0
  }

  private schedulePump (): void {
    if (this.pumpScheduled || this.queue.length === 0) return
    this.pumpScheduled = true
    const head = this.queue[0] as Pending
    const wait = head.dueAt === 0 ? 0 : head.dueAt - performance.now()
    if (wait > 0) {
      this.timer = setTimeout(() => { this.pump() }, Math.ceil(wait))
    } else {
      setImmediate(() => { this.pump() })
    }
  }

  private pump (): void {
    this.pumpScheduled = false
    this.timer = undefined
    const peer = this.peer
    while (this.queue.length > 0) {
      const head = this.queue[0] as Pending
      if (head.dueAt !== 0 && head.dueAt > performance.now()) break
      if (head.chunk === FIN) {
        this.queue.shift()
        peer.onRemoteCloseWrite()
        for (const resolve of this.finWaiters.splice(0)) resolve()
        continue
      }
      if (this.remotePaused) break
      this.queue.shift()
      this.queuedBytes -= head.chunk.byteLength
      peer.connection.countReceived(head.chunk.byteLength)
      peer.onData(head.chunk)
    }
    if (this.queuedBytes <= this.writeLowWaterMark) this.onDrained()
    if (!this.remotePaused || this.queue[0]?.chunk === FIN) this.schedulePump()
  }

  private dropQueue (): void {
    this.queue.length = 0
    this.queuedBytes = 0
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }

  private cleanup (): void {
    this.dropQueue()
    for (const resolve of this.finWaiters.splice(0)) resolve()
    this.connection.removeStream(this)
  }
}
