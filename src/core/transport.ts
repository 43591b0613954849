/**
 * How bytes move: the Transport contract. A transport dials and listens on multiaddrs and yields
 * upgraded connections (secured, multiplexed, remote peer authenticated). The native TCP and QUIC
 * transports, the in-memory transport for tests, and a user's own transport all implement it; the
 * Swarm never knows which one it holds (rust-libp2p's `Transport` trait, async instead of polled).
 */
import type { EventEmitter } from 'node:events'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Stream } from './stream.ts'
import type { PeerId } from '../identity/peer-id.ts'
import type { PrivateKey } from '../identity/types.ts'

export type ConnectionDirection = 'inbound' | 'outbound'
export type ConnectionStatus = 'open' | 'closing' | 'closed'

export interface ConnectionEvents {
  /** An inbound stream whose protocol was negotiated against the local protocol table. */
  stream: [stream: Stream]
  /** The connection is gone; `err` says why when it was not a local graceful close. */
  close: [err?: Error]
}

export interface ConnectionTimeline {
  /** ms since epoch when the transport connection (TCP/QUIC) was established. */
  open: number
  /** ms since epoch when security and muxer were ready. */
  upgraded: number
  close?: number
}

/** Per-connection counters, read from native memory where the transport is native. */
export interface ConnectionCounters {
  bytesIn: number
  bytesOut: number
  framesIn: number
  framesOut: number
  errors: number
}

export interface OpenStreamOptions {
  signal?: AbortSignal
}

export interface Connection {
  readonly id: string
  readonly remotePeer: PeerId
  readonly remoteAddr: Multiaddr
  readonly localAddr: Multiaddr | undefined
  readonly direction: ConnectionDirection
  /** 'tcp', 'quic-v1', 'memory', ... */
  readonly transport: string
  /** '/noise', '/tls/1.0.0', or 'quic' (built in). */
  readonly encryption: string
  /** '/yamux/1.0.0', or 'quic' (built in). */
  readonly muxer: string
  readonly status: ConnectionStatus
  readonly timeline: ConnectionTimeline
  readonly streams: readonly Stream[]
  counters(): ConnectionCounters
  /** Open a stream and negotiate the first of `protocols` the remote supports. */
  openStream(protocols: string | readonly string[], options?: OpenStreamOptions): Promise<Stream>
  /** Graceful close: go-away, let open streams finish, then close. */
  close(): Promise<void>
  /** Close at once, resetting every stream with `err`. */
  abort(err: Error): void
  on<E extends keyof ConnectionEvents>(event: E, listener: (...args: ConnectionEvents[E]) => void): this
  once<E extends keyof ConnectionEvents>(event: E, listener: (...args: ConnectionEvents[E]) => void): this
  off<E extends keyof ConnectionEvents>(event: E, listener: (...args: ConnectionEvents[E]) => void): this
}

/**
 * The protocols this node accepts on inbound streams. The Swarm owns one and passes it to every
 * transport; transports negotiate inbound streams against it (native ones mirror it in native
 * memory, updated on 'change').
 */
export interface ProtocolTable extends EventEmitter {
  list(): readonly string[]
  has(protocol: string): boolean
}

/** What a transport needs from the node it belongs to. */
export interface TransportContext {
  readonly privateKey: PrivateKey
  readonly peerId: PeerId
  readonly protocols: ProtocolTable
}

export interface DialOptions {
  /** The peer the dialer expects (from `/p2p/` or the address book); a mismatch fails the dial. */
  expectedPeer?: PeerId
  signal?: AbortSignal
}

export interface ListenerEvents {
  connection: [connection: Connection]
  /** An inbound connection failed before it was upgraded; the listener keeps serving. */
  error: [err: Error]
  close: []
}

export interface Listener {
  /** The addresses actually bound (port 0 resolved), without `/p2p/`. */
  addrs(): Multiaddr[]
  close(): Promise<void>
  on<E extends keyof ListenerEvents>(event: E, listener: (...args: ListenerEvents[E]) => void): this
  once<E extends keyof ListenerEvents>(event: E, listener: (...args: ListenerEvents[E]) => void): this
  off<E extends keyof ListenerEvents>(event: E, listener: (...args: ListenerEvents[E]) => void): this
}

export interface Transport {
  /** Short name used in metrics labels: 'tcp', 'quic-v1', 'memory'. */
  readonly name: string
  canDial(addr: Multiaddr): boolean
  canListen(addr: Multiaddr): boolean
  listen(addr: Multiaddr): Promise<Listener>
  dial(addr: Multiaddr, options?: DialOptions): Promise<Connection>
  /** Close every listener and connection of this transport. */
  close(): Promise<void>
}

/** Builds a transport once the node's identity and protocol table exist. */
export type TransportFactory = (context: TransportContext) => Transport
