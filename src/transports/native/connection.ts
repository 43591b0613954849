/**
 * NativeConnectionBase: what a connection of the native I/O threads is on this side, whatever its
 * transport. TCP (multistream /noise, Noise XX, Yamux) and QUIC (libp2p TLS, QUIC streams) send
 * the same records (ConnectionSink) and hand out the same NativeStream objects; a subclass only
 * names its transport, encryption and muxer (src/transports/tcp/connection.ts, quic/connection.ts).
 */
import { EventEmitter } from 'node:events'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Connection, ConnectionCounters, ConnectionDirection, ConnectionStatus, ConnectionTimeline, OpenStreamOptions } from '../../core/transport.ts'
import type { Stream } from '../../core/stream.ts'
import { AbortError, ConnectionClosedError, InvalidArgumentError } from '../../core/errors.ts'
import type { PeerId } from '../../identity/peer-id.ts'
import type { ConnInfo, ConnectionSink, NativeHost } from '../../native/index.ts'
import { errorFromCode, protocol } from '../../native/index.ts'
import { ipPortToMultiaddr, type IpTransport } from '../../utils/multiaddr.ts'
import { NativeStream } from '../tcp/stream.ts'

const { Code, ConnCounter } = protocol

export interface NativeConnectionBaseInit {
  host: NativeHost
  info: ConnInfo
  remotePeer: PeerId
  /**
   * The address form of remoteAddr and localAddr, which are built from info's hosts and ports on
   * first read: a Multiaddr costs microseconds to make (a string parsed into components and bytes),
   * the server's remote port differs on every connection (a cache miss), and a connection whose
   * addresses nobody reads should not pay for them on its setup path.
   */
  addrTransport: IpTransport
  openedAt: number
  readHighWaterMark?: number
  writeHighWaterMark?: number
  onClose: (conn: NativeConnectionBase) => void
}

/** What differs per transport: the id prefix and the limits (each transport's constants.ts). */
export interface NativeConnectionKind {
  /** Prefix of Connection.id: 'tcp' gives ids such as tcp-1f. */
  idPrefix: string
  /** Graceful close waits this long for open streams to finish. */
  closeTimeoutMs: number
  /** Inbound streams held while there is no 'stream' listener; beyond it they are reset. */
  maxUnclaimedInboundStreams: number
}

interface PendingOpen {
  protocols: readonly string[]
  resolve: (s: Stream) => void
  reject: (err: Error) => void
  cleanup: () => void
}

export abstract class NativeConnectionBase extends EventEmitter implements Connection, ConnectionSink {
  readonly id: string
  readonly remotePeer: PeerId
  readonly direction: ConnectionDirection
  abstract readonly transport: string
  abstract readonly encryption: string
  abstract readonly muxer: string
  status: ConnectionStatus = 'open'
  readonly timeline: ConnectionTimeline
  readonly connId: number
  private readonly host: NativeHost
  private readonly slot: number
  private readonly handle: ConnInfo['handle']
  private readonly info: ConnInfo
  private readonly addrTransport: IpTransport
  private remoteAddrCache: Multiaddr | undefined
  private localAddrCache: Multiaddr | undefined | null = null
  private readonly streamMap = new Map<number, NativeStream>()
  private readonly opening = new Map<number, PendingOpen>()
  /**
   * Inbound streams that arrived while no 'stream' listener existed, oldest first (at most
   * kind.maxUnclaimedInboundStreams). A native batch can carry "connection up" and "inbound stream"
   * together, so the stream would otherwise be emitted before dial()'s caller could listen.
   */
  private unclaimed: NativeStream[] = []
  private unclaimedFlushQueued = false
  private readonly readHighWaterMark: number | undefined
  private readonly writeHighWaterMark: number | undefined
  private readonly onCloseCb: (conn: NativeConnectionBase) => void
  private readonly kind: NativeConnectionKind
  private finalCounters: ConnectionCounters | undefined
  private closePromise: Promise<void> | undefined
  private closedResolve: (() => void) | undefined

  constructor (init: NativeConnectionBaseInit, kind: NativeConnectionKind) {
    super()
    this.kind = kind
    this.host = init.host
    this.connId = init.info.id
    this.id = `${kind.idPrefix}-${init.info.id.toString(16)}`
    this.slot = init.info.slot
    this.handle = init.info.handle
    this.remotePeer = init.remotePeer
    this.info = init.info
    this.addrTransport = init.addrTransport
    this.direction = init.info.outbound ? 'outbound' : 'inbound'
    this.timeline = { open: init.openedAt, upgraded: Date.now() }
    this.readHighWaterMark = init.readHighWaterMark
    this.writeHighWaterMark = init.writeHighWaterMark
    this.onCloseCb = init.onClose
    // 'newListener' comes before the listener is added: deliver on the next microtask.
    this.on('newListener', (event: string | symbol) => {
      if (event === 'stream' && this.unclaimed.length > 0 && !this.unclaimedFlushQueued) {
        this.unclaimedFlushQueued = true
        queueMicrotask(() => { this.deliverUnclaimed() })
      }
    })
  }

  get remoteAddr (): Multiaddr {
    if (this.remoteAddrCache === undefined) this.remoteAddrCache = ipPortToMultiaddr(this.info.remoteHost, this.info.remotePort, this.addrTransport)
    return this.remoteAddrCache
  }

  /** undefined where native did not learn the local address. */
  get localAddr (): Multiaddr | undefined {
    if (this.localAddrCache === null) {
      this.localAddrCache = this.info.localHost !== '' ? ipPortToMultiaddr(this.info.localHost, this.info.localPort, this.addrTransport) : undefined
    }
    return this.localAddrCache
  }

  get streams (): readonly Stream[] {
    return [...this.streamMap.values()].filter(s => s.status === 'open' || s.status === 'closing')
  }

  /** Read from native memory without a call (the I/O thread updates them). */
  counters (): ConnectionCounters {
    if (this.finalCounters !== undefined) return { ...this.finalCounters }
    const c = this.host.counters()
    if (c === undefined) return { bytesIn: 0, bytesOut: 0, framesIn: 0, framesOut: 0, errors: 0 }
    const base = this.slot * c.perConnection
    const t = c.connections
    return {
      bytesIn: t[base + ConnCounter.bytesIn] as number,
      bytesOut: t[base + ConnCounter.bytesOut] as number,
      framesIn: t[base + ConnCounter.framesIn] as number,
      framesOut: t[base + ConnCounter.framesOut] as number,
      errors: t[base + ConnCounter.errors] as number
    }
  }

  async openStream (protocols: string | readonly string[], options: OpenStreamOptions = {}): Promise<Stream> {
    const list = typeof protocols === 'string' ? [protocols] : [...protocols]
    if (list.length === 0) throw new InvalidArgumentError('openStream needs at least one protocol')
    for (const p of list) {
      if (typeof p !== 'string' || p.length === 0 || p.length > 1000 || p.includes('\n')) {
        throw new InvalidArgumentError(`invalid protocol id ${JSON.stringify(p)}`)
      }
    }
    if (this.status !== 'open') throw new ConnectionClosedError('connection is not open')
    options.signal?.throwIfAborted()
    const handle = this.host.newId()
    this.host.openStream(this.connId, handle, list)
    if (list.length === 1) {
      // Optimistic multistream-select: the stream is usable at once; data queued now follows the
      // proposal on the wire. A refusal later resets it with UnsupportedProtocolError.
      const stream = this.newStream(handle, list[0] as string, 'outbound', 0xffffffff)
      this.opening.set(handle, { protocols: list, resolve: () => {}, reject: (err) => { stream.onRemoteReset(err) }, cleanup: () => {} })
      return stream
    }
    return await new Promise<Stream>((resolve, reject) => {
      const signal = options.signal
      const onAbort = (): void => {
        this.opening.delete(handle)
        this.host.reset(this.connId, handle)
        reject(new AbortError('stream open aborted'))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.opening.set(handle, { protocols: list, resolve, reject, cleanup: () => signal?.removeEventListener('abort', onAbort) })
    })
  }

  private newStream (handle: number, proto: string, direction: 'inbound' | 'outbound', protoIndex: number): NativeStream {
    const stream = new NativeStream({
      host: this.host,
      connId: this.connId,
      handle,
      protocol: proto,
      direction,
      protoIndex,
      readHighWaterMark: this.readHighWaterMark,
      writeHighWaterMark: this.writeHighWaterMark
    })
    this.streamMap.set(handle, stream)
    return stream
  }

  async close (): Promise<void> {
    if (this.closePromise !== undefined) return await this.closePromise
    this.closePromise = (async () => {
      if (this.status === 'closed') return
      this.status = 'closing'
      const open = [...this.streamMap.values()].filter(s => s.status === 'open' || s.status === 'closing')
      if (open.length > 0) {
        let timer: NodeJS.Timeout | undefined
        await Promise.race([
          Promise.allSettled(open.map(async s => { await s.close() })),
          new Promise<void>(resolve => { timer = setTimeout(resolve, this.kind.closeTimeoutMs) })
        ])
        clearTimeout(timer)
      }
      if ((this.status as ConnectionStatus) === 'closed') return
      const closed = new Promise<void>(resolve => { this.closedResolve = resolve })
      this.host.closeConnection(this.connId, true)
      await closed
    })()
    await this.closePromise
  }

  abort (err: Error): void {
    if (this.status === 'closed') return
    this.host.closeConnection(this.connId, false)
    this.finish(err, true)
  }

  /** The transport stopped the native host (threads joined): nothing native holds our buffers. */
  shutdown (): void {
    if (this.status === 'closed') {
      this.onClosed(Code.shutdown)
      return
    }
    this.finish(new ConnectionClosedError('transport closed'), false)
  }

  // ---- ConnectionSink ----------------------------------------------------------------------------
  onStreamInbound (handle: number, proto: string, protoIndex: number): void {
    const stream = this.newStream(handle, proto, 'inbound', protoIndex)
    if (this.unclaimed.length === 0 && this.listenerCount('stream') > 0) {
      this.emit('stream', stream)
      return
    }
    // No listener yet, or earlier streams still wait for delivery: keep the order.
    if (this.unclaimed.length >= this.kind.maxUnclaimedInboundStreams) {
      stream.reset()
      return
    }
    this.unclaimed.push(stream)
  }

  /** Hands the held inbound streams to the listeners, oldest first, while any listener remains. */
  private deliverUnclaimed (): void {
    this.unclaimedFlushQueued = false
    while (this.unclaimed.length > 0 && this.listenerCount('stream') > 0 && this.status !== 'closed') {
      const stream = this.unclaimed.shift() as NativeStream
      // A stream the remote reset meanwhile is gone; one it finished still holds its data.
      if (stream.status === 'reset' || stream.status === 'aborted') continue
      this.emit('stream', stream)
    }
  }

  onStreamOpened (handle: number, proto: string, protoIndex: number): void {
    const pending = this.opening.get(handle)
    if (pending === undefined) return
    this.opening.delete(handle)
    pending.cleanup()
    const existing = this.streamMap.get(handle)
    if (existing !== undefined) {
      existing.protoIndex = protoIndex  // optimistic: already handed out
      return
    }
    pending.resolve(this.newStream(handle, proto, 'outbound', protoIndex))
  }

  onStreamOpenFailed (handle: number, code: number): void {
    const pending = this.opening.get(handle)
    this.opening.delete(handle)
    const err = errorFromCode(code, { protocols: pending?.protocols, established: true })
    pending?.cleanup()
    pending?.reject(err)
    const stream = this.streamMap.get(handle)
    if (stream !== undefined) {
      stream.onRemoteReset(err)
      stream.releasedByNative()
      this.streamMap.delete(handle)
    }
  }

  onData (handle: number, data: Uint8Array): void {
    this.streamMap.get(handle)?.onData(data)
  }

  onRemoteFin (handle: number): void {
    this.streamMap.get(handle)?.onRemoteCloseWrite()
  }

  onRemoteReset (handle: number, code: number): void {
    const stream = this.streamMap.get(handle)
    if (stream === undefined) return
    const pending = this.opening.get(handle)
    this.opening.delete(handle)
    this.streamMap.delete(handle)
    stream.releasedByNative()
    stream.onRemoteReset(errorFromCode(code, { protocols: pending?.protocols, established: true }))
  }

  onWritten (handle: number, bytes: number): void {
    this.streamMap.get(handle)?.written(bytes)
  }

  onWriteClosed (handle: number): void {
    this.streamMap.get(handle)?.writeClosedByNative()
  }

  onStreamReleased (handle: number): void {
    const stream = this.streamMap.get(handle)
    if (stream === undefined) return
    this.streamMap.delete(handle)
    stream.releasedByNative()
  }

  onClosed (code: number): void {
    if (this.status === 'closed') {
      // After a local abort: native has now let go of every send buffer.
      for (const [, stream] of this.streamMap) stream.releasedByNative()
      this.streamMap.clear()
      return
    }
    const graceful = code === Code.localClose
    this.finish(graceful ? undefined : errorFromCode(code, { established: true }), false)
  }

  private finish (err: Error | undefined, local: boolean): void {
    if (this.status === 'closed') return
    this.finalCounters = this.counters()
    this.status = 'closed'
    this.timeline.close = Date.now()
    const streamErr = err ?? new ConnectionClosedError()
    for (const [, stream] of this.streamMap) {
      // After a local abort native may still be reading send buffers until its close record:
      // keep them referenced until then (onClosed). Otherwise native is already done.
      if (!local) stream.releasedByNative()
      stream.onRemoteReset(new ConnectionClosedError('connection closed', { cause: streamErr }))
    }
    if (!local) this.streamMap.clear()
    for (const [, pending] of this.opening) {
      pending.cleanup()
      pending.reject(new ConnectionClosedError('connection closed', { cause: streamErr }))
    }
    this.opening.clear()
    this.unclaimed = []
    // Closed natively already, or by abort()'s batched command: the handle posts nothing more.
    this.handle.detach()
    this.closedResolve?.()
    this.onCloseCb(this)
    this.emit('close', err)
  }
}
