/**
 * NativeConnection: a TCP connection upgraded by the native pipeline (multistream-select of /noise
 * or /tls/1.0.0, Noise XX or TLS 1.3, Yamux). Its records and streams are handled by NativeConnectionBase (src/transports/native/);
 * this class only names what is TCP's own.
 */
import { NativeConnectionBase, type NativeConnectionBaseInit } from '../native/connection.ts'
import { CLOSE_TIMEOUT_MS, MAX_UNCLAIMED_INBOUND_STREAMS, NOISE, YAMUX } from './constants.ts'

export type NativeConnectionInit = NativeConnectionBaseInit

export class NativeConnection extends NativeConnectionBase {
  readonly transport = 'tcp'
  /** The security protocol multistream-select agreed: '/noise' or '/tls/1.0.0'. */
  readonly encryption: string
  readonly muxer = YAMUX
  /** The muxer was agreed inside the handshake (Noise payloads or TLS ALPN; no multistream round). */
  readonly earlyMuxer: boolean

  constructor (init: NativeConnectionInit) {
    super(init, { idPrefix: 'tcp', closeTimeoutMs: CLOSE_TIMEOUT_MS, maxUnclaimedInboundStreams: MAX_UNCLAIMED_INBOUND_STREAMS })
    this.earlyMuxer = init.info.earlyMuxer
    this.encryption = init.info.encryption ?? NOISE
  }
}
