/**
 * The closed set of errors that libp2p-native raises. Native code returns numeric codes;
 * `src/native/errors.ts` maps each code to one of these classes. Every class has a stable `code`
 * string so callers can branch without `instanceof` across realms.
 */
export class Libp2pError extends Error {
  readonly code: string
  constructor (code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** Bytes on the wire broke a protocol's rules (bad frame, bad line, bad handshake message). */
export class ProtocolViolationError extends Libp2pError {
  readonly protocol: string
  constructor (protocol: string, message: string, code = 'ERR_PROTOCOL_VIOLATION', options?: { cause?: unknown }) {
    super(code, `${protocol}: ${message}`, options)
    this.protocol = protocol
  }
}

/** A named limit was exceeded (frame size, streams, buffer, queue, connections). */
export class LimitExceededError extends Libp2pError {
  readonly limit: string
  constructor (limit: string, message: string) {
    super('ERR_LIMIT_EXCEEDED', `${limit}: ${message}`)
    this.limit = limit
  }
}

/** multistream-select found no protocol both sides support. */
export class UnsupportedProtocolError extends Libp2pError {
  readonly protocols: readonly string[]
  constructor (protocols: readonly string[]) {
    super('ERR_UNSUPPORTED_PROTOCOL', `none of the protocols is supported by the remote: ${protocols.join(', ')}`)
    this.protocols = protocols
  }
}

/** The security handshake failed (bad signature, unsupported key, decrypt failure). */
export class HandshakeError extends Libp2pError {
  constructor (message: string, code = 'ERR_HANDSHAKE', options?: { cause?: unknown }) {
    super(code, message, options)
  }
}

/** The authenticated remote peer is not the one that was dialed (`/p2p/` id mismatch). */
export class PeerIdMismatchError extends HandshakeError {
  readonly expected: string
  readonly actual: string
  constructor (expected: string, actual: string) {
    super(`expected peer ${expected} but the remote authenticated as ${actual}`, 'ERR_PEER_ID_MISMATCH')
    this.expected = expected
    this.actual = actual
  }
}

/** The remote reset the stream, or it was reset locally. */
export class StreamResetError extends Libp2pError {
  readonly local: boolean
  constructor (local: boolean, message = local ? 'stream reset locally' : 'stream reset by remote') {
    super('ERR_STREAM_RESET', message)
    this.local = local
  }
}

/** An operation on a stream whose relevant side is already closed. */
export class StreamClosedError extends Libp2pError {
  constructor (message = 'stream is closed for writing') {
    super('ERR_STREAM_CLOSED', message)
  }
}

/** The connection closed (locally, by the remote, or because of an error given as `cause`). */
export class ConnectionClosedError extends Libp2pError {
  constructor (message = 'connection closed', options?: { cause?: unknown }) {
    super('ERR_CONNECTION_CLOSED', message, options)
  }
}

/** Dialing failed before a connection was established. */
export class DialError extends Libp2pError {
  constructor (message: string, code = 'ERR_DIAL_FAILED', options?: { cause?: unknown }) {
    super(code, message, options)
  }
}

/** A deadline passed. */
export class TimeoutError extends Libp2pError {
  constructor (message = 'timed out') {
    super('ERR_TIMEOUT', message)
  }
}

/** The operation was aborted through an AbortSignal or by closing its owner. */
export class AbortError extends Libp2pError {
  constructor (message = 'aborted') {
    super('ERR_ABORTED', message)
  }
}

/** An argument given to a public function is invalid. */
export class InvalidArgumentError extends Libp2pError {
  constructor (message: string) {
    super('ERR_INVALID_ARGUMENT', message)
  }
}
