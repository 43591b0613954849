/**
 * The native TCP transport: `tcp(options)` gives a TransportFactory. Sockets, Noise, Yamux and
 * multistream-select run on native I/O threads (native/io); this module turns multiaddrs into
 * native commands and native records into Connection / Stream objects.
 *
 * Addresses: `/ip4/<ip>/tcp/<port>` and `/ip6/<ip>/tcp/<port>`, optionally ending in `/p2p/<id>`
 * (a dial then fails with PeerIdMismatchError unless the remote authenticates as that peer).
 */
import { EventEmitter } from 'node:events'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Connection, DialOptions, Listener, Transport, TransportContext, TransportFactory } from '../../core/transport.ts'
import { AbortError, InvalidArgumentError } from '../../core/errors.ts'
import { PeerId } from '../../identity/peer-id.ts'
import { buildNoisePayload, generateNoiseStaticKeyPair } from '../../identity/index.ts'
import { ipPortToMultiaddr, multiaddrToIpPort, splitPeerId } from '../../utils/multiaddr.ts'
import { NativeHost, errorFromCode, protocol } from '../../native/index.ts'
import type { AddonHandle, ConnInfo, ConnectionSink, ListenerSink } from '../../native/index.ts'
import { NativeConnection } from './connection.ts'
import { DEFAULT_IO_THREADS, DEFAULT_MAX_STREAM_WINDOW, YAMUX } from './constants.ts'
import { logger } from '../../log/index.ts'

export { NativeConnection } from './connection.ts'
export { NativeStream } from './stream.ts'

const log = logger('transport:tcp')

export interface TcpOptions {
  /** I/O threads (default: LIBP2P_NATIVE_THREADS, else 1). Connections are spread round-robin. */
  ioThreads?: number
  /** Yamux per-stream receive window ceiling in bytes (default 16 MiB). */
  maxStreamWindow?: number
  /** When queued commands are submitted to native: 'microtask' (default) or 'immediate'. */
  flush?: 'microtask' | 'immediate'
  /** Per-stream read buffer before the remote is paused (default: src/core/stream.ts). */
  readHighWaterMark?: number
  /** Per-stream unwritten bytes above which send() returns false (default 4 MiB). */
  writeHighWaterMark?: number
  /** A stream whose protocol is not agreed within this time is reset (default 10 s). */
  streamNegotiationTimeoutMs?: number
}

export function tcp (options: TcpOptions = {}): TransportFactory {
  return (context) => new TcpTransport(context, options)
}

function threadsFromEnv (): number | undefined {
  const v = process.env.LIBP2P_NATIVE_THREADS
  if (v === undefined || v === '') return undefined
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new InvalidArgumentError(`LIBP2P_NATIVE_THREADS must be an integer from 1 to 64, got ${v}`)
  return n
}

export class TcpTransport implements Transport {
  readonly name = 'tcp'
  private readonly context: TransportContext
  private readonly options: TcpOptions
  private host: NativeHost | undefined
  private readonly connections = new Set<NativeConnection>()
  private readonly listeners = new Set<TcpListener>()
  private readonly onProtocolsChange = (): void => { this.host?.setProtocols(this.context.protocols.list()) }
  private closed = false

  constructor (context: TransportContext, options: TcpOptions) {
    this.context = context
    this.options = options
    if (options.ioThreads !== undefined && (!Number.isInteger(options.ioThreads) || options.ioThreads < 1 || options.ioThreads > 64)) {
      throw new InvalidArgumentError('ioThreads must be an integer from 1 to 64')
    }
    if (options.flush !== undefined && options.flush !== 'microtask' && options.flush !== 'immediate') {
      throw new InvalidArgumentError("flush must be 'microtask' or 'immediate'")
    }
    for (const k of ['readHighWaterMark', 'writeHighWaterMark'] as const) {
      const v = options[k]
      if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new InvalidArgumentError(`${k} must be a positive integer`)
    }
  }

  /** The native host, started on first use (so a transport that never dials spawns no thread). */
  private native (): NativeHost {
    if (this.closed) throw new AbortError('transport is closed')
    if (this.host !== undefined) return this.host
    const statics = generateNoiseStaticKeyPair()
    const payload = buildNoisePayload(this.context.privateKey, statics.publicKey, [YAMUX])
    this.host = new NativeHost({
      threads: this.options.ioThreads ?? threadsFromEnv() ?? DEFAULT_IO_THREADS,
      staticSecret: statics.secretKey,
      staticPublic: statics.publicKey,
      payload,
      maxStreamWindow: this.options.maxStreamWindow ?? DEFAULT_MAX_STREAM_WINDOW,
      ...(this.options.streamNegotiationTimeoutMs !== undefined ? { streamNegotiationTimeoutMs: this.options.streamNegotiationTimeoutMs } : {}),
      flush: this.options.flush ?? 'microtask'
    })
    this.host.setProtocols(this.context.protocols.list())
    this.context.protocols.on('change', this.onProtocolsChange)
    return this.host
  }

  /** Native counters of every connection and protocol (views on native memory). */
  nativeCounters (): ReturnType<NativeHost['counters']> {
    return this.host?.counters()
  }

  /** Receive slabs allocated now (1 MiB each): in use, held by JS views, or pooled. */
  slabsLive (): number {
    return this.host?.slabsLive() ?? 0
  }

  /** Stream bytes, streams and errors per negotiated protocol, summed over the I/O threads. */
  protocolCounters (): ReturnType<NativeHost['protocolCounters']> {
    return this.host?.protocolCounters() ?? new Map()
  }

  canDial (addr: Multiaddr): boolean {
    const ip = multiaddrToIpPort(addr)
    return ip !== undefined && ip.transport === 'tcp' && addrIsPlainTcp(addr)
  }

  canListen (addr: Multiaddr): boolean {
    return this.canDial(addr)
  }

  async listen (addr: Multiaddr): Promise<Listener> {
    const ip = multiaddrToIpPort(splitPeerId(addr).addr)
    if (ip === undefined || ip.transport !== 'tcp') throw new InvalidArgumentError(`cannot listen on ${addr.toString()}: not /ip4|ip6/.../tcp/...`)
    const host = this.native()
    const listener = new TcpListener(this, host, this.context)
    this.listeners.add(listener)
    listener.once('close', () => { this.listeners.delete(listener) })
    await listener.start(ip.ip, ip.port)
    return listener
  }

  async dial (addr: Multiaddr, options: DialOptions = {}): Promise<Connection> {
    const { addr: base, peerId: addrPeer } = splitPeerId(addr)
    const ip = multiaddrToIpPort(base)
    if (ip === undefined || ip.transport !== 'tcp') throw new InvalidArgumentError(`cannot dial ${addr.toString()}: not /ip4|ip6/.../tcp/...`)
    if (ip.port === 0) throw new InvalidArgumentError('cannot dial port 0')
    const expected = options.expectedPeer ?? addrPeer
    if (options.expectedPeer !== undefined && addrPeer !== undefined && !options.expectedPeer.equals(addrPeer)) {
      throw new InvalidArgumentError(`expectedPeer ${options.expectedPeer.toString()} differs from the address's /p2p/ ${addrPeer.toString()}`)
    }
    options.signal?.throwIfAborted()
    const host = this.native()
    const id = host.newId()
    const openedAt = Date.now()
    host.retain()
    return await new Promise<Connection>((resolve, reject) => {
      let settled = false
      const signal = options.signal
      const onAbort = (): void => {
        if (settled) return
        settled = true
        host.closeConnection(id, false)
        host.release()
        reject(new AbortError('dial aborted'))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      host.dial(id, ip.ip, ip.port, expected?.bytes, {
        onOpen: (info: ConnInfo): ConnectionSink => {
          signal?.removeEventListener('abort', onAbort)
          const conn = this.adopt(host, info, openedAt)
          if (settled) {
            conn.abort(new AbortError('dial aborted'))
            return conn
          }
          settled = true
          host.release()  // the connection holds its own reference now
          resolve(conn)
          return conn
        },
        onFailed: (code: number, remotePeer: Uint8Array | undefined) => {
          signal?.removeEventListener('abort', onAbort)
          if (settled) return
          settled = true
          host.release()
          let actual: string | undefined
          try { actual = remotePeer !== undefined && remotePeer.byteLength > 0 ? PeerId.fromBytes(remotePeer).toString() : undefined } catch { actual = undefined }
          reject(errorFromCode(code, { expectedPeer: expected?.toString(), actualPeer: actual }))
        }
      })
    })
  }

  /** @internal A native connection became ready (dialed or accepted). */
  adopt (host: NativeHost, info: ConnInfo, openedAt: number): NativeConnection {
    const remoteAddr = ipPortToMultiaddr(info.remoteHost, info.remotePort)
    const localAddr = info.localHost !== '' ? ipPortToMultiaddr(info.localHost, info.localPort) : undefined
    const conn = new NativeConnection({
      host,
      info,
      remotePeer: PeerId.fromBytes(info.remotePeer),
      remoteAddr,
      localAddr,
      openedAt,
      readHighWaterMark: this.options.readHighWaterMark,
      writeHighWaterMark: this.options.writeHighWaterMark,
      onClose: (c) => {
        if (this.connections.delete(c)) host.release()
      }
    })
    this.connections.add(conn)
    host.retain()
    if (log.enabled.debug) log.debug('connection open', { id: conn.id, peer: conn.remotePeer.toString(), direction: conn.direction, earlyMuxer: info.earlyMuxer })
    return conn
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.context.protocols.off('change', this.onProtocolsChange)
    const host = this.host
    if (host === undefined) return
    host.close()  // joins the I/O threads: nothing native reads our buffers afterwards
    for (const conn of [...this.connections]) conn.shutdown()
    for (const l of [...this.listeners]) l.shutdown()
  }
}

function addrIsPlainTcp (addr: Multiaddr): boolean {
  // ip/tcp, optionally followed by /p2p/<id> only.
  const n = addr.getComponents().length
  return n === 2 || (n === 3 && splitPeerId(addr).peerId !== undefined)
}

class TcpListener extends EventEmitter implements Listener, ListenerSink {
  private readonly transport: TcpTransport
  private readonly host: NativeHost
  private readonly id: number
  private bound: Multiaddr[] = []
  private handle: AddonHandle | undefined
  private startWaiter: { resolve: () => void, reject: (err: Error) => void } | undefined
  private closeWaiter: (() => void) | undefined
  private closed = false

  constructor (transport: TcpTransport, host: NativeHost, _context: TransportContext) {
    super()
    this.transport = transport
    this.host = host
    this.id = host.newId()
  }

  async start (ip: string, port: number): Promise<void> {
    this.host.retain()
    await new Promise<void>((resolve, reject) => {
      this.startWaiter = { resolve, reject }
      this.host.listen(this.id, ip, port, this)
    })
  }

  addrs (): Multiaddr[] {
    return [...this.bound]
  }

  async close (): Promise<void> {
    if (this.closed) return
    await new Promise<void>(resolve => {
      this.closeWaiter = resolve
      this.handle?.close()
      if (this.handle === undefined) this.host.closeListener(this.id)
    })
  }

  shutdown (): void {
    if (this.closed) return
    this.closed = true
    this.startWaiter?.reject(errorFromCode(protocol.Code.shutdown))
    this.startWaiter = undefined
    this.closeWaiter?.()
    this.emit('close')
  }

  onListening (host: string, port: number, _family: number, handle: AddonHandle): void {
    this.handle = handle
    this.bound = [ipPortToMultiaddr(host, port)]
    this.startWaiter?.resolve()
    this.startWaiter = undefined
  }

  onListenFailed (code: number): void {
    this.closed = true
    this.host.release()
    this.startWaiter?.reject(errorFromCode(code))
    this.startWaiter = undefined
    this.emit('close')
  }

  onClosed (): void {
    if (this.closed) return
    this.closed = true
    this.host.release()
    this.closeWaiter?.()
    this.emit('close')
  }

  onInbound (info: ConnInfo): ConnectionSink {
    const conn = this.transport.adopt(this.host, info, Date.now())
    this.emit('connection', conn)
    return conn
  }

  onInboundFailed (code: number): void {
    const err = errorFromCode(code)
    // 'error' without a handler would throw: an inbound failure must never take the process down.
    if (this.listenerCount('error') > 0) this.emit('error', err)
    else if (log.enabled.debug) log.debug('inbound connection failed', { err })
  }
}
