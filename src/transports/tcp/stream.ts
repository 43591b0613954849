/**
 * NativeStream: a Yamux stream of a native TCP connection. Data arrives as views on native slabs
 * (no copy); send() transfers the caller's buffer to native, which encrypts straight from it and
 * reports it written, after which this side drops its reference (docs/buffer-ownership.md).
 */
import { AbstractStream } from '../../core/stream.ts'
import type { NativeHost } from '../../native/index.ts'
import { WRITE_HIGH_WATER_MARK, WRITE_LOW_WATER_MARK } from './constants.ts'

export interface NativeStreamInit {
  host: NativeHost
  connId: number
  handle: number
  protocol: string
  direction: 'inbound' | 'outbound'
  protoIndex: number
  readHighWaterMark?: number
  writeHighWaterMark?: number
}

export class NativeStream extends AbstractStream {
  readonly handle: number
  protoIndex: number
  private readonly host: NativeHost
  private readonly connId: number
  private readonly highWater: number
  private readonly lowWater: number
  /** Buffers handed to native and not yet reported written (kept referenced: transferred mode). */
  private readonly pending: Uint8Array[] = []
  private pendingHead = 0
  private pendingHeadOffset = 0
  private unwritten = 0
  private writeClosedWaiters: Array<() => void> = []
  private writeClosed = false
  /** Native forgot the stream: it holds none of our buffers any more. */
  released = false

  constructor (init: NativeStreamInit) {
    super({ id: `${init.connId}/${init.handle}`, protocol: init.protocol, direction: init.direction, readHighWaterMark: init.readHighWaterMark })
    this.host = init.host
    this.connId = init.connId
    this.handle = init.handle
    this.protoIndex = init.protoIndex
    this.highWater = init.writeHighWaterMark ?? WRITE_HIGH_WATER_MARK
    this.lowWater = Math.floor(this.highWater / 4) || WRITE_LOW_WATER_MARK
  }

  get writeBufferLength (): number {
    return this.unwritten
  }

  protected doSend (data: Uint8Array): boolean {
    this.host.send(this.connId, this.handle, data)  // validates first: throws before any state changes
    this.pending.push(data)
    this.unwritten += data.byteLength
    return this.unwritten < this.highWater
  }

  protected async doCloseWrite (): Promise<void> {
    if (this.writeClosed || this.released) return
    this.host.closeWrite(this.connId, this.handle)
    await new Promise<void>(resolve => { this.writeClosedWaiters.push(resolve) })
  }

  protected doReset (): void {
    this.host.reset(this.connId, this.handle)
  }

  protected doSetRemotePaused (paused: boolean): void {
    if (paused) this.host.pause(this.connId, this.handle)
    else this.host.resume(this.connId, this.handle)
  }

  // ---- from the connection's record dispatch --------------------------------------------------
  /** Native encrypted `bytes` more of our buffers: drop the ones fully covered. */
  written (bytes: number): void {
    this.unwritten -= bytes
    let n = bytes
    while (n > 0 && this.pendingHead < this.pending.length) {
      const head = this.pending[this.pendingHead] as Uint8Array
      const left = head.byteLength - this.pendingHeadOffset
      if (n >= left) {
        n -= left
        this.pending[this.pendingHead++] = EMPTY
        this.pendingHeadOffset = 0
      } else {
        this.pendingHeadOffset += n
        n = 0
      }
    }
    if (this.pendingHead > 1024 || this.pendingHead === this.pending.length) {
      this.pending.splice(0, this.pendingHead)
      this.pendingHead = 0
    }
    if (this.unwritten <= this.lowWater) this.onDrained()
  }

  writeClosedByNative (): void {
    this.writeClosed = true
    for (const w of this.writeClosedWaiters.splice(0)) w()
  }

  /** Native holds nothing of ours: drop every buffer and settle waiters. */
  releasedByNative (): void {
    this.released = true
    this.pending.length = 0
    this.pendingHead = 0
    this.pendingHeadOffset = 0
    this.unwritten = 0
    this.writeClosedByNative()
  }
}

const EMPTY = new Uint8Array(0)
