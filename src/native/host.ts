/**
 * NativeHost: the TypeScript side of one native I/O context (native/binding/host.cpp).
 *
 * JS -> native: every command of a tick is appended to one Uint32Array (8 words each) plus a list
 * of buffers, and submitted in ONE call when the tick ends (`flush: 'microtask'`, the default, or
 * `'immediate'`). Send buffers are transferred (not copied): this side keeps them referenced until
 * a `written` record covers them.
 *
 * native -> JS: one callback per wake-up carries every record since the last one; `dispatch`
 * decodes them and calls the sinks registered for each listener / dial / connection. Received data
 * arrives as (slab, offset, length): a Uint8Array view on a native slab, no copy.
 */
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { existsSync } from 'node:fs'
import { InvalidArgumentError, LimitExceededError } from '../core/errors.ts'
import { Code, COMMAND_WORDS, Ev, NativeLogComponents, NativeLogLevels, NO_BUF, Op, ProtoCounter, RECORD_WORDS } from './protocol.ts'
import { defaultLogConfig, type Fields, type Level, type LogConfig, type Logger } from '../log/index.ts'
import { errorFromCode } from './errors.ts'

// ---- the addon ------------------------------------------------------------------------------

export interface AddonHost {
  submit(words: Uint32Array, count: number, buffers: Array<Uint8Array | undefined>): number
  counters(): { connections: Float64Array, protocols: Float64Array, perConnection: number, perProtocol: number, maxProtocols: number, threads: number } | undefined
  /** slabsLive: slabs allocated; logRecords: log and dropped-lines records delivered so far. */
  stats(): { slabsLive: number, logRecords: number }
  /** The enabled level per native log component (index = component, value = src/log rank). */
  setLogLevels(levels: Uint8Array): void
  close(): void
  ref(): void
  unref(): void
  /** QUIC certificate, step 1: "libp2p-tls-handshake:" || SPKI of a fresh P-256 key (l2n/tls.h). */
  quicCertRequest(): Uint8Array
  /** Step 2: the host key's protobuf and its signature over step 1's bytes. */
  quicCertFinish(publicKey: Uint8Array, signature: Uint8Array): void
}
/**
 * QUIC endpoint settings handed to native (absent: the defaults of native/include/l2n/quic.h,
 * repeated with their reasons in src/transports/quic/constants.ts). QuicOptions extends this.
 */
export interface NativeQuicOptions {
  /** Handshake deadline in ms (default 5000). */
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
  /** Derived from the host key by the QUIC transport, never set by users. */
  statelessResetKey?: Uint8Array
}
/**
 * A native connection or listener's JS handle. close(): posts its close command at once (the
 * finalizer does the same for a handle collected while open). detach(): it is closed already, or a
 * batched command closes it: nothing is posted, now or when it is collected.
 */
export interface AddonHandle { readonly id: number, close(graceful?: boolean): void, detach(): void }
export interface Addon {
  Host: new (options: { threads: number, staticSecret: Uint8Array, staticPublic: Uint8Array, payload: Uint8Array, maxStreamWindow: number, streamNegotiationTimeoutMs?: number, quic?: NativeQuicOptions, security?: string[], logLevels?: Uint8Array },
    onEvents: (records: Uint32Array, blob: Uint8Array, slabs: ArrayBuffer[], objects: AddonHandle[]) => void) => AddonHost
  allocator: string
}

let addon: Addon | undefined

/** The addon file loadAddon loads: LIBP2P_NATIVE_ADDON, else build/Release/libp2p_native.node. */
export function findAddonPath (): string {
  const override = process.env.LIBP2P_NATIVE_ADDON
  if (override !== undefined && override !== '' && !existsSync(override)) throw new Error(`LIBP2P_NATIVE_ADDON=${override} does not exist`)
  const here = dirname(fileURLToPath(import.meta.url))
  // src/native/ (tsx) or dist/src/native/ (compiled): walk up to the package root.
  const candidates = [
    override,
    resolve(here, '..', '..', 'build', 'Release', 'libp2p_native.node'),
    resolve(here, '..', '..', '..', 'build', 'Release', 'libp2p_native.node')
  ].filter((p): p is string => p !== undefined && p !== '')
  const path = candidates.find(p => existsSync(p))
  if (path === undefined) throw new Error(`libp2p-native addon not found (looked in ${candidates.join(', ')}); run npm run build:native`)
  return path
}

/** Loads the addon at findAddonPath(). */
export function loadAddon (): Addon {
  if (addon !== undefined) return addon
  const path = findAddonPath()
  const require = createRequire(import.meta.url)
  try {
    addon = require(path) as Addon
  } catch (err) {
    if (String((err as Error).message).includes('static TLS block')) {
      throw new Error(`${(err as Error).message}: this addon was built with jemalloc; start node with LD_PRELOAD=libjemalloc.so.2`, { cause: err })
    }
    throw err
  }
  return addon
}

// ---- sinks: who receives the records ----------------------------------------------------------

export interface ConnInfo {
  id: number
  slot: number
  outbound: boolean
  listenId: number
  remotePeer: Uint8Array
  remoteHost: string
  localHost: string
  remotePort: number
  localPort: number
  family: 4 | 6
  earlyMuxer: boolean
  /** The TCP security protocol agreed by multistream-select ('/noise' or '/tls/1.0.0'); undefined for QUIC. */
  encryption: string | undefined
  handle: AddonHandle
}

export interface ConnectionSink {
  onStreamInbound(handle: number, protocol: string, protoIndex: number): void
  onStreamOpened(handle: number, protocol: string, protoIndex: number): void
  onStreamOpenFailed(handle: number, code: number): void
  onData(handle: number, data: Uint8Array): void
  onRemoteFin(handle: number): void
  onRemoteReset(handle: number, code: number): void
  onWritten(handle: number, bytes: number): void
  onWriteClosed(handle: number): void
  onStreamReleased(handle: number): void
  onClosed(code: number): void
}

export interface ListenerSink {
  onListening(host: string, port: number, family: number, handle: AddonHandle): void
  onListenFailed(code: number): void
  onClosed(): void
  /** An inbound connection is upgraded; return its sink. */
  onInbound(info: ConnInfo): ConnectionSink
  onInboundFailed(code: number): void
}

export interface DialSink {
  onOpen(info: ConnInfo): ConnectionSink
  onFailed(code: number, remotePeer: Uint8Array | undefined): void
}

export interface NativeHostOptions {
  /**
   * I/O threads; 0 runs the I/O loop inline on this (the JS) thread: records are delivered
   * synchronously from Node's libuv loop and submit() performs its commands at once.
   */
  threads: number
  staticSecret: Uint8Array
  staticPublic: Uint8Array
  payload: Uint8Array
  maxStreamWindow: number
  /** A stream still negotiating its protocol after this long is reset (default 10 s, native limits.h). */
  streamNegotiationTimeoutMs?: number
  /** When queued commands are submitted: end of the current microtask checkpoint, or setImmediate. */
  flush: 'microtask' | 'immediate'
  /** QUIC endpoint settings (src/transports/quic validates them). */
  quic?: NativeQuicOptions
  /** TCP security protocol ids, dialer's order (src/transports/tcp validates them; default ['/noise']). */
  security?: string[]
  /** Where native log lines go (`native:io`, `native:tcp`, ...); default: the process-wide config. */
  log?: LogConfig
}

/** Command words preallocated; the array doubles when a tick queues more. */
const INITIAL_COMMANDS = 256
/**
 * A tick that queues this many commands submits them at once and starts a new batch: bounds the
 * word array (2 MiB) and hands work to the I/O threads while JS keeps producing.
 */
const MAX_COMMANDS_PER_SUBMIT = 65536
/**
 * Distinct protocol lists whose encoding openStream keeps. A node opens streams for a handful of
 * protocols (ping, identify, kad, perf, ...); 256 covers that with room, and a caller opening
 * streams with ever-new protocol ids only makes the cache start over. An entry is the list's
 * bytes (tens of bytes for usual ids; NativeConnectionBase.openStream caps an id at 1000).
 */
const MAX_ENCODED_PROTOCOL_LISTS = 256
/**
 * A command nothing waits for (a connection's slot release) does not wake an I/O thread by itself:
 * it goes with the next submit, or alone once it has waited this long. On a node that opens and
 * closes connections back to back, each close otherwise cost a submit and an I/O-thread wake-up of
 * its own on both sides, in the middle of the next connection's handshake. Bounded: a slot
 * (counters and id, native/io/io_thread.cpp kReleaseConn) is held at most this much longer.
 */
const LAZY_FLUSH_MS = 20
/** JS-chosen ids wrap below the native id bit. */
const MAX_JS_ID = 0x7fffffff

const utf8 = new TextEncoder()
const utf8d = new TextDecoder()

export class NativeHost {
  private readonly host: AddonHost
  private readonly flushMode: 'microtask' | 'immediate'
  private words = new Uint32Array(INITIAL_COMMANDS * COMMAND_WORDS)
  private count = 0
  private buffers: Array<Uint8Array | undefined> = []
  /** A flush is queued: a microtask ('microtask' mode) or setImmediate ('immediate'). */
  private flushScheduled = false
  /** A late flush (after the microtasks drain, see flushHop) is queued. */
  private lateFlushScheduled = false
  /** A queued command that someone waits for; only lazy ones (LAZY_FLUSH_MS) when false. */
  private eagerQueued = false
  private lazyTimer: NodeJS.Timeout | undefined
  private readonly slabs = new Map<number, ArrayBuffer>()
  private readonly listeners = new Map<number, ListenerSink>()
  private readonly dials = new Map<number, DialSink>()
  private readonly conns = new Map<number, ConnectionSink>()
  private readonly protocolNames = new Map<number, string>()
  /** openStream's protocol lists, UTF-8 encoded once (at most MAX_ENCODED_PROTOCOL_LISTS). */
  private readonly encodedLists = new Map<string, Uint8Array>()
  private nextId = 1
  private closed = false
  private refs = 0
  private countersCache: ReturnType<AddonHost['counters']>
  private nextSlab = 0
  private nextObject = 0
  private readonly logConfig: LogConfig
  private readonly nativeLoggers: Logger[]
  private readonly stopLogUpdates: () => void

  constructor (opts: NativeHostOptions) {
    if (!Number.isInteger(opts.threads) || opts.threads < 0 || opts.threads > 64) throw new InvalidArgumentError('ioThreads must be an integer from 0 (inline) to 64')
    if (opts.staticSecret.byteLength !== 32 || opts.staticPublic.byteLength !== 32) throw new InvalidArgumentError('Noise static keys must be 32 bytes')
    if (!Number.isInteger(opts.maxStreamWindow) || opts.maxStreamWindow < 256 * 1024 || opts.maxStreamWindow > 0xffffffff) {
      throw new InvalidArgumentError('maxStreamWindow must be an integer from 262144 (the Yamux initial window) to 2^32-1')
    }
    if (opts.streamNegotiationTimeoutMs !== undefined && !(opts.streamNegotiationTimeoutMs > 0 && opts.streamNegotiationTimeoutMs <= 3_600_000)) {
      throw new InvalidArgumentError('streamNegotiationTimeoutMs must be a number of milliseconds in (0, 3600000]')
    }
    const { Host } = loadAddon()
    this.flushMode = opts.flush
    this.logConfig = opts.log ?? defaultLogConfig
    this.nativeLoggers = NativeLogComponents.map(c => this.logConfig.logger(c))
    this.host = new Host({
      threads: opts.threads,
      staticSecret: opts.staticSecret,
      staticPublic: opts.staticPublic,
      payload: opts.payload,
      maxStreamWindow: opts.maxStreamWindow,
      ...(opts.streamNegotiationTimeoutMs !== undefined ? { streamNegotiationTimeoutMs: opts.streamNegotiationTimeoutMs } : {}),
      ...(opts.quic !== undefined ? { quic: opts.quic } : {}),
      ...(opts.security !== undefined ? { security: opts.security } : {}),
      logLevels: this.nativeLogLevels()
    }, (records, blob, slabs, objects) => { this.dispatch(records, blob, slabs, objects) })
    this.host.unref()
    this.countersCache = this.host.counters()
    // Native checks these levels before formatting a line: tell it whenever the filter changes.
    this.stopLogUpdates = this.logConfig.onFilterChange(() => {
      if (!this.closed) this.host.setLogLevels(this.nativeLogLevels())
    })
  }

  private nativeLogLevels (): Uint8Array {
    return Uint8Array.from(NativeLogComponents, c => this.logConfig.enabledRank(c))
  }

  /** Log and dropped-lines records that crossed from native so far (0 while native logs are off). */
  logRecords (): number {
    return this.host.stats().logRecords  // kept by the binding after close() too
  }

  /** Ids for listeners, dials and outbound streams (JS side of the id space). */
  newId (): number {
    const id = this.nextId
    this.nextId = id >= MAX_JS_ID ? 1 : id + 1
    return id
  }

  /** Keeps the Node event loop alive while something (a listener, a connection) needs events. */
  retain (): void {
    if (this.refs++ === 0 && !this.closed) this.host.ref()
  }

  release (): void {
    if (--this.refs === 0 && !this.closed) this.host.unref()
  }

  counters (): NonNullable<ReturnType<AddonHost['counters']>> | undefined {
    return this.countersCache ?? undefined
  }

  /** Slabs allocated right now (in use, held by JS views, or pooled): 1 MiB each. */
  slabsLive (): number {
    return this.closed ? 0 : this.host.stats().slabsLive
  }

  /** Per-protocol totals (all threads), read from native memory; names learnt from stream records. */
  protocolCounters (): Map<string, { bytesIn: number, bytesOut: number, streams: number, errors: number }> {
    const out = new Map<string, { bytesIn: number, bytesOut: number, streams: number, errors: number }>()
    const c = this.countersCache
    if (c === undefined) return out
    for (const [index, name] of this.protocolNames) {
      const totals = { bytesIn: 0, bytesOut: 0, streams: 0, errors: 0 }
      for (let t = 0; t < c.threads; t++) {
        const base = (t * c.maxProtocols + index) * c.perProtocol
        totals.bytesIn += c.protocols[base + ProtoCounter.bytesIn] as number
        totals.bytesOut += c.protocols[base + ProtoCounter.bytesOut] as number
        totals.streams += c.protocols[base + ProtoCounter.streams] as number
        totals.errors += c.protocols[base + ProtoCounter.errors] as number
      }
      out.set(name, totals)
    }
    return out
  }

  // ---- commands ------------------------------------------------------------------------------
  /**
   * `late`: the command is usually followed by more a few awaits later (see flushHop). `lazy`:
   * nothing waits for it, so it waits for the next submit (LAZY_FLUSH_MS).
   */
  private push (op: number, conn: number, stream: number, a: number, b: number, c: number, late = false, lazy = false): void {
    if (this.closed) return
    if ((this.count + 1) * COMMAND_WORDS > this.words.length) {
      const bigger = new Uint32Array(this.words.length * 2)
      bigger.set(this.words)
      this.words = bigger
    }
    const o = this.count * COMMAND_WORDS
    const w = this.words
    w[o] = op; w[o + 1] = conn; w[o + 2] = stream; w[o + 3] = a; w[o + 4] = b; w[o + 5] = c
    this.count++
    if (this.count >= MAX_COMMANDS_PER_SUBMIT) {
      this.submitNow()
      return
    }
    if (lazy) {
      if (this.lazyTimer === undefined) {
        this.lazyTimer = setTimeout(this.lazyFlushTask, LAZY_FLUSH_MS)
        this.lazyTimer.unref()
      }
      return
    }
    this.eagerQueued = true
    if (this.flushScheduled) return
    if (this.flushMode === 'immediate') {
      this.flushScheduled = true
      setImmediate(this.flushTask)
    } else if (!late) {
      this.flushScheduled = true
      queueMicrotask(this.flushTask)
    } else if (!this.lateFlushScheduled) {
      this.lateFlushScheduled = true
      queueMicrotask(this.flushHop)
    }
  }

  private buf (b: Uint8Array): number {
    this.buffers.push(b)
    return this.buffers.length - 1
  }

  private readonly flushTask = (): void => { this.flush() }
  private readonly lazyFlushTask = (): void => {
    this.lazyTimer = undefined
    this.submitNow()
  }
  /**
   * In 'microtask' mode a stream open (a `late` command) alone does not submit at the next
   * microtask but once the microtask queue has drained: a nextTick queued from a microtask runs
   * only after every microtask, including those queued meanwhile (Node's processTicksAndRejections
   * drains the microtasks, then runs the ticks queued meanwhile). `await conn.openStream(p)` is a
   * microtask hop before the caller's first send(); with the open submitted at once, the open and
   * the send were two submits 40-55 us apart in the setup trace (bench/perf/setup-trace.ts), each
   * waking the I/O thread, and for QUIC two packets. Now the send's own (microtask) flush takes
   * both: one submit, one wake-up, one packet with the multistream-select proposal and the data.
   * Other commands keep the microtask flush: deferring them all until the microtasks drain
   * delayed an echo server's reply by the JS that followed its send (+7 us in the trace).
   */
  private readonly flushHop = (): void => { process.nextTick(this.lateFlushTask) }
  private readonly lateFlushTask = (): void => {
    this.lateFlushScheduled = false
    this.submitNow()
  }

  /** Submits every queued command in one native call, unless only lazy ones are queued. */
  flush (): void {
    this.flushScheduled = false
    if (this.eagerQueued) this.submitNow()
  }

  private submitNow (): void {
    if (this.lazyTimer !== undefined) {
      clearTimeout(this.lazyTimer)
      this.lazyTimer = undefined
    }
    this.eagerQueued = false
    if (this.count === 0 || this.closed) return
    const count = this.count
    const buffers = this.buffers
    this.count = 0
    this.buffers = []
    const rc = this.host.submit(this.words, count, buffers)
    if (rc !== 0) throw errorFromCode(rc)
  }

  listen (id: number, host: string, port: number, sink: ListenerSink): void {
    this.listeners.set(id, sink)
    this.push(Op.listen, id, 0, this.buf(utf8.encode(host)), port, 0)
  }

  dial (id: number, host: string, port: number, expectedPeer: Uint8Array | undefined, sink: DialSink): void {
    this.dials.set(id, sink)
    this.push(Op.dial, id, 0, this.buf(utf8.encode(host)), port, expectedPeer === undefined ? NO_BUF : this.buf(expectedPeer))
  }

  /** Listens on UDP with QUIC (needs setQuicCertificate first). */
  quicListen (id: number, host: string, port: number, sink: ListenerSink): void {
    this.listeners.set(id, sink)
    this.push(Op.quicListen, id, 0, this.buf(utf8.encode(host)), port, 0)
  }

  /** Dials over QUIC; the remote's certificate must name `expectedPeer` when given. */
  quicDial (id: number, host: string, port: number, expectedPeer: Uint8Array | undefined, sink: DialSink): void {
    this.dials.set(id, sink)
    this.push(Op.quicDial, id, 0, this.buf(utf8.encode(host)), port, expectedPeer === undefined ? NO_BUF : this.buf(expectedPeer))
  }

  /**
   * Builds our libp2p TLS certificate for QUIC: native makes the ephemeral key, `sign` signs its
   * message with the host key (which never leaves TypeScript). Call before quicListen/quicDial.
   */
  setQuicCertificate (publicKeyProtobuf: Uint8Array, sign: (message: Uint8Array) => Uint8Array): void {
    const message = this.host.quicCertRequest()
    this.host.quicCertFinish(publicKeyProtobuf, sign(message))
  }

  setProtocols (protocols: readonly string[]): void {
    this.push(Op.setProtocols, 0, 0, this.buf(utf8.encode(protocols.join('\n'))), 0, 0)
  }

  openStream (conn: number, handle: number, protocols: readonly string[]): void {
    const list = protocols.length === 1 ? protocols[0] as string : protocols.join('\n')
    let bytes = this.encodedLists.get(list)
    if (bytes === undefined) {
      if (this.encodedLists.size >= MAX_ENCODED_PROTOCOL_LISTS) this.encodedLists.clear()
      bytes = utf8.encode(list)
      this.encodedLists.set(list, bytes)
    }
    // submit() lends the buffer (native copies protocol lists), so one encoding serves every open.
    this.push(Op.openStream, conn, handle, this.buf(bytes), 0, 0, true)
  }

  /** Transfers `data` to native until a written record covers it. */
  send (conn: number, handle: number, data: Uint8Array): void {
    // Checked here, not in native: one bad buffer would make native reject the whole batch.
    if (!(data instanceof Uint8Array)) throw new InvalidArgumentError('send() takes a Uint8Array')
    if (data.byteLength > 0xffffffff) throw new LimitExceededError('send', 'a single send is limited to 4 GiB')
    this.push(Op.send, conn, handle, this.buf(data), 0, 0)
  }

  closeWrite (conn: number, handle: number): void { this.push(Op.closeWrite, conn, handle, 0, 0, 0) }
  reset (conn: number, handle: number): void { this.push(Op.reset, conn, handle, 0, 0, 0) }
  pause (conn: number, handle: number): void { this.push(Op.pause, conn, handle, 0, 0, 0) }
  resume (conn: number, handle: number): void { this.push(Op.resume, conn, handle, 0, 0, 0) }
  closeConnection (conn: number, graceful: boolean): void { this.push(Op.closeConn, conn, 0, graceful ? 1 : 0, 0, 0) }
  releaseConnection (conn: number): void { this.push(Op.releaseConn, conn, 0, 0, 0, 0, false, true) }
  closeListener (id: number): void { this.push(Op.closeListener, id, 0, 0, 0, 0) }

  /** Stops the I/O threads and closes every socket; no record is delivered afterwards. */
  close (): void {
    if (this.closed) return
    this.submitNow()
    this.closed = true
    this.stopLogUpdates()
    this.host.close()
    this.slabs.clear()
    // Pending dials learn of the shutdown (their promise must settle); connections and listeners
    // are finished by their owner (the transport), which knows the threads are joined.
    const dials = [...this.dials.values()]
    this.dials.clear()
    this.listeners.clear()
    this.conns.clear()
    for (const d of dials) d.onFailed(Code.shutdown, undefined)
  }

  get isClosed (): boolean { return this.closed }

  // ---- records -------------------------------------------------------------------------------
  private dispatch (records: Uint32Array, blob: Uint8Array, slabs: ArrayBuffer[], objects: AddonHandle[]): void {
    this.nextSlab = 0
    this.nextObject = 0
    const n = records.length
    for (let o = 0; o < n; o += RECORD_WORDS) {
      try {
        this.dispatchOne(records, o, blob, slabs, objects)
      } catch (err) {
        // A user handler threw: keep delivering the batch, surface the error as uncaught.
        process.nextTick(() => { throw err })
      }
    }
    // Commands queued by the sinks go out now rather than after another microtask turn.
    this.flush()
  }

  private dispatchOne (records: Uint32Array, o: number, blob: Uint8Array, slabs: ArrayBuffer[], objects: AddonHandle[]): void {
    {
      const type = records[o] as number
      const connId = records[o + 1] as number
      const stream = records[o + 2] as number
      const a = records[o + 3] as number
      switch (type) {
        case Ev.data: {
          const sink = this.conns.get(connId)
          const ab = this.slabs.get(a)
          if (sink !== undefined && ab !== undefined) sink.onData(stream, new Uint8Array(ab, records[o + 4] as number, records[o + 5] as number))
          break
        }
        case Ev.written: this.conns.get(connId)?.onWritten(stream, a); break
        case Ev.slab: {
          const ab = slabs[this.nextSlab++]
          if (ab !== undefined) this.slabs.set(a, ab)
          break
        }
        case Ev.slabRetired: this.slabs.delete(a); break
        case Ev.remoteFin: this.conns.get(connId)?.onRemoteFin(stream); break
        case Ev.remoteReset: this.conns.get(connId)?.onRemoteReset(stream, a); break
        case Ev.writeClosed: this.conns.get(connId)?.onWriteClosed(stream); break
        case Ev.streamReleased: this.conns.get(connId)?.onStreamReleased(stream); break
        case Ev.streamInbound:
        case Ev.streamOpened: {
          const sink = this.conns.get(connId)
          if (sink === undefined) break
          const protocol = utf8d.decode(blob.subarray(records[o + 6] as number, (records[o + 6] as number) + (records[o + 7] as number)))
          if (a !== 0xffffffff && !this.protocolNames.has(a)) this.protocolNames.set(a, protocol)
          if (type === Ev.streamInbound) sink.onStreamInbound(stream, protocol, a)
          else sink.onStreamOpened(stream, protocol, a)
          break
        }
        case Ev.streamOpenFailed: this.conns.get(connId)?.onStreamOpenFailed(stream, a); break
        case Ev.connOpen: {
          const handle = objects[this.nextObject++] as AddonHandle
          const info = decodeConnInfo(connId, records, o, blob, handle)
          let sink: ConnectionSink | undefined
          if (info.outbound) {
            const dial = this.dials.get(connId)
            this.dials.delete(connId)
            sink = dial?.onOpen(info)
          } else {
            sink = this.listeners.get(info.listenId)?.onInbound(info)
          }
          if (sink !== undefined) this.conns.set(connId, sink)
          else { handle.detach(); this.closeConnection(connId, false); this.releaseConnection(connId) }
          break
        }
        case Ev.connFailed: {
          const dial = this.dials.get(connId)
          const off = records[o + 6] as number
          const len = records[o + 7] as number
          if (dial !== undefined) {
            this.dials.delete(connId)
            this.releaseConnection(connId)  // lets native forget the dial id's thread
            dial.onFailed(a, len > 0 ? blob.slice(off, off + len) : undefined)
          } else {
            this.listeners.get(records[o + 5] as number)?.onInboundFailed(a)
          }
          break
        }
        case Ev.connClosed: {
          const sink = this.conns.get(connId)
          this.conns.delete(connId)
          sink?.onClosed(a)
          this.releaseConnection(connId)
          break
        }
        case Ev.listening: {
          const handle = objects[this.nextObject++] as AddonHandle
          const host = utf8d.decode(blob.subarray(records[o + 6] as number, (records[o + 6] as number) + (records[o + 7] as number)))
          this.listeners.get(connId)?.onListening(host, a, records[o + 4] as number, handle)
          break
        }
        case Ev.listenFailed: {
          const sink = this.listeners.get(connId)
          this.listeners.delete(connId)
          sink?.onListenFailed(a)
          break
        }
        case Ev.log: {
          const logger = this.nativeLoggers[a]
          const level = NativeLogLevels[records[o + 4] as number]
          if (logger === undefined || level === undefined || level === 'off' || !logger.enabled[level]) break
          const off = records[o + 6] as number
          const fields: Fields = {}
          if (connId !== 0) fields.conn = connId
          const code = records[o + 5] as number
          if (code !== 0) fields.code = code
          logger[level as Level](utf8d.decode(blob.subarray(off, off + (records[o + 7] as number))), fields)
          break
        }
        case Ev.logDropped: {
          const logger = this.nativeLoggers[0] as Logger
          if (logger.enabled.warn) logger.warn('native log lines dropped (more than kMaxLogBytesPerBatch in one batch)', { dropped: a })
          break
        }
        case Ev.listenerClosed: {
          const sink = this.listeners.get(connId)
          this.listeners.delete(connId)
          sink?.onClosed()
          break
        }
      }
    }
  }
}

/**
 * An address string of a connection record: an IP literal, so ASCII, decoded here without a
 * TextDecoder call (a call into native code each). decodeConnInfo is on the setup's critical path
 * on both sides; in the setup trace it took 6-8 us per connection with two TextDecoder calls and
 * 4.1-4.4 us with this (loaded machine, medians of 300). Other bytes still go through the decoder.
 */
function decodeHost (blob: Uint8Array, start: number, end: number): string {
  let s = ''
  for (let i = start; i < end; i++) {
    const b = blob[i] as number
    if (b >= 0x80) return utf8d.decode(blob.subarray(start, end))
    s += String.fromCharCode(b)
  }
  return s
}

function decodeConnInfo (id: number, records: Uint32Array, o: number, blob: Uint8Array, handle: AddonHandle): ConnInfo {
  let p = records[o + 6] as number
  const u16 = (): number => {
    const v = ((blob[p] as number) << 8) | (blob[p + 1] as number)
    p += 2
    return v
  }
  // A u16-length-prefixed field: returns its start, leaves p at its end.
  const field = (): number => {
    const len = u16()
    p += len
    return p - len
  }
  const str = (): Uint8Array => blob.slice(field(), p)
  const host = (): string => decodeHost(blob, field(), p)
  const remotePeer = str()
  const remoteHost = host()
  const localHost = host()
  const remotePort = u16()
  const localPort = u16()
  const family = blob[p] === 6 ? 6 : 4
  const earlyMuxer = blob[p + 1] === 1
  // TCP appends its security protocol (native/io/connection.cpp open_connection); QUIC does not.
  const blobEnd = (records[o + 6] as number) + (records[o + 7] as number)
  const encryption = p + 2 < blobEnd ? (blob[p + 2] === 1 ? '/tls/1.0.0' : '/noise') : undefined
  return {
    id,
    slot: records[o + 3] as number,
    outbound: records[o + 4] === 1,
    listenId: records[o + 5] as number,
    remotePeer,
    remoteHost,
    localHost,
    remotePort,
    localPort,
    family,
    earlyMuxer,
    encryption,
    handle
  }
}
