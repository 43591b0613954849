/**
 * The native TCP transport: `tcp(options)` gives a TransportFactory. Sockets, Noise or TLS, Yamux
 * and multistream-select run on native I/O threads (native/io); this module turns multiaddrs into
 * native commands and native records into Connection / Stream objects. What it shares with QUIC
 * (dial/listen plumbing, host lifetime) is NativeTransportBase (src/transports/native/transport.ts).
 *
 * Addresses: `/ip4/<ip>/tcp/<port>` and `/ip6/<ip>/tcp/<port>`, optionally ending in `/p2p/<id>`
 * (a dial then fails with PeerIdMismatchError unless the remote authenticates as that peer).
 */
import type { TransportContext, TransportFactory } from '../../core/transport.ts'
import { InvalidArgumentError } from '../../core/errors.ts'
import { buildNoisePayload, generateNoiseStaticKeyPair } from '../../identity/index.ts'
import { NativeHost } from '../../native/index.ts'
import type { DialSink, ListenerSink } from '../../native/index.ts'
import type { Fields } from '../../log/index.ts'
import { NativeTransportBase, type NativeTransportOptions } from '../native/transport.ts'
import type { NativeConnectionBaseInit } from '../native/connection.ts'
import { NativeConnection } from './connection.ts'
import { DEFAULT_IO_THREADS, DEFAULT_MAX_STREAM_WINDOW, DEFAULT_SECURITY, SECURITY_PROTOCOLS, type SecurityName, YAMUX } from './constants.ts'
import { logger } from '../../log/index.ts'

export { NativeConnection } from './connection.ts'
export { NativeStream } from './stream.ts'

const log = logger('transport:tcp')

export interface TcpOptions extends NativeTransportOptions {
  /** Yamux per-stream receive window ceiling in bytes (default 16 MiB). */
  maxStreamWindow?: number
  /** A stream whose protocol is not agreed within this time is reset (default 10 s). */
  streamNegotiationTimeoutMs?: number
  /**
   * Security protocols: a dial proposes them in this order through multistream-select, a listener
   * accepts any of them (default ['noise', 'tls'], see constants.ts). With one entry the dial is
   * optimistic (proposal and first handshake message in one write).
   */
  security?: readonly SecurityName[]
}

/** Checks TcpOptions.security and turns it into protocol ids. */
export function securityProtocols (security: readonly SecurityName[] | undefined): string[] {
  const names = security ?? DEFAULT_SECURITY
  if (!Array.isArray(names) || names.length === 0) throw new InvalidArgumentError("security must be a non-empty array of 'noise' | 'tls'")
  const ids: string[] = []
  for (const n of names) {
    if (typeof n !== 'string' || !Object.hasOwn(SECURITY_PROTOCOLS, n)) throw new InvalidArgumentError(`unknown security protocol ${String(n)} (expected 'noise' or 'tls')`)
    const id = SECURITY_PROTOCOLS[n as SecurityName]
    if (ids.includes(id)) throw new InvalidArgumentError(`security protocol ${n} listed twice`)
    ids.push(id)
  }
  return ids
}

export function tcp (options: TcpOptions = {}): TransportFactory {
  return (context) => new TcpTransport(context, options)
}

export class TcpTransport extends NativeTransportBase<NativeConnection, TcpOptions> {
  /** Security protocol ids in the dialer's order. */
  readonly security: readonly string[]

  constructor (context: TransportContext, options: TcpOptions) {
    super(context, options, { name: 'tcp', addrComponents: 2, addrForm: '/ip4|ip6/.../tcp/...', defaultIoThreads: DEFAULT_IO_THREADS, log })
    this.security = securityProtocols(options.security)
  }

  protected createHost (threads: number): NativeHost {
    const statics = generateNoiseStaticKeyPair()
    const payload = buildNoisePayload(this.context.privateKey, statics.publicKey, [YAMUX])
    const host = new NativeHost({
      threads,
      staticSecret: statics.secretKey,
      staticPublic: statics.publicKey,
      payload,
      maxStreamWindow: this.options.maxStreamWindow ?? DEFAULT_MAX_STREAM_WINDOW,
      ...(this.options.streamNegotiationTimeoutMs !== undefined ? { streamNegotiationTimeoutMs: this.options.streamNegotiationTimeoutMs } : {}),
      flush: this.options.flush ?? 'microtask',
      security: [...this.security]
    })
    if (this.security.includes(SECURITY_PROTOCOLS.tls)) this.installTlsCertificate(host)
    return host
  }

  protected startListen (host: NativeHost, id: number, ip: string, port: number, sink: ListenerSink): void {
    host.listen(id, ip, port, sink)
  }

  protected startDial (host: NativeHost, id: number, ip: string, port: number, expectedPeer: Uint8Array | undefined, sink: DialSink): void {
    host.dial(id, ip, port, expectedPeer, sink)
  }

  protected newConnection (init: NativeConnectionBaseInit): NativeConnection {
    return new NativeConnection(init)
  }

  protected override connectionLogFields (conn: NativeConnection): Fields {
    return { encryption: conn.encryption, earlyMuxer: conn.earlyMuxer }
  }
}
