/**
 * QuicConnection: a QUIC connection of the native I/O threads (native/io/quic_io.cpp), secured by
 * the libp2p TLS handshake and multiplexed by QUIC itself; each stream's protocol is negotiated by
 * multistream-select in native. It receives the same records as a TCP connection (ConnectionSink)
 * and hands out the same NativeStream objects (src/transports/tcp/stream.ts), so all of that lives
 * in NativeConnectionBase (src/transports/native/connection.ts): only the meaning of `written`
 * differs, which for QUIC comes when the peer acknowledged the bytes (ngtcp2 may retransmit from
 * the caller's buffer until then).
 */
import { NativeConnectionBase, type NativeConnectionBaseInit } from '../native/connection.ts'
import { CLOSE_TIMEOUT_MS, MAX_UNCLAIMED_INBOUND_STREAMS, QUIC_ENCRYPTION, QUIC_MUXER } from './constants.ts'

export type QuicConnectionInit = NativeConnectionBaseInit

export class QuicConnection extends NativeConnectionBase {
  readonly transport = 'quic-v1'
  readonly encryption = QUIC_ENCRYPTION
  readonly muxer = QUIC_MUXER

  constructor (init: QuicConnectionInit) {
    super(init, { idPrefix: 'quic', closeTimeoutMs: CLOSE_TIMEOUT_MS, maxUnclaimedInboundStreams: MAX_UNCLAIMED_INBOUND_STREAMS })
  }
}
