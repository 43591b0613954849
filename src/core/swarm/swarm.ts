/**
 * The Swarm: the event loop between transports and one NetworkBehaviour (rust-libp2p's `Swarm`).
 * It owns the transports (through a TransportSelector), the listeners, the connections and their
 * handlers, an address book and the external addresses; it keeps the ProtocolTable equal to the
 * union of the live handlers' inbound protocols; and it reports SwarmEvents.
 *
 * ## Poll order (one tick)
 * A tick runs when something woke the Swarm (a behaviour, a handler, a timer, a network event).
 * Local work comes before new remote work:
 *   1. the behaviour is polled until it has no command (each command is executed at once:
 *      `notifyHandler` is delivered to the handler, `dial`/`listenOn` are started, events go out);
 *   2. the connection handlers that were woken are polled (stream requests are started, their
 *      events go to the behaviour); a connection idle past its timeout is closed here;
 *   3. network results queued since the last tick are applied in arrival order: connections
 *      established (announced to the behaviour with `connectionEstablished`) and closed, dial
 *      failures, listener closes and errors (a new listener's addresses are reported when
 *      `listen` resolves).
 * Steps repeat until no step has work, at most `POLL_BUDGET_PER_TICK` items per tick; the rest
 * waits for the next macrotask so I/O callbacks are never starved. Ticks themselves run from
 * `setImmediate`: a wake never runs handlers inside the caller's microtask chain, so a dial's
 * promise chain registers the new connection before the remote side's handlers, woken by the same
 * connection, get to open streams towards it (a zero-latency transport would otherwise race).
 *
 * One exception keeps streams from racing their handler: when a transport yields a connection,
 * the behaviour's pending/established hooks run at once and the handler is registered (so its
 * protocols are in the ProtocolTable before the remote can open a stream). The behaviour hears
 * `connectionEstablished` in step 3, before any event from that handler.
 *
 * Timers: one per connection (its handler's `nextDeadline()` or its idle deadline, whichever is
 * first) and one for the behaviour's `nextDeadline()`. `close()` clears all of them.
 *
 * This file is the public face and the wiring; each concept has its own file: poll-loop.ts (ticks,
 * budget, the three steps' queues), commands.ts (the behaviour's `ToSwarm` commands),
 * connections.ts (established connections and their handlers), dialer.ts (dials in progress),
 * listeners.ts (listeners and their inbound connections), context.ts (what the parts share).
 */
import type { Multiaddr } from '@multiformats/multiaddr'
import { performance } from 'node:perf_hooks'
import type { PeerId } from '../../identity/peer-id.ts'
import type { PrivateKey } from '../../identity/types.ts'
import { logger as defaultLogger, type Logger } from '../../log/index.ts'
import {
  nextDialId, nextListenerId,
  type BehaviourEvent, type ConnectionId, type DialId, type DialOpts, type Endpoint, type ListenerId, type NetworkBehaviour
} from '../behaviour.ts'
import { AbortError, ConnectionClosedError, InvalidArgumentError } from '../errors.ts'
import type { Connection, Transport, TransportContext, TransportFactory } from '../transport.ts'
import { TransportSelector } from '../transport-selector.ts'
import { AddressBook, splitP2p, type AddressBookOptions } from './address-book.ts'
import { Commands } from './commands.ts'
import { ConnectionPool } from './connection-pool.ts'
import { Connections, DEFAULT_OUTBOUND_STREAM_TIMEOUT_MS, HANDLER_EVENTS_PER_POLL } from './connections.ts'
import type { SwarmContext, SwarmState } from './context.ts'
import { DEFAULT_DIAL_CONCURRENCY_FACTOR, DEFAULT_DIAL_TIMEOUT_MS, DEFAULT_FALLBACK_DIAL_DELAY_MS } from './dial.ts'
import { Dialer } from './dialer.ts'
import { SwarmEventBus, DEFAULT_EVENT_ITERATOR_BUFFER, type SwarmEvent, type SwarmEventOf, type SwarmEventType } from './events.ts'
import { ExternalAddresses, type Candidate } from './external-addresses.ts'
import { DEFAULT_IDLE_CONNECTION_TIMEOUT_MS } from './idle.ts'
import { Listeners } from './listeners.ts'
import { PollLoop, POLL_BUDGET_PER_TICK } from './poll-loop.ts'
import { RefCountedProtocolTable } from './protocol-table.ts'

export { POLL_BUDGET_PER_TICK, HANDLER_EVENTS_PER_POLL, DEFAULT_OUTBOUND_STREAM_TIMEOUT_MS }
/** How long `close()` waits for graceful connection closes before aborting them. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5_000

export interface SwarmConfig {
  /** Close a connection no handler keeps alive after this long (ms). Default 10 s. */
  idleConnectionTimeout?: number
  /** Addresses of one peer dialed at once. Default 8 (rust-libp2p). */
  dialConcurrencyFactor?: number
  /** Per-address dial timeout (ms). */
  dialTimeout?: number
  /**
   * When a dial has both QUIC and other (TCP) addresses: ms the QUIC ones get before the others
   * also start (they start at once when every QUIC attempt failed). Default 250 (RFC 8305's
   * Connection Attempt Delay); 0 dials every address at once.
   */
  fallbackDialDelay?: number
  /** Timeout to open an outbound stream for a handler (ms). */
  outboundStreamTimeout?: number
  /** Events an async iterator buffers before it fails with SwarmEventsLaggedError. */
  eventIteratorBuffer?: number
  shutdownTimeout?: number
  addressBook?: AddressBookOptions
  /** Monotonic clock in ms; default `performance.now`. */
  clock?: () => number
  logger?: Logger
}

export interface SwarmInit<B extends NetworkBehaviour<any, any>> {
  privateKey: PrivateKey
  peerId: PeerId
  /** Transports, or factories that receive the node context (identity and protocol table). */
  transports: ReadonlyArray<Transport | TransportFactory>
  behaviour: B
  config?: SwarmConfig
}

export interface ConnectionInfo {
  connectionId: ConnectionId
  peerId: PeerId
  endpoint: Endpoint
  transport: string
  connection: Connection
}

export class Swarm<B extends NetworkBehaviour<any, any>> {
  readonly localPeerId: PeerId
  readonly behaviour: B
  readonly protocols = new RefCountedProtocolTable()
  readonly addressBook: AddressBook
  private readonly transport: TransportSelector
  private readonly pool = new ConnectionPool()
  private readonly external = new ExternalAddresses()
  private readonly bus: SwarmEventBus<BehaviourEvent<B>>
  private readonly log: Logger
  private readonly clock: () => number
  private readonly iteratorBuffer: number
  private readonly shutdownTimeout: number
  private readonly loop: PollLoop
  private readonly connectionsPart: Connections
  private readonly dialer: Dialer
  private readonly listeners: Listeners
  private readonly commands: Commands
  private state: SwarmState = 'running'

  constructor (init: SwarmInit<B>) {
    const config = init.config ?? {}
    this.localPeerId = init.peerId
    this.behaviour = init.behaviour
    this.log = config.logger ?? defaultLogger('swarm')
    this.clock = config.clock ?? (() => performance.now())
    const idleTimeout = config.idleConnectionTimeout ?? DEFAULT_IDLE_CONNECTION_TIMEOUT_MS
    const dialConcurrency = config.dialConcurrencyFactor ?? DEFAULT_DIAL_CONCURRENCY_FACTOR
    const dialTimeout = config.dialTimeout ?? DEFAULT_DIAL_TIMEOUT_MS
    const fallbackDialDelay = config.fallbackDialDelay ?? DEFAULT_FALLBACK_DIAL_DELAY_MS
    const streamTimeout = config.outboundStreamTimeout ?? DEFAULT_OUTBOUND_STREAM_TIMEOUT_MS
    this.iteratorBuffer = config.eventIteratorBuffer ?? DEFAULT_EVENT_ITERATOR_BUFFER
    this.shutdownTimeout = config.shutdownTimeout ?? DEFAULT_SHUTDOWN_TIMEOUT_MS
    if (dialConcurrency < 1) throw new InvalidArgumentError('dialConcurrencyFactor must be at least 1')
    if (!(fallbackDialDelay >= 0)) throw new InvalidArgumentError('fallbackDialDelay must not be negative')
    if (idleTimeout < 0) throw new InvalidArgumentError('idleConnectionTimeout must not be negative')
    this.addressBook = new AddressBook(config.addressBook)
    this.bus = new SwarmEventBus((err) => { this.log.error('swarm event listener threw', { err }) })
    const context: TransportContext = { privateKey: init.privateKey, peerId: init.peerId, protocols: this.protocols }
    this.transport = new TransportSelector(init.transports.map(t => typeof t === 'function' ? t(context) : t))
    this.loop = new PollLoop({
      behaviour: this.behaviour,
      pool: this.pool,
      protocols: this.protocols,
      clock: this.clock,
      log: this.log,
      isClosed: () => this.state === 'closed',
      execute: (cmd) => { this.commands.execute(cmd) },
      pollConnection: (c) => this.connectionsPart.poll(c)
    })
    const swarm = this
    const ctx: SwarmContext = {
      behaviour: this.behaviour,
      bus: this.bus,
      log: this.log,
      clock: this.clock,
      pool: this.pool,
      protocols: this.protocols,
      addressBook: this.addressBook,
      transport: this.transport,
      loop: this.loop,
      get state (): SwarmState { return swarm.state }
    }
    this.connectionsPart = new Connections(ctx, { idleTimeout, streamTimeout })
    this.dialer = new Dialer(ctx, this.connectionsPart, { dialConcurrency, dialTimeout, fallbackDialDelay })
    this.listeners = new Listeners(ctx, this.connectionsPart)
    this.commands = new Commands(ctx, { connections: this.connectionsPart, dialer: this.dialer, listeners: this.listeners, external: this.external })
    this.protocols.on('change', (list: readonly string[]) => { this.connectionsPart.onLocalProtocolsChange(list) })
    this.loop.syncBehaviourProtocols()
    this.loop.schedule()
  }

  // ---- events ------------------------------------------------------------------------------

  on<T extends SwarmEventType> (type: T, listener: (event: SwarmEventOf<T, BehaviourEvent<B>>) => void): this
  on (type: '*', listener: (event: SwarmEvent<BehaviourEvent<B>>) => void): this
  on (type: string, listener: (event: any) => void): this {
    this.bus.on(type, listener)
    return this
  }

  off<T extends SwarmEventType> (type: T, listener: (event: SwarmEventOf<T, BehaviourEvent<B>>) => void): this
  off (type: '*', listener: (event: SwarmEvent<BehaviourEvent<B>>) => void): this
  off (type: string, listener: (event: any) => void): this {
    this.bus.off(type, listener)
    return this
  }

  once<T extends SwarmEventType> (type: T, listener: (event: SwarmEventOf<T, BehaviourEvent<B>>) => void): this {
    const wrapper = Object.assign((event: SwarmEventOf<T, BehaviourEvent<B>>): void => {
      this.bus.off(type, wrapper)
      listener(event)
    }, { original: listener })
    this.bus.on(type, wrapper)
    return this
  }

  listenerCount (type?: SwarmEventType | '*'): number {
    return this.bus.listenerCount(type)
  }

  /** An async iterator of every SwarmEvent from now on; ends when the Swarm is closed. */
  events (): AsyncIterableIterator<SwarmEvent<BehaviourEvent<B>>> {
    return this.bus.iterator(this.iteratorBuffer)
  }

  [Symbol.asyncIterator] (): AsyncIterableIterator<SwarmEvent<BehaviourEvent<B>>> {
    return this.events()
  }

  // ---- public API --------------------------------------------------------------------------

  /**
   * Starts listening; resolves with the listener id once bound (its addresses are reported as
   * `newListenAddr` events first). Rejects if no transport supports the address or binding fails.
   */
  async listen (address: Multiaddr, listenerId: ListenerId = nextListenerId()): Promise<ListenerId> {
    this.assertRunning()
    if (!this.transport.canListen(address)) throw new InvalidArgumentError(`no transport can listen on ${address.toString()}`)
    await this.listeners.start(listenerId, address)
    return listenerId
  }

  removeListener (listenerId: ListenerId): boolean {
    return this.listeners.remove(listenerId)
  }

  /**
   * Dials a peer (by id: addresses from the options, the address book and the behaviour) or an
   * address. Returns the DialId that the `connectionEstablished` or `outgoingConnectionError`
   * event repeats. Throws a DialError when the dial cannot start (condition, no address, denied);
   * the behaviour then also gets `dialFailure`.
   */
  dial (target: PeerId | Multiaddr | DialOpts): DialId {
    this.assertRunning()
    const opts: DialOpts = isDialOpts(target) ? target : isPeerId(target) ? { peerId: target } : { addresses: [target] }
    const dialId = opts.dialId ?? nextDialId()
    const err = this.dialer.start({ ...opts, dialId })
    if (err !== undefined) throw err
    return dialId
  }

  /** Closes every connection to a peer; returns false when there was none. */
  disconnectPeer (peerId: PeerId): boolean {
    const conns = this.pool.ofPeer(peerId.toString())
    for (const c of conns) this.connectionsPart.close(c, { type: 'local' })
    return conns.length > 0
  }

  closeConnection (connectionId: ConnectionId): boolean {
    const c = this.pool.get(connectionId)
    if (c === undefined) return false
    this.connectionsPart.close(c, { type: 'local' })
    return true
  }

  isConnected (peerId: PeerId): boolean {
    return this.pool.isConnected(peerId.toString())
  }

  connectedPeers (): PeerId[] {
    const out: PeerId[] = []
    for (const key of this.pool.peers()) {
      const c = this.pool.anyOfPeer(key) ?? this.pool.ofPeer(key)[0]
      if (c !== undefined) out.push(c.peerId)
    }
    return out
  }

  connections (peerId?: PeerId): ConnectionInfo[] {
    const list = peerId === undefined ? [...this.pool.values()] : this.pool.ofPeer(peerId.toString())
    return list.map(c => ({ connectionId: c.id, peerId: c.peerId, endpoint: c.endpoint, transport: c.connection.transport, connection: c.connection }))
  }

  get numEstablished (): number { return this.pool.size }
  get numInbound (): number { return this.pool.inboundCount }
  get numOutbound (): number { return this.pool.outboundCount }
  get numPendingDials (): number { return this.dialer.size }

  /** Bound listen addresses (without `/p2p/`). */
  listenAddresses (): Multiaddr[] {
    const out: Multiaddr[] = []
    for (const r of this.listeners.records.values()) out.push(...r.addresses)
    return out
  }

  listenerIds (): ListenerId[] {
    return [...this.listeners.records.keys()]
  }

  externalAddresses (): Multiaddr[] {
    return this.external.confirmed()
  }

  externalAddressCandidates (): Candidate[] {
    return this.external.candidates()
  }

  /** Confirms an external address (rust's `Swarm::add_external_address`). */
  addExternalAddress (address: Multiaddr): void {
    this.commands.confirmExternal(address)
  }

  removeExternalAddress (address: Multiaddr): void {
    this.commands.expireExternal(address)
  }

  /** Records a dialable address of a peer for later dials by PeerId. */
  addPeerAddress (peerId: PeerId, address: Multiaddr): void {
    this.addressBook.add(peerId, address)
  }

  /**
   * Graceful shutdown: stops dials and listeners, closes every connection (aborting those still
   * open after `shutdownTimeout`), closes the transports, clears every timer, and ends event
   * iterators after the last events (`connectionClosed`, `listenerClosed`).
   */
  async close (): Promise<void> {
    if (this.state !== 'running') {
      while (this.state !== 'closed') await new Promise(resolve => setTimeout(resolve, 5))
      return
    }
    this.state = 'closing'
    this.dialer.abortAll()
    const listenerCloses = [...this.listeners.records.values()].map(async r => { await r.listener.close() })
    const conns = [...this.pool.values()]
    const closes = conns.map(async c => {
      this.connectionsPart.close(c, { type: 'shutdown' })
      await c.closed
    })
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([
      Promise.allSettled([...listenerCloses, ...closes]),
      new Promise<void>(resolve => { timer = setTimeout(resolve, this.shutdownTimeout) })
    ])
    clearTimeout(timer)
    for (const c of [...this.pool.values()]) {
      c.connection.abort(new ConnectionClosedError('swarm shut down'))
      this.connectionsPart.onConnectionClosed(c, undefined)
    }
    for (const r of [...this.listeners.records.values()]) this.listeners.onClosed(r, undefined)
    await this.transport.close()
    // Apply what the closes queued, then stop.
    this.loop.drainInbox(Infinity)
    this.loop.stop()
    this.state = 'closed'
    this.bus.close()
  }

  get status (): 'running' | 'closing' | 'closed' { return this.state }

  private assertRunning (): void {
    if (this.state !== 'running') throw new AbortError('the swarm is closed')
  }
}

function isPeerId (x: unknown): x is PeerId {
  return typeof x === 'object' && x !== null && typeof (x as PeerId).toCID === 'function' && (x as PeerId).bytes instanceof Uint8Array
}

function isDialOpts (x: unknown): x is DialOpts {
  return typeof x === 'object' && x !== null && !isPeerId(x) && typeof (x as { getComponents?: unknown }).getComponents !== 'function'
}

export { splitP2p }
