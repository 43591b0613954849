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
 */
import type { Multiaddr } from '@multiformats/multiaddr'
import { performance } from 'node:perf_hooks'
import { PeerId } from '../../identity/peer-id.ts'
import type { PrivateKey } from '../../identity/types.ts'
import { logger as defaultLogger, type Logger } from '../../log/index.ts'
import {
  ConnectionDenied, nextConnectionId, nextDialId, nextListenerId,
  type BehaviourEvent, type ConnectionId, type DialCondition, type DialId, type DialOpts, type Endpoint,
  type FromSwarm, type ListenerId, type NetworkBehaviour, type ToSwarm
} from '../behaviour.ts'
import { StreamUpgradeError, type ConnectionHandler, type PollContext } from '../handler.ts'
import { AbortError, ConnectionClosedError, DialError, InvalidArgumentError, TimeoutError, UnsupportedProtocolError } from '../errors.ts'
import type { Stream } from '../stream.ts'
import type { Connection, Listener, Transport, TransportContext, TransportFactory } from '../transport.ts'
import { TransportSelector } from '../transport-selector.ts'
import { AddressBook, splitP2p, type AddressBookOptions } from './address-book.ts'
import { ConnectionPool, type EstablishedConnection } from './connection-pool.ts'
import {
  AllAddressesFailedError, DEFAULT_DIAL_CONCURRENCY_FACTOR, DEFAULT_DIAL_TIMEOUT_MS, NoAddressesError,
  checkDialCondition, dialConcurrently, resolveDialAddresses
} from './dial.ts'
import { SwarmEventBus, DEFAULT_EVENT_ITERATOR_BUFFER, type CloseCause, type SwarmEvent, type SwarmEventOf, type SwarmEventType } from './events.ts'
import { ExternalAddresses, type Candidate } from './external-addresses.ts'
import { DEFAULT_IDLE_CONNECTION_TIMEOUT_MS, IdleTimer } from './idle.ts'
import { RefCountedProtocolTable } from './protocol-table.ts'

/**
 * Items (behaviour commands, handler polls, network results) processed per tick before yielding
 * to the event loop. At a few microseconds each, 256 keeps a tick near 1 ms, well inside the
 * 10 ms event-loop-delay target of issue 3.
 */
export const POLL_BUDGET_PER_TICK = 256
/** Events taken from one handler per poll before moving to the next (fairness between connections). */
export const HANDLER_EVENTS_PER_POLL = 32
/** Timeout to open and negotiate an outbound stream; rust-libp2p's default substream timeout is 10 s. */
export const DEFAULT_OUTBOUND_STREAM_TIMEOUT_MS = 10_000
/** How long `close()` waits for graceful connection closes before aborting them. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5_000

export interface SwarmConfig {
  /** Close a connection no handler keeps alive after this long (ms). Default 10 s. */
  idleConnectionTimeout?: number
  /** Addresses of one peer dialed at once. Default 8 (rust-libp2p). */
  dialConcurrencyFactor?: number
  /** Per-address dial timeout (ms). */
  dialTimeout?: number
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

interface ListenerRecord {
  id: ListenerId
  listener: Listener
  addresses: Multiaddr[]
  detach: () => void
}

interface PendingDial {
  dialId: DialId
  peerKey: string | undefined
  controller: AbortController
}

type AnyHandler = ConnectionHandler<any, any, any>

export class Swarm<B extends NetworkBehaviour<any, any>> {
  readonly localPeerId: PeerId
  readonly behaviour: B
  readonly protocols = new RefCountedProtocolTable()
  readonly addressBook: AddressBook
  private readonly transport: TransportSelector
  private readonly pool = new ConnectionPool()
  private readonly external = new ExternalAddresses()
  private readonly listeners = new Map<ListenerId, ListenerRecord>()
  private readonly pendingDials = new Map<DialId, PendingDial>()
  private readonly bus: SwarmEventBus<BehaviourEvent<B>>
  private readonly log: Logger
  private readonly clock: () => number
  private readonly idleTimeout: number
  private readonly dialConcurrency: number
  private readonly dialTimeout: number
  private readonly streamTimeout: number
  private readonly iteratorBuffer: number
  private readonly shutdownTimeout: number
  /** Network results waiting for step 3, in arrival order. */
  private readonly inbox: Array<() => void> = []
  private inboxHead = 0
  private readonly dirty = new Set<ConnectionId>()
  private scheduled = false
  private behaviourWoken = true
  private behaviourTimer: ReturnType<typeof setTimeout> | undefined
  private behaviourDeadline: number | undefined
  private immediate: ReturnType<typeof setImmediate> | undefined
  private state: 'running' | 'closing' | 'closed' = 'running'
  private readonly behaviourCx: PollContext
  private behaviourProtocols: readonly string[] = NO_PROTOCOLS
  private readonly wakeBound = (): void => { this.behaviourWoken = true; this.schedule() }

  constructor (init: SwarmInit<B>) {
    const config = init.config ?? {}
    this.localPeerId = init.peerId
    this.behaviour = init.behaviour
    this.log = config.logger ?? defaultLogger('swarm')
    this.clock = config.clock ?? (() => performance.now())
    this.idleTimeout = config.idleConnectionTimeout ?? DEFAULT_IDLE_CONNECTION_TIMEOUT_MS
    this.dialConcurrency = config.dialConcurrencyFactor ?? DEFAULT_DIAL_CONCURRENCY_FACTOR
    this.dialTimeout = config.dialTimeout ?? DEFAULT_DIAL_TIMEOUT_MS
    this.streamTimeout = config.outboundStreamTimeout ?? DEFAULT_OUTBOUND_STREAM_TIMEOUT_MS
    this.iteratorBuffer = config.eventIteratorBuffer ?? DEFAULT_EVENT_ITERATOR_BUFFER
    this.shutdownTimeout = config.shutdownTimeout ?? DEFAULT_SHUTDOWN_TIMEOUT_MS
    if (this.dialConcurrency < 1) throw new InvalidArgumentError('dialConcurrencyFactor must be at least 1')
    if (this.idleTimeout < 0) throw new InvalidArgumentError('idleConnectionTimeout must not be negative')
    this.addressBook = new AddressBook(config.addressBook)
    this.bus = new SwarmEventBus((err) => { this.log.error('swarm event listener threw', { err }) })
    const context: TransportContext = { privateKey: init.privateKey, peerId: init.peerId, protocols: this.protocols }
    this.transport = new TransportSelector(init.transports.map(t => typeof t === 'function' ? t(context) : t))
    this.protocols.on('change', (list: readonly string[]) => { this.onLocalProtocolsChange(list) })
    this.syncBehaviourProtocols()
    const clock = this.clock
    this.behaviourCx = {
      wake: this.wakeBound,
      get now (): number { return clock() }
    }
    this.schedule()
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
    await this.startListener(listenerId, address)
    return listenerId
  }

  removeListener (listenerId: ListenerId): boolean {
    const record = this.listeners.get(listenerId)
    if (record === undefined) return false
    void record.listener.close().catch((err: unknown) => { this.log.debug('listener close failed', { err }) })
    return true
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
    const err = this.startDial({ ...opts, dialId })
    if (err !== undefined) throw err
    return dialId
  }

  /** Closes every connection to a peer; returns false when there was none. */
  disconnectPeer (peerId: PeerId): boolean {
    const conns = this.pool.ofPeer(peerId.toString())
    for (const c of conns) this.closeConnectionInternal(c, { type: 'local' })
    return conns.length > 0
  }

  closeConnection (connectionId: ConnectionId): boolean {
    const c = this.pool.get(connectionId)
    if (c === undefined) return false
    this.closeConnectionInternal(c, { type: 'local' })
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
  get numPendingDials (): number { return this.pendingDials.size }

  /** Bound listen addresses (without `/p2p/`). */
  listenAddresses (): Multiaddr[] {
    const out: Multiaddr[] = []
    for (const r of this.listeners.values()) out.push(...r.addresses)
    return out
  }

  listenerIds (): ListenerId[] {
    return [...this.listeners.keys()]
  }

  externalAddresses (): Multiaddr[] {
    return this.external.confirmed()
  }

  externalAddressCandidates (): Candidate[] {
    return this.external.candidates()
  }

  /** Confirms an external address (rust's `Swarm::add_external_address`). */
  addExternalAddress (address: Multiaddr): void {
    this.confirmExternal(address)
  }

  removeExternalAddress (address: Multiaddr): void {
    this.expireExternal(address)
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
    for (const d of this.pendingDials.values()) d.controller.abort()
    const listenerCloses = [...this.listeners.values()].map(async r => { await r.listener.close() })
    const conns = [...this.pool.values()]
    const closes = conns.map(async c => {
      this.closeConnectionInternal(c, { type: 'shutdown' })
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
      this.onConnectionClosed(c, undefined)
    }
    for (const r of [...this.listeners.values()]) this.onListenerClosed(r, undefined)
    await this.transport.close()
    // Apply what the closes queued, then stop.
    this.drainInbox(Infinity)
    if (this.behaviourTimer !== undefined) clearTimeout(this.behaviourTimer)
    if (this.immediate !== undefined) clearImmediate(this.immediate)
    this.behaviourTimer = undefined
    this.immediate = undefined
    this.state = 'closed'
    this.bus.close()
  }

  get status (): 'running' | 'closing' | 'closed' { return this.state }

  // ---- the loop ----------------------------------------------------------------------------

  private schedule (): void {
    if (this.scheduled || this.state === 'closed') return
    this.scheduled = true
    // A macrotask, not a microtask: everything the current I/O callback and its promise chains
    // do (a dial resolving, a connection being registered) finishes before handlers run and
    // can act towards a remote, and a behaviour that wakes itself cannot starve I/O.
    this.immediate = setImmediate(() => { this.tick() })
  }

  private tick (): void {
    this.scheduled = false
    this.immediate = undefined
    if (this.state === 'closed') return
    let budget = POLL_BUDGET_PER_TICK
    let progressed = true
    while (progressed && budget > 0) {
      progressed = false
      // 1. behaviour
      if (this.behaviourWoken || this.behaviourDeadlineDue()) {
        this.behaviourWoken = false
        while (budget > 0) {
          const cmd = this.behaviour.poll(this.behaviourCx)
          if (cmd === undefined) break
          budget--
          progressed = true
          this.execute(cmd)
        }
        if (budget === 0) this.behaviourWoken = true
        this.syncBehaviourProtocols()
        this.armBehaviourTimer()
      }
      // 2. handlers
      if (this.dirty.size > 0 && budget > 0) {
        for (const id of [...this.dirty]) {
          if (budget <= 0) break
          this.dirty.delete(id)
          const c = this.pool.get(id)
          if (c === undefined) continue
          budget -= this.pollConnection(c)
          progressed = true
        }
      }
      // 3. network results
      if (this.inboxHead < this.inbox.length && budget > 0) {
        budget -= this.drainInbox(budget)
        progressed = true
      }
    }
    if (budget <= 0 && (this.behaviourWoken || this.dirty.size > 0 || this.inboxHead < this.inbox.length)) {
      // Out of budget with work left: let I/O run first.
      this.scheduled = true
      this.immediate = setImmediate(() => { this.tick() })
    }
  }

  /** Keeps the behaviour's declared protocols (`listenProtocols()`) in the table, as one more holder. */
  private syncBehaviourProtocols (): void {
    const declared = this.behaviour.listenProtocols?.() ?? NO_PROTOCOLS
    if (declared === this.behaviourProtocols) return
    this.protocols.update(this.behaviourProtocols, declared)
    this.behaviourProtocols = declared
  }

  private behaviourDeadlineDue (): boolean {
    return this.behaviourDeadline !== undefined && this.clock() >= this.behaviourDeadline
  }

  private armBehaviourTimer (): void {
    const deadline = this.behaviour.nextDeadline?.()
    if (deadline === this.behaviourDeadline) return
    if (this.behaviourTimer !== undefined) clearTimeout(this.behaviourTimer)
    this.behaviourTimer = undefined
    this.behaviourDeadline = deadline
    if (deadline === undefined || this.state === 'closed') return
    this.behaviourTimer = setTimeout(() => {
      this.behaviourTimer = undefined
      this.behaviourDeadline = undefined
      this.behaviourWoken = true
      this.schedule()
    }, Math.max(0, Math.ceil(deadline - this.clock())))
  }

  private drainInbox (budget: number): number {
    let n = 0
    while (this.inboxHead < this.inbox.length && n < budget) {
      const item = this.inbox[this.inboxHead] as () => void
      this.inbox[this.inboxHead] = noop
      this.inboxHead++
      n++
      item()
    }
    if (this.inboxHead >= this.inbox.length) {
      this.inbox.length = 0
      this.inboxHead = 0
    }
    return n
  }

  private enqueue (item: () => void): void {
    this.inbox.push(item)
    this.schedule()
  }

  private markDirty (c: EstablishedConnection): void {
    if (this.state === 'closed') return
    c.dirty = true
    this.dirty.add(c.id)
    this.schedule()
  }

  // ---- behaviour commands ------------------------------------------------------------------

  private execute (cmd: ToSwarm<BehaviourEvent<B>, unknown>): void {
    switch (cmd.type) {
      case 'generateEvent':
        this.bus.emit({ type: 'behaviour', event: cmd.event })
        return
      case 'dial':
        if (this.state !== 'running') {
          this.tellBehaviour({ type: 'dialFailure', peerId: cmd.opts.peerId, dialId: cmd.opts.dialId, error: new AbortError('swarm is shutting down') })
          return
        }
        this.startDial(cmd.opts)
        return
      case 'listenOn':
        if (this.state !== 'running') return
        this.startListener(cmd.listenerId, cmd.address).catch(() => { /* reported as listenerClosed */ })
        return
      case 'removeListener':
        this.removeListener(cmd.listenerId)
        return
      case 'notifyHandler': {
        const key = cmd.peerId.toString()
        const c = cmd.handler === 'any' ? this.pool.anyOfPeer(key) : this.pool.get(cmd.handler.connectionId)
        if (c === undefined || c.peerKey !== key || c.closing) {
          if (this.log.enabled.debug) this.log.debug('notifyHandler: no such connection, event dropped', { peer: key })
          return
        }
        c.handler.onBehaviourEvent(cmd.event)
        this.markDirty(c)
        return
      }
      case 'closeConnection': {
        const key = cmd.peerId.toString()
        if (cmd.connection === 'all') {
          for (const c of this.pool.ofPeer(key)) this.closeConnectionInternal(c, { type: 'local' })
        } else {
          const c = this.pool.get(cmd.connection.connectionId)
          if (c !== undefined && c.peerKey === key) this.closeConnectionInternal(c, { type: 'local' })
        }
        return
      }
      case 'newExternalAddrCandidate':
        this.external.addCandidate(cmd.address)
        this.tellBehaviour({ type: 'newExternalAddrCandidate', address: cmd.address })
        this.bus.emit({ type: 'newExternalAddrCandidate', address: cmd.address })
        return
      case 'externalAddrConfirmed':
        this.confirmExternal(cmd.address)
        return
      case 'externalAddrExpired':
        this.expireExternal(cmd.address)
        return
      case 'newExternalAddrOfPeer':
        this.addressBook.add(cmd.peerId, cmd.address)
        this.tellBehaviour({ type: 'newExternalAddrOfPeer', peerId: cmd.peerId, address: cmd.address })
        this.bus.emit({ type: 'newExternalAddrOfPeer', peerId: cmd.peerId, address: cmd.address })
    }
  }

  private tellBehaviour (event: FromSwarm): void {
    try {
      this.behaviour.onSwarmEvent(event)
    } catch (err) {
      this.log.error('behaviour onSwarmEvent threw', { err, event: event.type })
    }
    this.behaviourWoken = true
    this.schedule()
  }

  private confirmExternal (address: Multiaddr): void {
    const { added, evicted } = this.external.confirm(address)
    if (evicted !== undefined) {
      this.tellBehaviour({ type: 'externalAddrExpired', address: evicted })
      this.bus.emit({ type: 'externalAddrExpired', address: evicted })
    }
    if (!added) return
    this.tellBehaviour({ type: 'externalAddrConfirmed', address })
    this.bus.emit({ type: 'externalAddrConfirmed', address })
  }

  private expireExternal (address: Multiaddr): void {
    if (!this.external.expire(address)) return
    this.tellBehaviour({ type: 'externalAddrExpired', address })
    this.bus.emit({ type: 'externalAddrExpired', address })
  }

  // ---- listening ---------------------------------------------------------------------------

  private async startListener (listenerId: ListenerId, address: Multiaddr): Promise<void> {
    if (this.listeners.has(listenerId)) throw new InvalidArgumentError(`listener id ${listenerId} is in use`)
    let listener: Listener
    try {
      listener = await this.transport.listen(address)
    } catch (err) {
      const error = toError(err)
      this.enqueue(() => {
        this.tellBehaviour({ type: 'listenerClosed', listenerId, addresses: [], error })
        this.bus.emit({ type: 'listenerClosed', listenerId, addresses: [], error })
      })
      throw error
    }
    if (this.state !== 'running') {
      await listener.close()
      throw new AbortError('swarm is shutting down')
    }
    const onConnection = (connection: Connection): void => { this.onInboundConnection(record, connection) }
    const onError = (err: Error): void => {
      this.enqueue(() => {
        this.tellBehaviour({ type: 'listenFailure', localAddr: record.addresses[0], sendBackAddr: record.addresses[0] as Multiaddr, error: err })
        this.bus.emit({ type: 'incomingConnectionError', connectionId: undefined, localAddr: record.addresses[0], sendBackAddr: undefined, error: err })
      })
    }
    const onClose = (): void => { this.enqueue(() => { this.onListenerClosed(record, undefined) }) }
    const record: ListenerRecord = {
      id: listenerId,
      listener,
      addresses: listener.addrs(),
      detach: () => {
        listener.off('connection', onConnection)
        listener.off('error', onError)
        listener.off('close', onClose)
      }
    }
    listener.on('connection', onConnection)
    listener.on('error', onError)
    listener.on('close', onClose)
    this.listeners.set(listenerId, record)
    this.tellBehaviour({ type: 'newListener', listenerId })
    for (const addr of record.addresses) {
      this.tellBehaviour({ type: 'newListenAddr', listenerId, address: addr })
      this.bus.emit({ type: 'newListenAddr', listenerId, address: addr })
    }
    if (this.log.enabled.info) this.log.info('listening', { listenerId, addrs: record.addresses.map(String) })
  }

  private onListenerClosed (record: ListenerRecord, error: Error | undefined): void {
    if (this.listeners.get(record.id) !== record) return
    this.listeners.delete(record.id)
    record.detach()
    for (const addr of record.addresses) {
      this.tellBehaviour({ type: 'expiredListenAddr', listenerId: record.id, address: addr })
      this.bus.emit({ type: 'expiredListenAddr', listenerId: record.id, address: addr })
    }
    this.tellBehaviour(error === undefined
      ? { type: 'listenerClosed', listenerId: record.id, addresses: record.addresses }
      : { type: 'listenerClosed', listenerId: record.id, addresses: record.addresses, error })
    this.bus.emit(error === undefined
      ? { type: 'listenerClosed', listenerId: record.id, addresses: record.addresses }
      : { type: 'listenerClosed', listenerId: record.id, addresses: record.addresses, error })
  }

  private onInboundConnection (record: ListenerRecord, connection: Connection): void {
    if (this.state !== 'running') {
      connection.abort(new ConnectionClosedError('swarm is shutting down'))
      return
    }
    const connectionId = nextConnectionId()
    const localAddr = connection.localAddr ?? record.addresses[0]
    const sendBackAddr = connection.remoteAddr
    this.bus.emit({ type: 'incomingConnection', connectionId, localAddr, sendBackAddr })
    const deny = (error: Error): void => {
      connection.abort(error)
      this.enqueue(() => {
        this.tellBehaviour({ type: 'listenFailure', localAddr, sendBackAddr, error, peerId: connection.remotePeer, connectionId })
        this.bus.emit({ type: 'incomingConnectionError', connectionId, localAddr, sendBackAddr, peerId: connection.remotePeer, error })
      })
    }
    let handler: AnyHandler | ConnectionDenied
    try {
      const pending = this.behaviour.handlePendingInboundConnection?.({ connectionId, localAddr, sendBackAddr })
      if (pending instanceof ConnectionDenied) { deny(pending); return }
      handler = this.behaviour.handleEstablishedInboundConnection({ connectionId, localAddr, sendBackAddr, peerId: connection.remotePeer })
    } catch (err) {
      deny(toError(err))
      return
    }
    if (handler instanceof ConnectionDenied) { deny(handler); return }
    this.register(connectionId, connection, handler, { role: 'listener', localAddr, sendBackAddr }, undefined, [])
  }

  // ---- dialing -----------------------------------------------------------------------------

  /** Starts a dial; returns the error when it cannot start (already reported to the behaviour). */
  private startDial (opts: DialOpts & { dialId: DialId }): Error | undefined {
    const { dialId } = opts
    let peerId = opts.peerId
    const fail = (error: Error): Error => {
      this.tellBehaviour({ type: 'dialFailure', peerId, dialId, error })
      return error
    }
    const condition: DialCondition = opts.condition ?? (peerId !== undefined ? 'disconnected' : 'always')
    if (peerId !== undefined) {
      const key = peerId.toString()
      const refused = checkDialCondition(condition, { connected: this.pool.isConnected(key), dialing: this.pool.isDialing(key) })
      if (refused !== undefined) return fail(refused)
    }
    const connectionId = nextConnectionId()
    const lists: Array<readonly Multiaddr[]> = [opts.addresses ?? []]
    const extend = opts.extendAddresses ?? (peerId !== undefined)
    try {
      if (extend && peerId !== undefined) {
        lists.push(this.addressBook.get(peerId))
        const fromBehaviour = this.behaviour.addressesOfPeer?.(peerId)
        if (fromBehaviour !== undefined) lists.push(fromBehaviour)
      }
      const pending = this.behaviour.handlePendingOutboundConnection?.({ connectionId, dialId, peerId, addresses: lists.flat() })
      if (pending instanceof ConnectionDenied) return fail(pending)
      if (pending !== undefined) lists.push(pending)
    } catch (err) {
      return fail(toError(err))
    }
    const resolved = resolveDialAddresses(peerId, lists, a => this.transport.canDial(a))
    if (peerId === undefined && resolved.peerIdText !== undefined) {
      // A `/p2p/` address names the peer: the condition applies to it too.
      const key = resolved.peerIdText
      const refused = condition === 'always' ? undefined : checkDialCondition(condition, { connected: this.pool.isConnected(key), dialing: this.pool.isDialing(key) })
      if (refused !== undefined) return fail(refused)
    }
    if (resolved.addresses.length === 0) {
      return fail(resolved.rejected.length > 0 ? new AllAddressesFailedError(resolved.rejected) : new NoAddressesError(peerId?.toString()))
    }
    const peerKey = peerId?.toString() ?? resolved.peerIdText
    const controller = new AbortController()
    const record: PendingDial = { dialId, peerKey, controller }
    this.pendingDials.set(dialId, record)
    if (peerKey !== undefined) this.pool.addDial(peerKey, dialId)
    this.bus.emit({ type: 'dialing', dialId, peerId, addresses: resolved.addresses })
    if (this.log.enabled.debug) this.log.debug('dialing', { dialId, peer: peerKey, addrs: resolved.addresses.map(String) })
    const started = this.clock()
    const expectedPeerText = peerKey
    dialConcurrently(resolved.addresses, async (address, signal) => await this.dialAddress(address, expectedPeerText, peerId, signal),
      opts.concurrency ?? this.dialConcurrency, controller.signal)
      .then(({ connection, address, errors }) => {
        this.pendingDials.delete(dialId)
        if (peerKey !== undefined) this.pool.removeDial(peerKey, dialId)
        if (this.state !== 'running') {
          connection.abort(new ConnectionClosedError('swarm is shutting down'))
          this.enqueue(() => { this.dialFailed(dialId, peerId, new AbortError('swarm is shutting down'), []) })
          return
        }
        if (expectedPeerText !== undefined && connection.remotePeer.toString() !== expectedPeerText) {
          const error = new DialError(`dialed ${expectedPeerText} but reached ${connection.remotePeer.toString()}`, 'ERR_PEER_ID_MISMATCH')
          connection.abort(error)
          this.enqueue(() => { this.dialFailed(dialId, peerId, error, [...errors, { address, error }]) })
          return
        }
        peerId ??= connection.remotePeer
        this.addressBook.add(connection.remotePeer, address)
        let handler: AnyHandler | ConnectionDenied
        try {
          handler = this.behaviour.handleEstablishedOutboundConnection({ connectionId, dialId, peerId: connection.remotePeer, address })
        } catch (err) {
          handler = new ConnectionDenied('behaviour', 'handleEstablishedOutboundConnection threw', { cause: err })
        }
        if (handler instanceof ConnectionDenied) {
          const denied = handler
          connection.abort(denied)
          this.enqueue(() => { this.dialFailed(dialId, peerId, denied, errors, connectionId) })
          return
        }
        this.register(connectionId, connection, handler, { role: 'dialer', address }, dialId, errors.map(e => e.address), this.clock() - started)
      }, (err: unknown) => {
        this.pendingDials.delete(dialId)
        if (peerKey !== undefined) this.pool.removeDial(peerKey, dialId)
        const error = toError(err)
        this.enqueue(() => { this.dialFailed(dialId, peerId, error, error instanceof AllAddressesFailedError ? error.addressErrors : []) })
      })
    return undefined
  }

  private async dialAddress (address: Multiaddr, expectedPeerText: string | undefined, peerId: PeerId | undefined, signal: AbortSignal): Promise<Connection> {
    const controller = new AbortController()
    const onAbort = (): void => { controller.abort() }
    signal.addEventListener('abort', onAbort, { once: true })
    const timer = setTimeout(() => { controller.abort(new TimeoutError(`dial timed out after ${this.dialTimeout} ms`)) }, this.dialTimeout)
    try {
      const expectedPeer = peerId ?? (expectedPeerText === undefined ? undefined : PeerId.parse(expectedPeerText))
      const options = expectedPeer === undefined ? { signal: controller.signal } : { signal: controller.signal, expectedPeer }
      return await this.transport.dial(address, options)
    } catch (err) {
      if (controller.signal.aborted && controller.signal.reason instanceof TimeoutError) throw controller.signal.reason
      throw err
    } finally {
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
    }
  }

  private dialFailed (dialId: DialId, peerId: PeerId | undefined, error: Error, addressErrors: ReadonlyArray<{ address: Multiaddr, error: Error }>, connectionId?: ConnectionId): void {
    if (this.log.enabled.debug) this.log.debug('dial failed', { dialId, peer: peerId?.toString(), err: error })
    this.tellBehaviour(connectionId === undefined ? { type: 'dialFailure', peerId, dialId, error } : { type: 'dialFailure', peerId, dialId, error, connectionId })
    this.bus.emit({ type: 'outgoingConnectionError', dialId, peerId, error, addressErrors })
  }

  // ---- connections -------------------------------------------------------------------------

  /** Registers an established connection and its handler; the behaviour hears of it in step 3. */
  private register (connectionId: ConnectionId, connection: Connection, handler: AnyHandler, endpoint: Endpoint,
    dialId: DialId | undefined, failedAddresses: Multiaddr[], establishedInMs?: number): void {
    const peerId = connection.remotePeer
    const now = this.clock()
    const protocols = handler.listenProtocols()
    const onStream = (stream: Stream): void => { this.onInboundStream(c, stream) }
    const onClose = (err?: Error): void => { this.enqueue(() => { this.onConnectionClosed(c, err) }) }
    const c: EstablishedConnection = {
      id: connectionId,
      peerId,
      peerKey: peerId.toString(),
      endpoint,
      connection,
      handler,
      dialId,
      protocols,
      pendingOutbound: 0,
      idle: new IdleTimer(this.idleTimeout, now),
      deadline: undefined,
      timer: undefined,
      dirty: false,
      closing: false,
      detach: () => {
        connection.off('stream', onStream)
        connection.off('close', onClose)
      }
    }
    this.protocols.update([], protocols)
    if (handler.onConnectionEvent !== undefined) {
      try {
        handler.onConnectionEvent({ type: 'localProtocolsChange', protocols: this.protocols.list() })
      } catch (err) {
        this.log.error('handler onConnectionEvent threw', { err })
      }
    }
    connection.on('stream', onStream)
    connection.on('close', onClose)
    const numEstablished = this.pool.add(c)
    if (this.log.enabled.debug) this.log.debug('connection established', { connectionId, peer: c.peerKey, role: endpoint.role, transport: connection.transport })
    this.enqueue(() => {
      if (this.pool.get(connectionId) !== c) return
      this.tellBehaviour(dialId === undefined
        ? { type: 'connectionEstablished', peerId, connectionId, endpoint, otherEstablished: numEstablished - 1, failedAddresses }
        : { type: 'connectionEstablished', peerId, connectionId, endpoint, otherEstablished: numEstablished - 1, failedAddresses, dialId })
      const event: SwarmEvent<BehaviourEvent<B>> = { type: 'connectionEstablished', peerId, connectionId, endpoint, numEstablished, transport: connection.transport }
      if (dialId !== undefined) event.dialId = dialId
      if (establishedInMs !== undefined) event.establishedInMs = establishedInMs
      this.bus.emit(event)
      // First poll: gives the handler its waker and arms its timers.
      this.markDirty(c)
    })
    if (connection.status !== 'open') onClose()
  }

  private onInboundStream (c: EstablishedConnection, stream: Stream): void {
    if (c.closing || this.pool.get(c.id) !== c) {
      stream.reset()
      return
    }
    const protocols = c.handler.listenProtocols()
    if (!protocols.includes(stream.protocol)) {
      if (this.log.enabled.debug) this.log.debug('inbound stream for a protocol this handler does not serve', { protocol: stream.protocol })
      stream.reset()
      return
    }
    try {
      c.handler.onInboundStream(stream, stream.protocol)
    } catch (err) {
      this.log.error('handler onInboundStream threw', { err, protocol: stream.protocol })
      stream.reset()
    }
    this.markDirty(c)
  }

  /** Polls one connection's handler; returns the work done (for the budget). */
  private pollConnection (c: EstablishedConnection): number {
    c.dirty = false
    if (c.closing) return 1
    const cx: PollContext = { now: this.clock(), wake: c.wake ??= () => { this.markDirty(c) } }
    let n = 0
    for (; n < HANDLER_EVENTS_PER_POLL; n++) {
      let ev
      try {
        ev = c.handler.poll(cx)
      } catch (err) {
        this.log.error('handler poll threw; closing the connection', { err, connectionId: c.id })
        this.closeConnectionInternal(c, { type: 'local' })
        return n + 1
      }
      if (ev === undefined) break
      switch (ev.type) {
        case 'notifyBehaviour':
          try {
            this.behaviour.onConnectionHandlerEvent(c.peerId, c.id, ev.event)
          } catch (err) {
            this.log.error('behaviour onConnectionHandlerEvent threw', { err })
          }
          this.behaviourWoken = true
          break
        case 'outboundStreamRequest':
          this.openOutboundStream(c, ev.protocols, ev.info, ev.timeoutMs ?? this.streamTimeout)
          break
        case 'reportRemoteProtocols':
          c.handler.onConnectionEvent?.({ type: 'remoteProtocolsChange', protocols: ev.protocols })
          break
      }
    }
    if (n === HANDLER_EVENTS_PER_POLL) this.markDirty(c)
    const protocols = c.handler.listenProtocols()
    if (protocols !== c.protocols) {
      this.protocols.update(c.protocols, protocols)
      c.protocols = protocols
    }
    const now = this.clock()
    const keepAlive = c.pendingOutbound > 0 || c.handler.keepAlive()
    const idleDeadline = c.idle.update(keepAlive, now)
    if (idleDeadline !== undefined && now >= idleDeadline) {
      if (this.log.enabled.debug) this.log.debug('closing idle connection', { connectionId: c.id, peer: c.peerKey })
      this.closeConnectionInternal(c, { type: 'idle' })
      return n + 1
    }
    const handlerDeadline = c.handler.nextDeadline?.()
    const deadline = handlerDeadline === undefined ? idleDeadline : idleDeadline === undefined ? handlerDeadline : Math.min(handlerDeadline, idleDeadline)
    this.armConnectionTimer(c, deadline, now)
    return n + 1
  }

  private armConnectionTimer (c: EstablishedConnection, deadline: number | undefined, now: number): void {
    if (deadline === c.deadline && (deadline === undefined || c.timer !== undefined)) return
    if (c.timer !== undefined) clearTimeout(c.timer)
    c.timer = undefined
    c.deadline = deadline
    if (deadline === undefined) return
    c.timer = setTimeout(() => {
      c.timer = undefined
      c.deadline = undefined
      this.markDirty(c)
    }, Math.max(0, Math.ceil(deadline - now)))
  }

  private openOutboundStream (c: EstablishedConnection, protocols: readonly string[], info: unknown, timeoutMs: number): void {
    c.pendingOutbound++
    const controller = new AbortController()
    const timer = setTimeout(() => { controller.abort(new TimeoutError(`opening a stream timed out after ${timeoutMs} ms`)) }, timeoutMs)
    c.connection.openStream(protocols, { signal: controller.signal }).then(stream => {
      clearTimeout(timer)
      c.pendingOutbound--
      if (c.closing || this.pool.get(c.id) !== c) {
        stream.reset()
        return
      }
      try {
        c.handler.onOutboundStream(stream, stream.protocol, info)
      } catch (err) {
        this.log.error('handler onOutboundStream threw', { err })
        stream.reset()
      }
      this.markDirty(c)
    }, (err: unknown) => {
      clearTimeout(timer)
      c.pendingOutbound--
      if (this.pool.get(c.id) !== c) return
      const error = toError(err)
      const kind = controller.signal.aborted ? 'timeout' : error instanceof UnsupportedProtocolError ? 'unsupported' : c.closing || c.connection.status !== 'open' ? 'closed' : 'io'
      try {
        c.handler.onOutboundStreamError(info, new StreamUpgradeError(kind, error.message, { cause: error }))
      } catch (e) {
        this.log.error('handler onOutboundStreamError threw', { err: e })
      }
      this.markDirty(c)
    })
  }

  private closeConnectionInternal (c: EstablishedConnection, cause: CloseCause): void {
    if (c.closing) return
    c.closing = true
    c.closeCause = cause
    if (c.timer !== undefined) clearTimeout(c.timer)
    c.timer = undefined
    this.closeHandler(c)
    c.closed = c.connection.close().then(() => {
      // A transport that does not emit 'close' after close() still gets cleaned up.
      this.enqueue(() => { this.onConnectionClosed(c, undefined) })
    }, (err: unknown) => {
      c.connection.abort(toError(err))
      this.enqueue(() => { this.onConnectionClosed(c, toError(err)) })
    })
  }

  private onLocalProtocolsChange (protocols: readonly string[]): void {
    for (const c of this.pool.values()) {
      if (c.closing || c.handler.onConnectionEvent === undefined) continue
      try {
        c.handler.onConnectionEvent({ type: 'localProtocolsChange', protocols })
      } catch (err) {
        this.log.error('handler onConnectionEvent threw', { err })
      }
      this.markDirty(c)
    }
  }

  /** Tells the handler once, before a local graceful close (so it can end its streams) or after a remote close. */
  private closeHandler (c: EstablishedConnection): void {
    if (c.handlerClosed === true) return
    c.handlerClosed = true
    try {
      c.handler.onClose?.()
    } catch (e) {
      this.log.error('handler onClose threw', { err: e })
    }
  }

  private onConnectionClosed (c: EstablishedConnection, err: Error | undefined): void {
    if (this.pool.get(c.id) !== c) return
    const remaining = this.pool.remove(c.id)
    c.closing = true
    c.detach()
    this.dirty.delete(c.id)
    if (c.timer !== undefined) clearTimeout(c.timer)
    c.timer = undefined
    this.protocols.update(c.protocols, [])
    this.closeHandler(c)
    const cause: CloseCause = c.closeCause ?? (err === undefined ? { type: 'remote' } : { type: 'remote', error: err })
    if (this.log.enabled.debug) this.log.debug('connection closed', { connectionId: c.id, peer: c.peerKey, cause: cause.type })
    this.tellBehaviour(err === undefined
      ? { type: 'connectionClosed', peerId: c.peerId, connectionId: c.id, endpoint: c.endpoint, remainingEstablished: remaining }
      : { type: 'connectionClosed', peerId: c.peerId, connectionId: c.id, endpoint: c.endpoint, remainingEstablished: remaining, cause: err })
    this.bus.emit({ type: 'connectionClosed', peerId: c.peerId, connectionId: c.id, endpoint: c.endpoint, numEstablished: remaining, cause })
  }

  private assertRunning (): void {
    if (this.state !== 'running') throw new AbortError('the swarm is closed')
  }
}

function noop (): void {}

const NO_PROTOCOLS: readonly string[] = Object.freeze([])

function toError (err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}

function isPeerId (x: unknown): x is PeerId {
  return typeof x === 'object' && x !== null && typeof (x as PeerId).toCID === 'function' && (x as PeerId).bytes instanceof Uint8Array
}

function isDialOpts (x: unknown): x is DialOpts {
  return typeof x === 'object' && x !== null && !isPeerId(x) && typeof (x as { getComponents?: unknown }).getComponents !== 'function'
}

export { splitP2p }
