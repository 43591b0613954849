/**
 * NativeTransportBase: the plumbing every transport of the native I/O threads shares, whatever its
 * wire protocol: options checked alike, the NativeHost started on first use and kept in step with
 * the node's protocol table, dial/listen turned into native commands and their records into
 * connections, and shutdown. TCP (src/transports/tcp) and QUIC (src/transports/quic) subclass it
 * and keep only their own parts: the address form, how the host is configured, which native
 * command dials or listens, and their connection class.
 */
import { EventEmitter } from 'node:events'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Connection, DialOptions, Listener, Transport, TransportContext } from '../../core/transport.ts'
import { AbortError, InvalidArgumentError } from '../../core/errors.ts'
import { PeerId } from '../../identity/peer-id.ts'
import { ipPortToMultiaddr, multiaddrToIpPort, splitPeerId, type IpPort } from '../../utils/multiaddr.ts'
import { NativeHost, errorFromCode, protocol } from '../../native/index.ts'
import type { AddonHandle, ConnInfo, ConnectionSink, DialSink, ListenerSink } from '../../native/index.ts'
import type { Fields, Logger } from '../../log/index.ts'
import type { NativeConnectionBase, NativeConnectionBaseInit } from './connection.ts'

/**
 * What dial() reads from an address (its ip and port, and the PeerId of a trailing /p2p/), parsed
 * once per Multiaddr object: multiaddrs are immutable and a dialer dials the same objects again and
 * again (a peer store's addresses, a reconnect). Parsing took ~28 us of each dial's ~45 us of JS
 * before its native command in the setup bench's CPU profile (base58 PeerId decode, a new
 * Multiaddr without /p2p/), on the setup's critical path. Weak keys: the entries live as long as
 * their addresses.
 */
const dialTargets = new WeakMap<Multiaddr, { ip: IpPort | undefined, peerId: PeerId | undefined }>()

function dialTarget (addr: Multiaddr): { ip: IpPort | undefined, peerId: PeerId | undefined } {
  let t = dialTargets.get(addr)
  if (t === undefined) {
    const { addr: base, peerId } = splitPeerId(addr)
    t = { ip: multiaddrToIpPort(base), peerId }
    dialTargets.set(addr, t)
  }
  return t
}

/** Most I/O threads a host may start (the range LIBP2P_NATIVE_THREADS and ioThreads accept; 0 = inline). */
const MAX_IO_THREADS = 64

/** The options every native transport takes. */
export interface NativeTransportOptions {
  /**
   * I/O threads (default: LIBP2P_NATIVE_THREADS, else 1). TCP spreads connections round-robin;
   * each QUIC listener's connections stay on its thread. 0 is inline mode: the same I/O loop runs
   * on the JS thread, driven by Node's event loop (fewer thread wake-ups per round trip, one busy
   * thread instead of two; see docs/design/native-core.md).
   */
  ioThreads?: number
  /** When queued commands are submitted to native: 'microtask' (default) or 'immediate'. */
  flush?: 'microtask' | 'immediate'
  /** Per-stream read buffer before the remote is paused (default: src/core/stream.ts). */
  readHighWaterMark?: number
  /**
   * Per-stream bytes not yet written (TCP) or not yet acknowledged by the peer (QUIC) above which
   * send() returns false (default 4 MiB).
   */
  writeHighWaterMark?: number
}

/** What a native transport is: its name, the address form it takes, its defaults and logger. */
export interface NativeTransportKind {
  /** Transport.name, and the last protocol of its addresses ('tcp' or 'quic-v1'). */
  name: 'tcp' | 'quic-v1'
  /** Components of an address without /p2p/: ip/tcp is 2, ip/udp/quic-v1 is 3. */
  addrComponents: number
  /** The address form, for error messages: '/ip4|ip6/.../tcp/...'. */
  addrForm: string
  defaultIoThreads: number
  log: Logger
}

function threadsFromEnv (): number | undefined {
  const v = process.env.LIBP2P_NATIVE_THREADS
  if (v === undefined || v === '') return undefined
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0 || n > MAX_IO_THREADS) throw new InvalidArgumentError(`LIBP2P_NATIVE_THREADS must be an integer from 0 (inline) to ${MAX_IO_THREADS}, got ${v}`)
  return n
}

export abstract class NativeTransportBase<C extends NativeConnectionBase, O extends NativeTransportOptions> implements Transport {
  readonly name: 'tcp' | 'quic-v1'
  protected readonly context: TransportContext
  protected readonly options: O
  private readonly kind: NativeTransportKind
  private host: NativeHost | undefined
  private readonly connections = new Set<C>()
  private readonly listeners = new Set<NativeListener<C>>()
  private readonly onProtocolsChange = (): void => { this.host?.setProtocols(this.context.protocols.list()) }
  private closed = false

  constructor (context: TransportContext, options: O, kind: NativeTransportKind) {
    this.context = context
    this.options = options
    this.kind = kind
    this.name = kind.name
    if (options.ioThreads !== undefined && (!Number.isInteger(options.ioThreads) || options.ioThreads < 0 || options.ioThreads > MAX_IO_THREADS)) {
      throw new InvalidArgumentError(`ioThreads must be an integer from 0 (inline) to ${MAX_IO_THREADS}`)
    }
    if (options.flush !== undefined && options.flush !== 'microtask' && options.flush !== 'immediate') {
      throw new InvalidArgumentError("flush must be 'microtask' or 'immediate'")
    }
    for (const k of ['readHighWaterMark', 'writeHighWaterMark'] as const) {
      const v = options[k]
      if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new InvalidArgumentError(`${k} must be a positive integer`)
    }
  }

  /** A new, configured NativeHost with this many I/O threads (its protocols are set by the caller). */
  protected abstract createHost (threads: number): NativeHost
  /** Starts the native listener `id` (host.listen or host.quicListen). */
  protected abstract startListen (host: NativeHost, id: number, ip: string, port: number, sink: ListenerSink): void
  /** Starts the native dial `id` (host.dial or host.quicDial). */
  protected abstract startDial (host: NativeHost, id: number, ip: string, port: number, expectedPeer: Uint8Array | undefined, sink: DialSink): void
  protected abstract newConnection (init: NativeConnectionBaseInit): C
  /**
   * Gives `host` the libp2p TLS certificate (QUIC, and TCP's /tls/1.0.0): native makes the
   * ephemeral key, the host key signs it here and never leaves TypeScript.
   */
  protected installTlsCertificate (host: NativeHost): void {
    const key = this.context.privateKey
    host.setQuicCertificate(key.publicKey.toProtobuf(), (message) => key.sign(message))
  }

  /** Fields of the 'connection open' debug line beyond id, peer and direction. */
  protected connectionLogFields (_conn: C): Fields {
    return {}
  }

  /** The native host, started on first use (so a transport that never dials spawns no thread). */
  private native (): NativeHost {
    if (this.closed) throw new AbortError('transport is closed')
    if (this.host !== undefined) return this.host
    const host = this.createHost(this.options.ioThreads ?? threadsFromEnv() ?? this.kind.defaultIoThreads)
    host.setProtocols(this.context.protocols.list())
    this.context.protocols.on('change', this.onProtocolsChange)
    this.host = host
    return host
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
    if (ip === undefined || ip.transport !== this.kind.name) return false
    // The transport's components, optionally followed by /p2p/<id> only.
    const n = addr.getComponents().length
    return n === this.kind.addrComponents || (n === this.kind.addrComponents + 1 && splitPeerId(addr).peerId !== undefined)
  }

  canListen (addr: Multiaddr): boolean {
    return this.canDial(addr)
  }

  async listen (addr: Multiaddr): Promise<Listener> {
    const ip = multiaddrToIpPort(splitPeerId(addr).addr)
    if (ip === undefined || ip.transport !== this.kind.name) throw new InvalidArgumentError(`cannot listen on ${addr.toString()}: not ${this.kind.addrForm}`)
    const host = this.native()
    const listener = new NativeListener<C>(this, host, this.kind)
    this.listeners.add(listener)
    listener.once('close', () => { this.listeners.delete(listener) })
    await listener.start(ip.ip, ip.port)
    return listener
  }

  async dial (addr: Multiaddr, options: DialOptions = {}): Promise<Connection> {
    const { ip, peerId: addrPeer } = dialTarget(addr)
    if (ip === undefined || ip.transport !== this.kind.name) throw new InvalidArgumentError(`cannot dial ${addr.toString()}: not ${this.kind.addrForm}`)
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
      this.startDial(host, id, ip.ip, ip.port, expected?.bytes, {
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
  adopt (host: NativeHost, info: ConnInfo, openedAt: number): C {
    const conn = this.newConnection({
      host,
      info,
      remotePeer: PeerId.fromBytes(info.remotePeer),
      addrTransport: this.kind.name,
      openedAt,
      readHighWaterMark: this.options.readHighWaterMark,
      writeHighWaterMark: this.options.writeHighWaterMark,
      onClose: (c) => {
        if (this.connections.delete(c as C)) host.release()
      }
    })
    this.connections.add(conn)
    host.retain()
    const log = this.kind.log
    if (log.enabled.debug) log.debug('connection open', { id: conn.id, peer: conn.remotePeer.toString(), direction: conn.direction, ...this.connectionLogFields(conn) })
    return conn
  }

  /** @internal For NativeListener: the subclass's native listen command. */
  listenNative (host: NativeHost, id: number, ip: string, port: number, sink: ListenerSink): void {
    this.startListen(host, id, ip, port, sink)
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

class NativeListener<C extends NativeConnectionBase> extends EventEmitter implements Listener, ListenerSink {
  private readonly transport: NativeTransportBase<C, NativeTransportOptions>
  private readonly host: NativeHost
  private readonly kind: NativeTransportKind
  private readonly id: number
  private bound: Multiaddr[] = []
  private handle: AddonHandle | undefined
  private startWaiter: { resolve: () => void, reject: (err: Error) => void } | undefined
  private closeWaiter: (() => void) | undefined
  private closed = false

  constructor (transport: NativeTransportBase<C, NativeTransportOptions>, host: NativeHost, kind: NativeTransportKind) {
    super()
    this.transport = transport
    this.host = host
    this.kind = kind
    this.id = host.newId()
  }

  async start (ip: string, port: number): Promise<void> {
    this.host.retain()
    await new Promise<void>((resolve, reject) => {
      this.startWaiter = { resolve, reject }
      this.transport.listenNative(this.host, this.id, ip, port, this)
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
    this.bound = [ipPortToMultiaddr(host, port, this.kind.name)]
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
    else if (this.kind.log.enabled.debug) this.kind.log.debug('inbound connection failed', { err })
  }
}
