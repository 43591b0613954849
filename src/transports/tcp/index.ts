/**
 * The native TCP transport: `tcp(options)` gives a TransportFactory. Sockets, Noise, Yamux and
 * multistream-select run on native I/O threads (native/io); this module turns multiaddrs into
 * native commands and native records into Connection / Stream objects. What it shares with QUIC
 * (dial/listen plumbing, host lifetime) is NativeTransportBase (src/transports/native/transport.ts).
 *
 * Addresses: `/ip4/<ip>/tcp/<port>` and `/ip6/<ip>/tcp/<port>`, optionally ending in `/p2p/<id>`
 * (a dial then fails with PeerIdMismatchError unless the remote authenticates as that peer).
 */
import type { TransportContext, TransportFactory } from '../../core/transport.ts'
import { buildNoisePayload, generateNoiseStaticKeyPair } from '../../identity/index.ts'
import { NativeHost } from '../../native/index.ts'
import type { DialSink, ListenerSink } from '../../native/index.ts'
import type { Fields } from '../../log/index.ts'
import { NativeTransportBase, type NativeTransportOptions } from '../native/transport.ts'
import type { NativeConnectionBaseInit } from '../native/connection.ts'
import { NativeConnection } from './connection.ts'
import { DEFAULT_IO_THREADS, DEFAULT_MAX_STREAM_WINDOW, YAMUX } from './constants.ts'
import { logger } from '../../log/index.ts'

export { NativeConnection } from './connection.ts'
export { NativeStream } from './stream.ts'

const log = logger('transport:tcp')

export interface TcpOptions extends NativeTransportOptions {
  /** Yamux per-stream receive window ceiling in bytes (default 16 MiB). */
  maxStreamWindow?: number
  /** A stream whose protocol is not agreed within this time is reset (default 10 s). */
  streamNegotiationTimeoutMs?: number
}

export function tcp (options: TcpOptions = {}): TransportFactory {
  return (context) => new TcpTransport(context, options)
}

export class TcpTransport extends NativeTransportBase<NativeConnection, TcpOptions> {
  constructor (context: TransportContext, options: TcpOptions) {
    super(context, options, { name: 'tcp', addrComponents: 2, addrForm: '/ip4|ip6/.../tcp/...', defaultIoThreads: DEFAULT_IO_THREADS, log })
  }

  protected createHost (threads: number): NativeHost {
    const statics = generateNoiseStaticKeyPair()
    const payload = buildNoisePayload(this.context.privateKey, statics.publicKey, [YAMUX])
    return new NativeHost({
      threads,
      staticSecret: statics.secretKey,
      staticPublic: statics.publicKey,
      payload,
      maxStreamWindow: this.options.maxStreamWindow ?? DEFAULT_MAX_STREAM_WINDOW,
      ...(this.options.streamNegotiationTimeoutMs !== undefined ? { streamNegotiationTimeoutMs: this.options.streamNegotiationTimeoutMs } : {}),
      flush: this.options.flush ?? 'microtask'
    })
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
    return { earlyMuxer: conn.earlyMuxer }
  }
}
