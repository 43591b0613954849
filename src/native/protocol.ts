/**
 * The JS <-> native protocol, mirrored from native/io/boundary.h, native/io/limits.h and
 * native/include/l2n/errors.h. Keep the numbers in step with those files
 * (test/native/protocol.test.ts parses the headers and compares).
 *
 * Commands (JS -> native): 8 u32 words each, [op, conn, stream, a, b, c, 0, 0], submitted in one
 * `host.submit(words, count, buffers)` call per tick; buffers are referenced by index.
 * Records (native -> JS): 8 u32 words each, [type, conn, stream, a, b, c, blobOffset, blobLength],
 * delivered in one `onEvents(records, blob, slabs, objects)` call per wake-up.
 */

export const COMMAND_WORDS = 8
export const RECORD_WORDS = 8
/** "No buffer" in a buffer-index field. */
export const NO_BUF = 0xffffffff
/** Ids chosen by native (inbound connections and streams) have this bit; JS ids stay below it. */
export const NATIVE_ID_BIT = 0x80000000

export const Op = {
  listen: 1,
  closeListener: 2,
  dial: 3,
  openStream: 4,
  send: 5,
  closeWrite: 6,
  reset: 7,
  pause: 8,
  resume: 9,
  closeConn: 10,
  releaseConn: 11,
  setProtocols: 12,
  quicListen: 13,
  quicDial: 14
} as const

export const Ev = {
  listening: 1,
  listenFailed: 2,
  listenerClosed: 3,
  connOpen: 4,
  connFailed: 5,
  connClosed: 6,
  streamInbound: 7,
  streamOpened: 8,
  streamOpenFailed: 9,
  data: 10,
  remoteFin: 11,
  remoteReset: 12,
  written: 13,
  writeClosed: 14,
  streamReleased: 15,
  slab: 16,
  slabRetired: 17,
  log: 18,
  logDropped: 19
} as const

/**
 * Native log components (native/io/log.h LogComponent, index = value), logged as `native:<name>`
 * through src/log. Native levels are src/log's ranks (LEVEL_RANK): 0 off, 1 error ... 5 trace.
 */
export const NativeLogComponents = ['native:io', 'native:tcp', 'native:noise', 'native:yamux', 'native:quic'] as const
export const NativeLogLevels = ['off', 'error', 'warn', 'info', 'debug', 'trace'] as const

/** Per-connection counter fields (native/io/connection.cpp), doubles in the counters table. */
export const ConnCounter = { bytesIn: 0, bytesOut: 1, framesIn: 2, framesOut: 3, errors: 4, streamsOpened: 5 } as const
/** Per-protocol counter fields; the table is [thread][protocol][field]. */
export const ProtoCounter = { bytesIn: 0, bytesOut: 1, streams: 2, errors: 3 } as const

/** Numeric error codes: native/include/l2n/errors.h. */
export const Code = {
  none: 0,
  connectRefused: 1,
  connectFailed: 2,
  connectionReset: 3,
  eof: 4,
  socketError: 5,
  bindFailed: 6,
  badAddress: 7,
  handshakeTimeout: 8,
  localClose: 9,
  localAbort: 10,
  shutdown: 11,
  addressInUse: 12,
  quicNoCertificate: 13,
  tooManyConnections: 100,
  outOfMemory: 101,
  tooManyStreams: 102,
  outputOverflow: 103,
  tooManyPendingCommands: 104,
  multistreamBase: 200,
  noiseBase: 300,
  yamuxBase: 400,
  identityBase: 500,
  streamRemoteReset: 600,
  streamConnectionClosed: 601,
  streamRefused: 602,
  streamNegotiationTimeout: 603,
  badCommand: 700,
  unknownConnection: 701,
  tlsBase: 800,
  quicBase: 900,
  tlsSessionBase: 1000
} as const

/** Engine enums in declaration order (index = value), for messages and error codes. */
export const MultistreamErrors = ['none', 'bad varint', 'message too long', 'missing newline', 'bad header',
  'unsupported protocol', 'too many proposals', 'unexpected message'] as const
export const NoiseErrors = ['none', 'message too long', 'decrypt failed', 'bad payload', 'bad signature',
  'unsupported key type', 'peer id mismatch', 'unexpected message', 'nonce exhausted', 'message too short', 'bad key'] as const
export const YamuxErrors = ['none', 'bad version', 'bad type', 'bad flags', 'window exceeded', 'bad stream id',
  'too many streams', 'stream ids exhausted', 'remote go-away', 'stream closed'] as const
export const IdentityErrors = ['none', 'bad protobuf', 'unsupported key type', 'bad key', 'bad signature'] as const
export const TlsErrors = ['none', 'bad certificate', 'chain length', 'not yet valid', 'expired', 'bad self signature',
  'weak signature algorithm', 'unique id present', 'unknown critical extension', 'missing extension', 'bad extension',
  'unsupported key type', 'bad host signature', 'peer id mismatch', 'internal'] as const
/** l2n::tls::SessionError (/tls/1.0.0 over TCP; kCertificate is reported as tlsBase + the certificate error). */
export const TlsSessionErrors = ['none', 'certificate', 'handshake failed', 'decrypt failed', 'input too large', 'closed', 'internal'] as const
export const QuicErrors = ['none', 'certificate rejected', 'handshake failed', 'handshake timeout', 'idle timeout',
  'peer closed', 'locally closed', 'protocol', 'stateless reset', 'internal', 'stream limit', 'unknown stream',
  'stream finished', 'closed', 'endpoint full'] as const
