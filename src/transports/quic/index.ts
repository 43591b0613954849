/**
 * The native QUIC transport: `quic(options)` gives a TransportFactory for
 * `/ip4|ip6/<ip>/udp/<port>/quic-v1[/p2p/<id>]`. UDP sockets, QUIC (ngtcp2), the libp2p TLS
 * handshake (GnuTLS) and per-stream multistream-select run on native I/O threads
 * (native/io/quic_io.cpp); connections and streams reach this side through the same records as
 * TCP, as QuicConnection / NativeStream objects, and the dial/listen plumbing is TCP's too
 * (NativeTransportBase, src/transports/native/transport.ts).
 *
 * The certificate: native makes an ephemeral P-256 key; its "libp2p-tls-handshake:" message is
 * signed here with the host key (src/identity), which never leaves TypeScript.
 * A dial to an address with `/p2p/<id>` (or `expectedPeer`) fails with PeerIdMismatchError unless
 * the remote's certificate carries that peer's key.
 */
import { createHash } from 'node:crypto'
import type { TransportContext, TransportFactory } from '../../core/transport.ts'
import { InvalidArgumentError } from '../../core/errors.ts'
import { buildNoisePayload, generateNoiseStaticKeyPair } from '../../identity/index.ts'
import { NativeHost } from '../../native/index.ts'
import type { DialSink, ListenerSink, NativeQuicOptions } from '../../native/index.ts'
import { NativeTransportBase, type NativeTransportOptions } from '../native/transport.ts'
import type { NativeConnectionBaseInit } from '../native/connection.ts'
import { QuicConnection } from './connection.ts'
import { DEFAULT_IO_THREADS, MAX_TIMEOUT_MS, MAX_WINDOW } from './constants.ts'
import { logger } from '../../log/index.ts'

export { QuicConnection } from './connection.ts'
export * as quicDefaults from './constants.ts'

const log = logger('transport:quic')

/** The transport's options: the common native ones and QUIC's endpoint settings (defaults in constants.ts). */
export interface QuicOptions extends NativeTransportOptions, Omit<NativeQuicOptions, 'statelessResetKey'> {}

export function quic (options: QuicOptions = {}): TransportFactory {
  return (context) => new QuicTransport(context, options)
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

export class QuicTransport extends NativeTransportBase<QuicConnection, QuicOptions> {
  private readonly quicOptions: NativeQuicOptions

  constructor (context: TransportContext, options: QuicOptions) {
    super(context, options, { name: 'quic-v1', addrComponents: 3, addrForm: '/ip4|ip6/.../udp/.../quic-v1', defaultIoThreads: DEFAULT_IO_THREADS, log })
    this.quicOptions = nativeOptions(options, context)
  }

  /** A host whose certificate is signed with the host key here. */
  protected createHost (threads: number): NativeHost {
    // The Host also carries Noise keys (its TCP half); unused by QUIC but required by its constructor.
    const statics = generateNoiseStaticKeyPair()
    const payload = buildNoisePayload(this.context.privateKey, statics.publicKey, [])
    const host = new NativeHost({
      threads,
      staticSecret: statics.secretKey,
      staticPublic: statics.publicKey,
      payload,
      maxStreamWindow: 16 * 1024 * 1024,
      flush: this.options.flush ?? 'microtask',
      quic: this.quicOptions
    })
    this.installTlsCertificate(host)
    return host
  }

  protected startListen (host: NativeHost, id: number, ip: string, port: number, sink: ListenerSink): void {
    host.quicListen(id, ip, port, sink)
  }

  protected startDial (host: NativeHost, id: number, ip: string, port: number, expectedPeer: Uint8Array | undefined, sink: DialSink): void {
    host.quicDial(id, ip, port, expectedPeer, sink)
  }

  protected newConnection (init: NativeConnectionBaseInit): QuicConnection {
    return new QuicConnection(init)
  }
}
