/**
 * The one place that turns native numeric error codes (native/include/l2n/errors.h) into the
 * error classes of src/core/errors.ts (sodium-native's split: native returns codes, TS names them).
 * Every error made here carries the original code as `nativeCode`.
 */
import {
  AbortError, ConnectionClosedError, DialError, HandshakeError, InvalidArgumentError, Libp2pError,
  LimitExceededError, PeerIdMismatchError, ProtocolViolationError, StreamResetError, TimeoutError,
  UnsupportedProtocolError
} from '../core/errors.ts'
import { Code, IdentityErrors, MultistreamErrors, NoiseErrors, QuicErrors, TlsErrors, TlsSessionErrors, YamuxErrors } from './protocol.ts'

export interface ErrorContext {
  /** Protocols proposed (stream open): names them in UnsupportedProtocolError. */
  protocols?: readonly string[]
  /** Expected and actual PeerIds (text) of a failed dial. */
  expectedPeer?: string
  actualPeer?: string
  /** The connection was established (errors then are protocol violations, not handshake failures). */
  established?: boolean
}

function tag<E extends Error> (err: E, code: number): E {
  Object.defineProperty(err, 'nativeCode', { value: code, enumerable: false })
  return err
}

function engineName (names: readonly string[], v: number): string {
  return names[v] ?? `error ${v}`
}

function codeString (name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]+/g, '_')
}

/** The native code carried by an error made here, if any. */
export function nativeCodeOf (err: unknown): number | undefined {
  const v = (err as { nativeCode?: unknown } | undefined)?.nativeCode
  return typeof v === 'number' ? v : undefined
}

export function errorFromCode (code: number, ctx: ErrorContext = {}): Libp2pError {
  return tag(makeError(code, ctx), code)
}

function makeError (code: number, ctx: ErrorContext): Libp2pError {
  switch (code) {
    case Code.connectRefused: return new DialError('connection refused', 'ERR_CONNECTION_REFUSED')
    case Code.connectFailed: return new DialError('connect failed')
    case Code.connectionReset: return new ConnectionClosedError('connection reset by the remote')
    case Code.eof: return new ConnectionClosedError(ctx.established === true ? 'connection closed by the remote' : 'the remote closed the connection during the upgrade')
    case Code.socketError: return new ConnectionClosedError('socket error')
    case Code.bindFailed: return new Libp2pError('ERR_LISTEN_FAILED', 'could not listen on the address')
    case Code.addressInUse: return new Libp2pError('ERR_ADDRESS_IN_USE', 'address already in use')
    case Code.quicNoCertificate: return new InvalidArgumentError('QUIC used before its TLS certificate was set')
    case Code.badAddress: return new InvalidArgumentError('address not usable by the TCP transport')
    case Code.handshakeTimeout: return new TimeoutError('connection upgrade timed out')
    case Code.localClose: return new ConnectionClosedError('connection closed locally')
    case Code.localAbort: return new AbortError('connection aborted locally')
    case Code.shutdown: return new ConnectionClosedError('transport shut down')
    case Code.tooManyConnections: return new LimitExceededError('connections', 'too many connections on this I/O thread')
    case Code.outOfMemory: return new LimitExceededError('memory', 'a native buffer could not be allocated')
    case Code.tooManyStreams: return new LimitExceededError('streams', 'too many streams on the connection')
    case Code.outputOverflow: return new LimitExceededError('output', 'connection output buffer limit reached')
    case Code.tooManyPendingCommands: return new LimitExceededError('commands', 'too many commands pending for an I/O thread')
    case Code.streamRemoteReset: return new StreamResetError(false)
    case Code.streamConnectionClosed: return new ConnectionClosedError('connection closed under the stream')
    case Code.streamRefused: return new LimitExceededError('streams', 'no stream could be opened')
    case Code.streamNegotiationTimeout: return new TimeoutError('stream protocol negotiation timed out')
    case Code.badCommand: return new InvalidArgumentError('native layer rejected a command')
    case Code.unknownConnection: return new ConnectionClosedError('unknown connection')
  }
  if (code >= Code.multistreamBase && code < Code.multistreamBase + 100) {
    const v = code - Code.multistreamBase
    const name = engineName(MultistreamErrors, v)
    if (name === 'unsupported protocol') return new UnsupportedProtocolError(ctx.protocols ?? [])
    return new ProtocolViolationError('multistream-select', name, `ERR_MSS_${codeString(name)}`)
  }
  if (code >= Code.noiseBase && code < Code.noiseBase + 100) {
    const name = engineName(NoiseErrors, code - Code.noiseBase)
    if (name === 'peer id mismatch') return new PeerIdMismatchError(ctx.expectedPeer ?? 'unknown', ctx.actualPeer ?? 'unknown')
    if (ctx.established === true) return new ProtocolViolationError('noise', name, `ERR_NOISE_${codeString(name)}`)
    return new HandshakeError(`noise: ${name}`, `ERR_NOISE_${codeString(name)}`)
  }
  if (code >= Code.yamuxBase && code < Code.yamuxBase + 100) {
    const name = engineName(YamuxErrors, code - Code.yamuxBase)
    if (name === 'too many streams') return new LimitExceededError('streams', 'yamux: too many streams')
    if (name === 'remote go-away') return new ConnectionClosedError('the remote sent go-away')
    return new ProtocolViolationError('yamux', name, `ERR_YAMUX_${codeString(name)}`)
  }
  if (code >= Code.identityBase && code < Code.identityBase + 100) {
    const name = engineName(IdentityErrors, code - Code.identityBase)
    return new HandshakeError(`identity: ${name}`, `ERR_IDENTITY_${codeString(name)}`)
  }
  if (code >= Code.tlsBase && code < Code.tlsBase + 100) {
    const name = engineName(TlsErrors, code - Code.tlsBase)
    if (name === 'peer id mismatch') return new PeerIdMismatchError(ctx.expectedPeer ?? 'unknown', ctx.actualPeer ?? 'unknown')
    return new HandshakeError(`tls: certificate rejected: ${name}`, `ERR_TLS_${codeString(name)}`)
  }
  if (code >= Code.tlsSessionBase && code < Code.tlsSessionBase + 100) {
    const name = engineName(TlsSessionErrors, code - Code.tlsSessionBase)
    if (name === 'closed') return new ConnectionClosedError('the remote closed the TLS session')
    if (name === 'input too large') return new LimitExceededError('tls input', 'tls: more buffered input than kMaxBufferedInput')
    if (ctx.established === true) return new ProtocolViolationError('tls', name, `ERR_TLS_${codeString(name)}`)
    return new HandshakeError(`tls: ${name}`, `ERR_TLS_${codeString(name)}`)
  }
  if (code >= Code.quicBase && code < Code.quicBase + 100) {
    const name = engineName(QuicErrors, code - Code.quicBase)
    switch (name) {
      case 'handshake timeout': return new TimeoutError('QUIC handshake timed out')
      case 'idle timeout': return new TimeoutError('QUIC connection idle timeout')
      case 'handshake failed': return new HandshakeError('QUIC/TLS handshake failed', 'ERR_QUIC_HANDSHAKE_FAILED')
      case 'peer closed': return new ConnectionClosedError('connection closed by the remote')
      case 'locally closed': return new ConnectionClosedError('connection closed locally')
      case 'stateless reset': return new ConnectionClosedError('the remote reset the connection (stateless reset)')
      case 'endpoint full': return new LimitExceededError('connections', 'QUIC endpoint: too many connections')
      case 'stream limit': return new LimitExceededError('streams', 'QUIC: the peer\'s stream limit is reached')
    }
    if (ctx.established === true) return new ProtocolViolationError('quic', name, `ERR_QUIC_${codeString(name)}`)
    return new DialError(`quic: ${name}`, `ERR_QUIC_${codeString(name)}`)
  }
  return new Libp2pError('ERR_NATIVE', `native error ${code}`)
}
