/**
 * The native QUIC transport: `quic(options)` gives a TransportFactory for
 * `/ip4|ip6/<ip>/udp/<port>/quic-v1[/p2p/<id>]`. UDP sockets, QUIC (ngtcp2), the libp2p TLS
 * handshake (GnuTLS) and per-stream multistream-select run on native I/O threads
 * (native/io/quic_io.cpp); connections and streams reach this side through the same records as
 * TCP, as QuicConnection / NativeStream objects.
 *
 * The certificate: native makes an ephemeral P-256 key; its "libp2p-tls-handshake:" message is
 * signed here with the host key (src/identity), which never leaves TypeScript.
 * A dial to an address with `/p2p/<id>` (or `expectedPeer`) fails with PeerIdMismatchError unless
 * the remote's certificate carries that peer's key.
 */
import { EventEmitter } from 'node:events'
import { createHash } from 'node:crypto'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Connection, DialOptions, Listener, Transport, TransportContext, TransportFactory } from '../../core/transport.ts'
import { AbortError, InvalidArgumentError } from '../../core/errors.ts'
import { PeerId } from '../../identity/peer-id.ts'
import { buildNoisePayload, generateNoiseStaticKeyPair } from '../../identity/index.ts'
import { ipPortToMultiaddr, multiaddrToIpPort, splitPeerId } from '../../utils/multiaddr.ts'
import { NativeHost, errorFromCode, protocol } from '../../native/index.ts'
import type { AddonHandle, ConnInfo, ConnectionSink, ListenerSink } from '../../native/index.ts'
import type { NativeQuicOptions } from '../../native/index.ts'
import { QuicConnection } from './connection.ts'
import { DEFAULT_IO_THREADS, MAX_TIMEOUT_MS, MAX_WINDOW } from './constants.ts'
import { logger } from '../../log/index.ts'

export { QuicConnection } from './connection.ts'
export * as quicDefaults from './constants.ts'

const log = logger('transport:quic')

export interface QuicOptions {
  /** I/O threads (default: LIBP2P_NATIVE_THREADS, else 1). Each listener's connections stay on its thread. */
  ioThreads?: number
  /** Handshake deadline in ms (default 5000, constants.ts). */
  handshakeTimeoutMs?: number
  /** Idle timeout advertised to peers in ms (default 10000). */
  idleTimeoutMs?: number
  /** Keep-alive PING interval in ms, 0 disables (default 5000). */
  keepAliveMs?: number
  /** Streams a peer may have open towards us at once (default 256). */
  maxStreams?: number
  /** Receive windows in bytes (defaults: stream 1 MiB growing to 16 MiB, connection 1.5 MiB to 24 MiB). */
  initialStreamWindow?: number
  maxStreamWindow?: number
  initialConnectionWindow?: number
  maxConnectionWindow?: number
  /** When queued commands are submitted to native: 'microtask' (default) or 'immediate'. */
  flush?: 'microtask' | 'immediate'
  /** Per-stream read buffer before the remote is paused (default: src/core/stream.ts). */
  readHighWaterMark?: number
  /** Per-stream unacknowledged bytes above which send() returns false (default 4 MiB). */
  writeHighWaterMark?: number
}

export function quic (options: QuicOptions = {}): TransportFactory {
  return (context) => new QuicTransport(context, options)
}

function threadsFromEnv (): number | undefined {
  const v = process.env.LIBP2P_NATIVE_THREADS
  if (v === undefined || v === '') return undefined
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new InvalidArgumentError(`LIBP2P_NATIVE_THREADS must be an integer from 1 to 64, got ${v}`)
  return n
}

function nativeOptions (o: QuicOptions, context: TransportContext): NativeQuicOptions {
  const out: NativeQuicOptions = {}
  for (const k of ['handshakeTimeoutMs', 'idleTimeoutMs', 'keepAliveMs'] as const) {
    const v = o[k]
    if (v === undefined) continue
    if (!Number.isFinite(v) || v < 0 || v > MAX_TIMEOUT_MS || (v === 0 && k !== 'keepAliveMs')) throw new InvalidArgumentError(`${k} must be a number of milliseconds in (0, ${MAX_TIMEOUT_MS}]`)
    out[k] = v
  }
  if (o.maxStreams !== undefined) {
    if (!Number.isInteger(o.maxStreams) || o.maxStreams < 1 || o.maxStreams > 65536) throw new InvalidArgumentError('maxStreams must be an integer from 1 to 65536')
    out.maxStreams = o.maxStreams
  }
  for (const k of ['initialStreamWindow', 'maxStreamWindow', 'initialConnectionWindow', 'maxConnectionWindow'] as const) {
    const v = o[k]
    if (v === undefined) continue
    if (!Number.isInteger(v) || v < 16384 || v > MAX_WINDOW) throw new InvalidArgumentError(`${k} must be an integer from 16384 to ${MAX_WINDOW}`)
    out[k] = v
  }
  // Stateless reset key derived from the host key: a restarted node resets its old connections
  // (l2n/quic.h EndpointConfig::stateless_reset_key). One-way: the key cannot be recovered from it.
  out.statelessResetKey = new Uint8Array(createHash('sha256').update('libp2p-native quic stateless reset').update(context.privateKey.raw).digest())
  return out
}

export class QuicTransport implements Transport {
  readonly name = 'quic-v1'
  private readonly context: TransportContext
  private readonly options: QuicOptions
  private readonly quicOptions: NativeQuicOptions
  private host: NativeHost | undefined
  private readonly connections = new Set<QuicConnection>()
  private readonly listeners = new Set<QuicListener>()
  private readonly onProtocolsChange = (): void => { this.host?.setProtocols(this.context.protocols.list()) }
  private closed = false

  constructor (context: TransportContext, options: QuicOptions) {
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
    this.quicOptions = nativeOptions(options, context)
  }

  /** The native host, started on first use; its certificate is signed with the host key here. */
  private native (): NativeHost {
    if (this.closed) throw new AbortError('transport is closed')
    if (this.host !== undefined) return this.host
    // The Host also carries Noise keys (its TCP half); unused by QUIC but required by its constructor.
    const statics = generateNoiseStaticKeyPair()
    const payload = buildNoisePayload(this.context.privateKey, statics.publicKey, [])
    const host = new NativeHost({
      threads: this.options.ioThreads ?? threadsFromEnv() ?? DEFAULT_IO_THREADS,
      staticSecret: statics.secretKey,
      staticPublic: statics.publicKey,
      payload,
      maxStreamWindow: 16 * 1024 * 1024,
      flush: this.options.flush ?? 'microtask',
      quic: this.quicOptions
    })
    const key = this.context.privateKey
    host.setQuicCertificate(key.publicKey.toProtobuf(), (message) => key.sign(message))
    host.setProtocols(this.context.protocols.list())
    this.context.protocols.on('change', this.onProtocolsChange)
    this.host = host
    return host
  }

  nativeCounters (): ReturnType<NativeHost['counters']> {
    return this.host?.counters()
  }

  slabsLive (): number {
    return this.host?.slabsLive() ?? 0
  }

  protocolCounters (): ReturnType<NativeHost['protocolCounters']> {
    return this.host?.protocolCounters() ?? new Map()
  }

  canDial (addr: Multiaddr): boolean {
    const ip = multiaddrToIpPort(addr)
    return ip !== undefined && ip.transport === 'quic-v1' && addrIsPlainQuic(addr)
  }

  canListen (addr: Multiaddr): boolean {
    return this.canDial(addr)
  }

  async listen (addr: Multiaddr): Promise<Listener> {
    const ip = multiaddrToIpPort(splitPeerId(addr).addr)
    if (ip === undefined || ip.transport !== 'quic-v1') throw new InvalidArgumentError(`cannot listen on ${addr.toString()}: not /ip4|ip6/.../udp/.../quic-v1`)
    const host = this.native()
    const listener = new QuicListener(this, host)
    this.listeners.add(listener)
    listener.once('close', () => { this.listeners.delete(listener) })
    await listener.start(ip.ip, ip.port)
    return listener
  }

  async dial (addr: Multiaddr, options: DialOptions = {}): Promise<Connection> {
    const { addr: base, peerId: addrPeer } = splitPeerId(addr)
    const ip = multiaddrToIpPort(base)
    if (ip === undefined || ip.transport !== 'quic-v1') throw new InvalidArgumentError(`cannot dial ${addr.toString()}: not /ip4|ip6/.../udp/.../quic-v1`)
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
      host.quicDial(id, ip.ip, ip.port, expected?.bytes, {
        onOpen: (info: ConnInfo): ConnectionSink => {
          signal?.removeEventListener('abort', onAbort)
          const conn = this.adopt(host, info, openedAt)
          if (settled) {
            conn.abort(new AbortError('dial aborted'))
            return conn
          }
          settled = true
          host.release()
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

  /** @internal A native connection finished its handshake (dialed or accepted). */
  adopt (host: NativeHost, info: ConnInfo, openedAt: number): QuicConnection {
    const remoteAddr = ipPortToMultiaddr(info.remoteHost, info.remotePort, 'quic-v1')
    const localAddr = info.localHost !== '' ? ipPortToMultiaddr(info.localHost, info.localPort, 'quic-v1') : undefined
    const conn = new QuicConnection({
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
    if (log.enabled.debug) log.debug('connection open', { id: conn.id, peer: conn.remotePeer.toString(), direction: conn.direction })
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

function addrIsPlainQuic (addr: Multiaddr): boolean {
  // ip/udp/quic-v1, optionally followed by /p2p/<id> only.
  const n = addr.getComponents().length
  return n === 3 || (n === 4 && splitPeerId(addr).peerId !== undefined)
}

class QuicListener extends EventEmitter implements Listener, ListenerSink {
  private readonly transport: QuicTransport
  private readonly host: NativeHost
  private readonly id: number
  private bound: Multiaddr[] = []
  private handle: AddonHandle | undefined
  private startWaiter: { resolve: () => void, reject: (err: Error) => void } | undefined
  private closeWaiter: (() => void) | undefined
  private closed = false

  constructor (transport: QuicTransport, host: NativeHost) {
    super()
    this.transport = transport
    this.host = host
    this.id = host.newId()
  }

  async start (ip: string, port: number): Promise<void> {
    this.host.retain()
    await new Promise<void>((resolve, reject) => {
      this.startWaiter = { resolve, reject }
      this.host.quicListen(this.id, ip, port, this)
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
    this.bound = [ipPortToMultiaddr(host, port, 'quic-v1')]
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
    if (this.listenerCount('error') > 0) this.emit('error', err)
    else if (log.enabled.debug) log.debug('inbound connection failed', { err })
  }
}
