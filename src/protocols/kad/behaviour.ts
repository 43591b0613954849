/**
 * The Kademlia NetworkBehaviour (rust-libp2p's `kad::Behaviour`). It does no I/O: it keeps the
 * routing table, the record store and the running queries, hears about connections from the
 * Swarm and about requests and responses from its handlers, and answers with `ToSwarm` commands
 * (dial a peer, send a request on a connection, emit an event).
 *
 * Operations (each returns a `QueryId` that every event of the operation repeats):
 * `getClosestPeers`, `getRecord` (quorum), `putRecord` (quorum), `startProviding`,
 * `stopProviding` (local only), `getProviders`, `bootstrap`; `cancel(id)` ends one.
 *
 * Timers (all from the Swarm's monotonic `now`; none when their interval is null/disabled):
 * routing-table refresh (`refreshInterval`, `autoRefresh`), record replication
 * (`replicationInterval`) and republication (`publicationInterval`), provider republication
 * (`providerPublicationInterval`), store expiry, pending-entry and admission-check deadlines.
 * Record expiry uses wall-clock time (`wallClock`, default `Date.now`) so that it means the same
 * thing after a restart of a persistent store.
 *
 * Modes: a client advertises no kad protocol and answers nothing; a server does both. 'auto' is
 * server while at least one external address is confirmed; 'auto-server' (Go) is server until the
 * last confirmed external address expires. Each switch emits `modeChanged`.
 */
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type {
  ConnectionId, DialId, EstablishedInboundInfo, EstablishedOutboundInfo, FromSwarm, NetworkBehaviour, PollContext, ToSwarm
} from '../../core/behaviour.ts'
import { nextDialId } from '../../core/behaviour.ts'
import { PollQueue, StreamUpgradeError } from '../../core/handler.ts'
import { InvalidArgumentError } from '../../core/errors.ts'
import { PeerId } from '../../identity/peer-id.ts'
import { randomBytes } from 'node:crypto'
import { logger as defaultLogger, type Logger } from '../../log/index.ts'
import { createKadConfig, kadProtocols, type KadConfig } from './config.ts'
import {
  MAINTENANCE_INTERVAL, MAX_ACTIVE_QUERIES, MAX_ADDRESS_CACHE, MAX_NOT_SERVER_CACHE, MAX_PENDING_REQUESTS_PER_PEER, NOT_SERVER_RETRY,
  MAX_PROVIDERS_PER_RESPONSE, STORE_EXPIRY_INTERVAL
} from './constants.ts'
import { KadHandler, type InboundId, type KadHandlerIn, type KadHandlerOut, type RequestId } from './handler.ts'
import { AdmissionQueue } from './kbucket/admission.ts'
import { compareDistance, equalBytes, keyFromBytes, keyFromPeer, randomKeyForCpl, type KadKey } from './kbucket/key.ts'
import { RoutingTable, type UpdateResult } from './kbucket/table.ts'
import { ConnectionType, kadMessage, MessageType, type KadMessage, type WirePeer } from './message.ts'
import { ClosestPeersIter, type ClosestPeersConfig, type QueryPeersIter } from './query/closest.ts'
import { ClosestDisjointPeersIter } from './query/disjoint.ts'
import { MemoryRecordStore } from './store/memory.ts'
import { openPersistentStoreSync, type PersistentStoreKind } from './store/persistent.ts'
import type { RecordStore, StoredRecord } from './store/types.ts'
import { Validators, type RecordValidator } from './store/validation.ts'
import type {
  InboundRequest, KadEvent, KadRecord, PeerInfo, QueryErrorCode, QueryId, QueryResult, QueryStats, QueryTrigger
} from './types.ts'

export interface KademliaInit {
  /** Our peer id (the Swarm's). */
  peerId: PeerId
  /** Parameters; see config.ts. Overlaid on `base` (ours by default, or `goDefaults()`/`rustDefaults()`). */
  config?: Partial<KadConfig>
  base?: KadConfig
  /** Where records live. Default: the persistent store in `dataDir` when given (lmdb, see `storeKind`), else in memory. */
  store?: RecordStore
  /** The node's data directory; records and provider entries persist there (`kad-store.mdb`). */
  dataDir?: string
  /**
   * Which persistent store `dataDir` gets: 'lmdb' (default, chosen by bench/kad/store.md; falls
   * back to the journal if lmdb's native binary does not load) or 'journal'. classic-level opens
   * asynchronously: pass it as `store` (`await openPersistentStore(dir, { kind: 'level' })`).
   */
  storeKind?: Exclude<PersistentStoreKind, 'level'>
  /** Validators per namespace, beside the built-in `/pk/`. */
  validators?: Record<string, RecordValidator>
  /** Accept records under namespaces without a validator (Rust's behaviour). Default false (Go's). */
  acceptUnknownNamespaces?: boolean
  /** Wall clock for record expiry (ms since epoch). Default `Date.now`. */
  wallClock?: () => number
  logger?: Logger
}

type Kind = 'getClosestPeers' | 'getRecord' | 'putRecord' | 'startProviding' | 'getProviders' | 'bootstrap'

interface Query {
  id: QueryId
  kind: Kind
  trigger: QueryTrigger
  key: KadKey
  iter: QueryPeersIter
  phase: 'lookup' | 'store' | 'done'
  stats: QueryStats
  step: number
  /** Peer id → hops to reach it (initial peers: 0). */
  depth: Map<string, number>
  /** Outstanding requests of this query. */
  requests: Map<RequestId, PeerId>
  // getRecord
  quorum: number
  found: Array<{ record: KadRecord, peer: PeerId | undefined }>
  /** Peers that answered a GET_VALUE without the record (caching write-back candidates). */
  withoutRecord: PeerId[]
  // putRecord / startProviding
  record: KadRecord | undefined
  storeSuccess: number
  storeOutstanding: number
  // getProviders
  providerCount: number | undefined
  providersSeen: Set<string>
  // bootstrap
  /** Bootstrap: common prefix lengths still to refresh; each target key is drawn when its turn comes (up to 2^16 hashes for cpl 15, so not all at once). */
  targets: number[]
  timeout: number | null
}

interface PendingRequest {
  requestId: RequestId
  message: KadMessage
  expectResponse: boolean
}

interface RequestRecord {
  queryId: QueryId | undefined
  peer: PeerId
  connectionId: ConnectionId | undefined
  admission: boolean
  /** Monotonic ms when handed to the Swarm: the RTT sample for latency eviction. */
  sentAt: number
}

const textDecoder = new TextDecoder()
const NO_PROTOCOLS: readonly string[] = Object.freeze([])

export class Kademlia implements NetworkBehaviour<KadEvent, KadHandler> {
  readonly config: Readonly<KadConfig>
  readonly localPeer: PeerId
  /** Our protocol ids (the first is dialled with); see `protocols()` for what is advertised. */
  readonly protocolIds: readonly string[]
  readonly table: RoutingTable
  readonly store: RecordStore
  readonly validators: Validators
  private readonly log: Logger
  private readonly wallClock: () => number
  private readonly out = new PollQueue<ToSwarm<KadEvent, KadHandlerIn>>()
  private readonly queries = new Map<QueryId, Query>()
  private nextQueryId = 1
  private nextRequestId = 1
  private readonly requests = new Map<RequestId, RequestRecord>()
  /** Peer → its established connections. */
  private readonly connections = new Map<string, { peer: PeerId, ids: ConnectionId[], dialerAddrs: Multiaddr[] }>()
  /** Requests waiting for a connection to their peer. */
  private readonly pendingByPeer = new Map<string, { peer: PeerId, requests: PendingRequest[], dialId: DialId | undefined }>()
  private readonly dialToPeer = new Map<DialId, string>()
  /** Addresses learned from responses, for dialing peers not in the table (bounded LRU). */
  private readonly addressCache = new Map<string, Multiaddr[]>()
  /** Peers confirmed to speak our protocol (so they may enter the table). */
  private readonly confirmedServers = new Set<string>()
  /** Peers whose probe failed (clients), so their next request does not probe again (bounded LRU). */
  private readonly notServers = new Map<string, number>()
  private readonly admission: AdmissionQueue
  private readonly confirmedExternal = new Set<string>()
  private readonly listenAddrs = new Map<string, Multiaddr>()
  private everHadExternal = false
  private server: boolean
  /** The mode setting in force (config.mode until `setMode`); the config object stays frozen. */
  private configuredMode: KadConfig['mode']
  private now = 0
  private started = false
  private nextRefreshAt = Number.POSITIVE_INFINITY
  private nextReplicateAt = Number.POSITIVE_INFINITY
  private nextRepublishAt = Number.POSITIVE_INFINITY
  private nextReprovideAt = Number.POSITIVE_INFINITY
  private nextExpiryAt = Number.POSITIVE_INFINITY
  private nextMaintenanceAt = Number.POSITIVE_INFINITY
  private bootstrappedOnce = false

  constructor (init: KademliaInit) {
    this.config = createKadConfig(init.config ?? {}, init.base)
    this.localPeer = init.peerId
    this.protocolIds = Object.freeze([...kadProtocols(this.config)])
    this.log = init.logger ?? defaultLogger('kad')
    this.wallClock = init.wallClock ?? Date.now
    this.store = init.store ?? (init.dataDir !== undefined
      ? openPersistentStoreSync(init.dataDir, { kind: init.storeKind, onNotice: (m, d) => this.log.warn(m, d) })
      : new MemoryRecordStore())
    this.validators = new Validators(init.validators ?? {}, init.acceptUnknownNamespaces ?? false)
    this.table = new RoutingTable(this.localPeer, {
      kBucketSize: this.config.kBucketSize,
      pendingTimeout: this.config.pendingTimeout,
      latencyTolerance: this.config.latencyTolerance,
      ipDiversity: this.config.ipDiversity,
      routingTableFilter: this.config.routingTableFilter
    })
    this.admission = new AdmissionQueue(this.config.admissionCheckConcurrency, this.config.requestTimeout)
    this.configuredMode = this.config.mode
    this.server = this.configuredMode === 'server' || this.configuredMode === 'auto-server'
  }

  // ---- public API ----------------------------------------------------------------------------

  /** 'client' or 'server': the mode in effect now. */
  get mode (): 'client' | 'server' { return this.server ? 'server' : 'client' }

  /** Changes the configured mode at run time (Rust's `set_mode`). */
  setMode (mode: KadConfig['mode']): void {
    if (!['client', 'server', 'auto', 'auto-server'].includes(mode)) throw new InvalidArgumentError(`mode must be client, server, auto or auto-server, got ${String(mode)}`)
    this.configuredMode = mode
    this.updateMode()
  }

  /** The configured mode ('auto' and 'auto-server' resolve to `mode`). */
  get configuredModeSetting (): KadConfig['mode'] { return this.configuredMode }

  /** Adds a known address of a peer to the routing table (Rust's `add_address`): the only way in with `kbucketInserts: 'manual'`. */
  addAddress (peer: PeerId, addr: Multiaddr): UpdateResult {
    this.rememberAddrs(peer, [addr])
    const status = this.connections.has(peer.toString()) ? 'connected' : 'disconnected'
    const r = this.table.update(peer, [addr], status, this.now)
    this.reportUpdate(peer, r)
    return r
  }

  removePeer (peer: PeerId): void {
    this.table.remove(peer)
  }

  getClosestPeers (key: Uint8Array | PeerId): QueryId {
    const bytes = key instanceof PeerId ? key.bytes : key
    return this.startQuery('getClosestPeers', keyFromBytes(bytes), 'user', {})
  }

  getRecord (key: Uint8Array, options: { quorum?: number } = {}): QueryId {
    const quorum = options.quorum ?? 1
    if (!Number.isInteger(quorum) || quorum < 1) throw new InvalidArgumentError('quorum must be an integer ≥ 1')
    if (!this.config.enableValues) throw new InvalidArgumentError('the value store is disabled (enableValues: false)')
    const q = this.startQuery('getRecord', keyFromBytes(key), 'user', { quorum })
    const local = this.store.getRecord(key, this.wallClock())
    const query = this.queries.get(q) as Query
    if (local !== undefined) {
      query.found.push({ record: { key: local.key, value: local.value }, peer: undefined })
      this.emitProgress(query, { type: 'getRecord', key, found: { record: { key: local.key, value: local.value }, peer: undefined }, count: 1 }, false)
      if (query.found.length >= quorum) query.iter.finish()
    }
    return q
  }

  /** Stores the record locally and on the closest peers; succeeds once `quorum` of them acknowledged. */
  putRecord (record: KadRecord, options: { quorum?: number } = {}): QueryId {
    const quorum = options.quorum ?? 1
    if (!Number.isInteger(quorum) || quorum < 1) throw new InvalidArgumentError('quorum must be an integer ≥ 1')
    if (!this.config.enableValues) throw new InvalidArgumentError('the value store is disabled (enableValues: false)')
    this.validators.validate(record.key, record.value)
    const wall = this.wallClock()
    this.store.putRecord({ key: record.key, value: record.value, publisher: this.localPeer.bytes, timeReceived: wall, expires: this.expiry(this.config.recordTtl, wall) })
    return this.startQuery('putRecord', keyFromBytes(record.key), 'user', { quorum, record })
  }

  /** Announces this node as a provider of `key` (locally at once, then to the closest peers). */
  startProviding (key: Uint8Array): QueryId {
    if (!this.config.enableProviders) throw new InvalidArgumentError('the provider store is disabled (enableProviders: false)')
    this.addLocalProvider(key)
    return this.startQuery('startProviding', keyFromBytes(key), 'user', {})
  }

  /** Stops providing `key` locally; remote provider records expire on their own (as in Go and Rust). */
  stopProviding (key: Uint8Array): void {
    this.store.removeProvider(key, this.localPeer)
  }

  getProviders (key: Uint8Array, options: { count?: number } = {}): QueryId {
    if (!this.config.enableProviders) throw new InvalidArgumentError('the provider store is disabled (enableProviders: false)')
    const q = this.startQuery('getProviders', keyFromBytes(key), 'user', { providerCount: options.count })
    const query = this.queries.get(q) as Query
    const local = this.store.getProviders(key, this.wallClock())
    const infos = local.map(e => this.providerInfo(e.provider, e.addrs)).filter((x): x is PeerInfo => x !== undefined)
    if (infos.length > 0) {
      for (const i of infos) query.providersSeen.add(i.peer.toString())
      this.emitProgress(query, { type: 'getProviders', key, providers: infos, total: query.providersSeen.size }, false)
      if (query.providerCount !== undefined && query.providersSeen.size >= query.providerCount) query.iter.finish()
    }
    return q
  }

  /** Looks up our own id, then a random key in each bucket to refresh (Rust's `bootstrap`). Throws without known peers. */
  bootstrap (): QueryId {
    if (this.table.size === 0) throw new InvalidArgumentError('no known peers to bootstrap from (add one with addAddress)')
    return this.startBootstrap('user', 0)
  }

  /** Ends a query now; its last event carries error 'cancelled'. Returns false if it was not running. */
  cancel (id: QueryId): boolean {
    const q = this.queries.get(id)
    if (q === undefined || q.phase === 'done') return false
    q.iter.finish()
    this.finishQuery(q, 'cancelled')
    return true
  }

  /** Queries still running. */
  get activeQueries (): number { return this.queries.size }

  /** With recordFiltering 'filterBoth': stores a record the application accepted. */
  storeInboundRecord (record: KadRecord): void {
    this.validators.validate(record.key, record.value)
    const wall = this.wallClock()
    this.store.putRecord({ key: record.key, value: record.value, publisher: undefined, timeReceived: wall, expires: this.expiry(this.config.recordTtl, wall) })
  }

  /** With recordFiltering 'filterBoth': stores a provider the application accepted. */
  storeInboundProvider (key: Uint8Array, provider: PeerInfo): void {
    const wall = this.wallClock()
    this.store.addProvider({ key, provider: provider.peer.bytes, addrs: provider.addrs.map(a => a.bytes), timeReceived: wall, expires: this.expiry(this.config.providerRecordTtl, wall) })
  }

  // ---- NetworkBehaviour ----------------------------------------------------------------------

  handleEstablishedInboundConnection (info: EstablishedInboundInfo): KadHandler {
    void info
    return this.newHandler()
  }

  handleEstablishedOutboundConnection (info: EstablishedOutboundInfo): KadHandler {
    void info
    return this.newHandler()
  }

  /**
   * The inbound protocols served now, for a Swarm that registers protocols before connections
   * exist: ours in server mode, none in client mode (a client never advertises kad). The same
   * array object while the mode does not change.
   */
  protocols (): readonly string[] {
    return this.server ? this.protocolIds : NO_PROTOCOLS
  }

  addressesOfPeer (peerId: PeerId): readonly Multiaddr[] {
    return this.table.get(peerId)?.addrs ?? this.addressCache.get(peerId.toString()) ?? []
  }

  onSwarmEvent (event: FromSwarm): void {
    switch (event.type) {
      case 'connectionEstablished': {
        const id = event.peerId.toString()
        let c = this.connections.get(id)
        if (c === undefined) { c = { peer: event.peerId, ids: [], dialerAddrs: [] }; this.connections.set(id, c) }
        c.ids.push(event.connectionId)
        if (event.endpoint.role === 'dialer') {
          const a = stripP2p(event.endpoint.address)
          if (!c.dialerAddrs.some(x => x.equals(a))) c.dialerAddrs.push(a)
        }
        if (this.table.has(event.peerId)) this.table.update(event.peerId, c.dialerAddrs, 'connected', this.now)
        else if (this.confirmedServers.has(id)) this.tryInsert(event.peerId)
        this.flushPending(id, event.connectionId)
        return
      }
      case 'connectionClosed': {
        const id = event.peerId.toString()
        const c = this.connections.get(id)
        if (c !== undefined) {
          c.ids = c.ids.filter(x => x !== event.connectionId)
          if (c.ids.length === 0) {
            this.connections.delete(id)
            this.table.setDisconnected(event.peerId)
            // Re-learned on the next kad stream; keeps this set bounded by live connections.
            this.confirmedServers.delete(id)
          }
        }
        for (const [rid, r] of this.requests) {
          if (r.connectionId === event.connectionId) this.onRequestFailed(rid, new Error('connection closed'))
        }
        return
      }
      case 'dialFailure': {
        const id = this.dialToPeer.get(event.dialId)
        if (id === undefined) return
        this.dialToPeer.delete(event.dialId)
        const pending = this.pendingByPeer.get(id)
        if (pending === undefined || pending.dialId !== event.dialId) return
        this.pendingByPeer.delete(id)
        for (const p of pending.requests) this.onRequestFailed(p.requestId, event.error)
        const entry = this.table.get(pending.peer)
        if (entry !== undefined && entry.status === 'disconnected') this.table.remove(pending.peer)
        return
      }
      case 'newListenAddr': this.listenAddrs.set(event.address.toString(), event.address); return
      case 'expiredListenAddr': this.listenAddrs.delete(event.address.toString()); return
      case 'externalAddrConfirmed':
        this.confirmedExternal.add(event.address.toString())
        this.everHadExternal = true
        this.updateMode()
        return
      case 'externalAddrExpired':
        this.confirmedExternal.delete(event.address.toString())
        this.updateMode()
        return
      case 'newExternalAddrOfPeer': {
        if (this.log.enabled.trace) this.log.trace('address of peer', { peer: event.peerId, address: event.address })
        this.rememberAddrs(event.peerId, [event.address])
        if (this.table.has(event.peerId)) this.table.update(event.peerId, [event.address], this.connections.has(event.peerId.toString()) ? 'connected' : 'disconnected', this.now)
        // Identify may report the protocol before the addresses: a confirmed server without a
        // dialable address becomes routable now.
        else if (this.confirmedServers.has(event.peerId.toString())) this.tryInsert(event.peerId)
        return
      }
      default:
    }
  }

  onConnectionHandlerEvent (peerId: PeerId, connectionId: ConnectionId, event: KadHandlerOut): void {
    switch (event.type) {
      case 'protocolConfirmed': {
        const id = peerId.toString()
        if (this.confirmedServers.has(id)) return
        this.confirmedServers.add(id)
        this.tryInsert(peerId)
        return
      }
      case 'protocolUnsupported':
        this.confirmedServers.delete(peerId.toString())
        this.table.remove(peerId)
        return
      case 'response': this.onResponse(event.requestId, peerId, event.message); return
      case 'sent': this.onSent(event.requestId); return
      case 'requestFailed': this.onRequestFailed(event.requestId, event.error); return
      case 'inboundRequest': this.onInbound(peerId, connectionId, event.inboundId, event.message)
    }
  }

  poll (cx: PollContext): ToSwarm<KadEvent, KadHandlerIn> | undefined {
    this.now = cx.now
    if (!this.started) this.start(cx.now)
    const queued = this.out.poll(cx)
    if (queued !== undefined) return queued
    this.tick(cx.now)
    return this.out.poll(cx)
  }

  nextDeadline (): number | undefined {
    let min = Math.min(this.nextRefreshAt, this.nextReplicateAt, this.nextRepublishAt, this.nextReprovideAt, this.nextExpiryAt, this.nextMaintenanceAt)
    for (const q of this.queries.values()) {
      const d = q.iter.nextDeadline()
      if (d !== undefined && d < min) min = d
    }
    const p = this.table.nextPendingDeadline()
    if (p !== undefined && p < min) min = p
    return Number.isFinite(min) ? min : undefined
  }

  // ---- internals: timers ---------------------------------------------------------------------

  private start (now: number): void {
    this.started = true
    const c = this.config
    if (c.autoRefresh) this.nextRefreshAt = now + c.refreshInterval
    if (c.replicationInterval !== null) this.nextReplicateAt = now + c.replicationInterval
    if (c.publicationInterval !== null) this.nextRepublishAt = now + c.publicationInterval
    if (c.providerPublicationInterval !== null) this.nextReprovideAt = now + c.providerPublicationInterval
    this.nextExpiryAt = now + STORE_EXPIRY_INTERVAL
    this.nextMaintenanceAt = now + MAINTENANCE_INTERVAL
  }

  private tick (now: number): void {
    const c = this.config
    if (now >= this.nextRefreshAt) {
      this.nextRefreshAt = now + c.refreshInterval
      if (this.table.size > 0) this.startBootstrap('refresh', c.refreshInterval)
    }
    if (now >= this.nextReplicateAt && c.replicationInterval !== null) {
      this.nextReplicateAt = now + c.replicationInterval
      for (const r of [...this.store.records()]) {
        if (r.publisher !== undefined && equalBytes(r.publisher, this.localPeer.bytes)) continue
        if (this.queries.size >= MAX_ACTIVE_QUERIES) break
        this.startQuery('putRecord', keyFromBytes(r.key), 'replicate', { quorum: 1, record: { key: r.key, value: r.value } })
      }
    }
    if (now >= this.nextRepublishAt && c.publicationInterval !== null) {
      this.nextRepublishAt = now + c.publicationInterval
      const wall = this.wallClock()
      for (const r of [...this.store.records()]) {
        if (r.publisher === undefined || !equalBytes(r.publisher, this.localPeer.bytes)) continue
        if (this.queries.size >= MAX_ACTIVE_QUERIES) break
        this.store.putRecord({ ...r, timeReceived: wall, expires: this.expiry(c.recordTtl, wall) })
        this.startQuery('putRecord', keyFromBytes(r.key), 'republish', { quorum: 1, record: { key: r.key, value: r.value } })
      }
    }
    if (now >= this.nextReprovideAt && c.providerPublicationInterval !== null) {
      this.nextReprovideAt = now + c.providerPublicationInterval
      for (const p of [...this.store.provided(this.localPeer)]) {
        if (this.queries.size >= MAX_ACTIVE_QUERIES) break
        this.addLocalProvider(p.key)
        this.startQuery('startProviding', keyFromBytes(p.key), 'reprovide', {})
      }
    }
    if (now >= this.nextExpiryAt) {
      this.nextExpiryAt = now + STORE_EXPIRY_INTERVAL
      this.store.expire(this.wallClock())
    }
    if (now >= this.nextMaintenanceAt) {
      this.nextMaintenanceAt = now + MAINTENANCE_INTERVAL
      for (const a of this.table.applyPending(now)) {
        this.out.push({ type: 'generateEvent', event: { type: 'routingUpdated', peer: a.inserted, isNewPeer: true, addresses: this.table.get(a.inserted)?.addrs ?? [], bucket: a.bucket, evicted: a.evicted } })
      }
      for (const p of this.admission.expire(now)) this.log.debug('admission check timed out', { peer: p })
    }
    this.runAdmissions(now)
    for (const q of [...this.queries.values()]) this.advance(q, now)
  }

  // ---- internals: queries --------------------------------------------------------------------

  private startQuery (kind: Kind, key: KadKey, trigger: QueryTrigger, extra: Partial<Query>): QueryId {
    if (this.queries.size >= MAX_ACTIVE_QUERIES) throw new InvalidArgumentError(`too many queries running (${MAX_ACTIVE_QUERIES})`)
    const id = this.nextQueryId++
    const timeout = extra.timeout !== undefined ? extra.timeout : this.config.queryTimeout
    const q: Query = {
      id, kind, trigger, key,
      // Record and provider lookups ask all k closest (Go's follow-up), not only the β that ended the walk.
      iter: this.newIter(key.hash, timeout, kind === 'getRecord' || kind === 'getProviders'),
      phase: 'lookup',
      stats: { requests: 0, succeeded: 0, failed: 0, hops: 0, start: this.now, end: undefined },
      step: 0,
      depth: new Map(),
      requests: new Map(),
      quorum: 1,
      found: [],
      withoutRecord: [],
      record: undefined,
      storeSuccess: 0,
      storeOutstanding: 0,
      providerCount: undefined,
      providersSeen: new Set(),
      targets: [],
      timeout,
      ...extra
    }
    this.queries.set(id, q)
    this.table.markRefreshed(key.hash, this.now)
    this.out.wake()
    return id
  }

  private startBootstrap (trigger: QueryTrigger, interval: number): QueryId {
    const self = keyFromPeer(this.localPeer)
    const cpls = this.table.cplsToRefresh(this.now, interval)
    const targets = cpls
    const timeout = trigger === 'user' ? this.config.queryTimeout : this.config.refreshQueryTimeout
    return this.startQuery('bootstrap', self, trigger, { targets, timeout })
  }

  private newIter (target: Uint8Array, timeout: number | null, followup = false): QueryPeersIter {
    const c = this.config
    const cfg: ClosestPeersConfig = {
      parallelism: c.alpha,
      resiliency: c.resiliency,
      numResults: c.replicationFactor,
      peerTimeout: c.requestTimeout,
      deadline: timeout === null ? undefined : this.now + timeout,
      followup
    }
    const initial = this.table.closest(target, c.replicationFactor, e => this.queryAllowed(e.peer, e.addrs)).map(e => e.peer)
    return c.disjointPaths
      ? new ClosestDisjointPeersIter(target, initial, cfg, c.alpha, [this.localPeer])
      : new ClosestPeersIter(target, initial, cfg, [this.localPeer])
  }

  private queryAllowed (peer: PeerId, addrs: readonly Multiaddr[]): boolean {
    return this.config.queryPeerFilter === null || this.config.queryPeerFilter(peer, addrs)
  }

  private lookupMessage (q: Query): KadMessage {
    switch (q.kind) {
      case 'getRecord': return kadMessage(MessageType.GET_VALUE, { key: q.key.preimage })
      case 'getProviders': return kadMessage(MessageType.GET_PROVIDERS, { key: q.key.preimage })
      default: return kadMessage(MessageType.FIND_NODE, { key: q.key.preimage })
    }
  }

  private advance (q: Query, now: number): void {
    if (q.phase !== 'lookup') return
    const s = q.iter.next(now)
    if (s.state === 'contact') {
      for (const peer of s.peers) {
        q.stats.requests++
        const rid = this.sendRequest(peer, this.lookupMessage(q), true, q.id)
        q.requests.set(rid, peer)
      }
      return
    }
    if (s.state === 'waiting') return
    this.lookupFinished(q, s.reason === 'timeout' ? 'timeout' : s.reason === 'cancelled' ? undefined : undefined)
  }

  /** The lookup phase ended: go on to the store phase or report the result. */
  private lookupFinished (q: Query, error: QueryErrorCode | undefined): void {
    const closest = q.iter.result()
    q.stats.hops = Math.max(0, ...closest.map(p => (q.depth.get(p.toString()) ?? 0) + 1))
    switch (q.kind) {
      case 'getClosestPeers':
        this.finishQuery(q, error, { type: 'getClosestPeers', key: q.key.preimage, peers: closest.map(p => ({ peer: p, addrs: [...this.addressesOfPeer(p)] })) })
        return
      case 'getRecord': {
        if (q.found.length === 0) { this.finishQuery(q, error ?? 'notFound'); return }
        const values = q.found.map(f => f.record.value)
        const best = q.found[this.validators.select(q.key.preimage, values)]?.record as KadRecord
        // Write-back: peers that answered with another value are corrected (Go), and up to
        // cachingMaxPeers of the closest that lacked it get a copy (Rust's lookup caching).
        const targets: PeerId[] = []
        for (const f of q.found) if (f.peer !== undefined && !equalBytes(f.record.value, best.value)) targets.push(f.peer)
        const lacking = q.withoutRecord.map(p => ({ p, h: keyFromPeer(p).hash })).sort((a, b) => compareDistance(q.key.hash, a.h, b.h))
        for (const { p } of lacking.slice(0, this.config.cachingMaxPeers)) targets.push(p)
        for (const p of targets) this.sendRequest(p, this.putMessage(best), true, undefined)
        const err = q.found.length < q.quorum ? (error ?? 'quorumFailed') : undefined
        this.finishQuery(q, err, { type: 'getRecord', key: q.key.preimage, best, count: q.found.length })
        return
      }
      case 'getProviders':
        this.finishQuery(q, error, { type: 'getProviders', key: q.key.preimage, providers: [], total: q.providersSeen.size })
        return
      case 'putRecord':
      case 'startProviding': {
        if (q.phase !== 'lookup') return
        if (closest.length === 0) { this.finishQuery(q, error ?? 'quorumFailed'); return }
        q.phase = 'store'
        const message = q.kind === 'putRecord' ? this.putMessage(q.record as KadRecord) : this.addProviderMessage(q.key.preimage)
        for (const p of closest) {
          q.storeOutstanding++
          q.stats.requests++
          const rid = this.sendRequest(p, message, q.kind === 'putRecord', q.id)
          q.requests.set(rid, p)
        }
        return
      }
      case 'bootstrap': {
        const cpl = q.targets.shift()
        const remaining = q.targets.length
        this.emitProgress(q, { type: 'bootstrap', target: q.key.preimage, remaining: cpl === undefined ? 0 : remaining + 1, ...(error !== undefined ? { error } : {}) }, cpl === undefined)
        if (cpl === undefined) { this.retire(q); return }
        const next = randomKeyForCpl(this.table.localHash, cpl, n => randomBytes(n))
        q.key = next
        q.iter = this.newIter(next.hash, q.timeout)
        this.table.markRefreshed(next.hash, this.now)
      }
    }
  }

  private storeStepDone (q: Query, ok: boolean): void {
    q.storeOutstanding--
    if (ok) q.storeSuccess++
    const quorum = q.kind === 'putRecord' ? q.quorum : 1
    if (q.phase !== 'store') return
    if ((q.kind === 'putRecord' && q.storeSuccess >= quorum) || q.storeOutstanding === 0) {
      const key = q.key.preimage
      const error = q.storeSuccess >= quorum ? undefined : 'quorumFailed'
      this.finishQuery(q, error, q.kind === 'putRecord' ? { type: 'putRecord', key, success: q.storeSuccess } : { type: 'startProviding', key, success: q.storeSuccess })
    }
  }

  private finishQuery (q: Query, error: QueryErrorCode | undefined, result?: QueryResult): void {
    if (q.phase === 'done') return
    const key = q.key.preimage
    let r: QueryResult = result ?? this.emptyResult(q, key)
    if (error !== undefined) r = { ...r, error }
    this.emitProgress(q, r, true)
    this.retire(q)
  }

  private emptyResult (q: Query, key: Uint8Array): QueryResult {
    switch (q.kind) {
      case 'getClosestPeers': return { type: 'getClosestPeers', key, peers: [] }
      case 'getRecord': return { type: 'getRecord', key, count: q.found.length }
      case 'putRecord': return { type: 'putRecord', key, success: q.storeSuccess }
      case 'startProviding': return { type: 'startProviding', key, success: q.storeSuccess }
      case 'getProviders': return { type: 'getProviders', key, providers: [], total: q.providersSeen.size }
      case 'bootstrap': return { type: 'bootstrap', target: key, remaining: 0 }
    }
  }

  private retire (q: Query): void {
    q.phase = 'done'
    q.stats.end = this.now
    this.queries.delete(q.id)
    if (this.log.enabled.debug) {
      this.log.debug('query finished', { id: q.id, kind: q.kind, trigger: q.trigger, key: keyText(q.key.preimage), requests: q.stats.requests, failed: q.stats.failed, hops: q.stats.hops, ms: Math.round(q.stats.end - q.stats.start) })
    }
  }

  private emitProgress (q: Query, result: QueryResult, last: boolean): void {
    q.step++
    this.out.push({
      type: 'generateEvent',
      event: { type: 'outboundQueryProgressed', id: q.id, trigger: q.trigger, result, stats: { ...q.stats, end: last ? this.now : undefined }, step: { count: q.step, last } }
    })
  }

  // ---- internals: requests -------------------------------------------------------------------

  private sendRequest (peer: PeerId, message: KadMessage, expectResponse: boolean, queryId: QueryId | undefined, admission = false): RequestId {
    const requestId = this.nextRequestId++
    const id = peer.toString()
    const conn = this.connections.get(id)
    this.requests.set(requestId, { queryId, peer, connectionId: conn?.ids[0], admission, sentAt: this.now })
    if (conn !== undefined && conn.ids.length > 0) {
      this.out.push({ type: 'notifyHandler', peerId: peer, handler: { connectionId: conn.ids[0] as ConnectionId }, event: { type: 'request', requestId, message, expectResponse } })
      return requestId
    }
    let pending = this.pendingByPeer.get(id)
    if (pending === undefined) {
      const addrs = this.addressesOfPeer(peer)
      if (addrs.length === 0) {
        // Nowhere to dial: fail asynchronously so the caller's bookkeeping is in place first.
        queueMicrotask(() => { this.onRequestFailed(requestId, new Error('no known address')); this.out.wake() })
        return requestId
      }
      const dialId = nextDialId()
      pending = { peer, requests: [], dialId }
      this.pendingByPeer.set(id, pending)
      this.dialToPeer.set(dialId, id)
      this.out.push({ type: 'dial', opts: { dialId, peerId: peer, addresses: addrs, condition: 'disconnected' } })
    }
    if (pending.requests.length >= MAX_PENDING_REQUESTS_PER_PEER) {
      queueMicrotask(() => { this.onRequestFailed(requestId, new Error('too many requests waiting for a connection')); this.out.wake() })
      return requestId
    }
    pending.requests.push({ requestId, message, expectResponse })
    return requestId
  }

  private flushPending (peerKey: string, connectionId: ConnectionId): void {
    const pending = this.pendingByPeer.get(peerKey)
    if (pending === undefined) return
    this.pendingByPeer.delete(peerKey)
    if (pending.dialId !== undefined) this.dialToPeer.delete(pending.dialId)
    for (const p of pending.requests) {
      const r = this.requests.get(p.requestId)
      if (r === undefined) continue
      r.connectionId = connectionId
      r.sentAt = this.now
      this.out.push({ type: 'notifyHandler', peerId: pending.peer, handler: { connectionId }, event: { type: 'request', requestId: p.requestId, message: p.message, expectResponse: p.expectResponse } })
    }
  }

  private takeRequest (requestId: RequestId): { r: RequestRecord, q: Query | undefined } | undefined {
    const r = this.requests.get(requestId)
    if (r === undefined) return undefined
    this.requests.delete(requestId)
    const q = r.queryId === undefined ? undefined : this.queries.get(r.queryId)
    q?.requests.delete(requestId)
    return { r, q }
  }

  private onRequestFailed (requestId: RequestId, error: Error): void {
    const t = this.takeRequest(requestId)
    if (t === undefined) return
    if (t.r.admission) {
      this.admission.finish(t.r.peer, false)
      // Only a refused protocol says "client"; a timeout or a closed connection may be transient.
      if (error instanceof StreamUpgradeError && error.kind === 'unsupported') {
        const id = t.r.peer.toString()
        this.notServers.delete(id)
        this.notServers.set(id, this.now + NOT_SERVER_RETRY)
        if (this.notServers.size > MAX_NOT_SERVER_CACHE) this.notServers.delete(this.notServers.keys().next().value as string)
      }
      return
    }
    const q = t.q
    if (q === undefined) return
    q.stats.failed++
    this.log.enabled.debug && this.log.debug('request failed', { query: q.id, peer: t.r.peer, error })
    if (q.phase === 'lookup') q.iter.onFailure(t.r.peer)
    else if (q.phase === 'store') this.storeStepDone(q, false)
    this.out.wake()
  }

  private onSent (requestId: RequestId): void {
    const t = this.takeRequest(requestId)
    if (t?.q === undefined) return
    t.q.stats.succeeded++
    if (t.q.phase === 'store') this.storeStepDone(t.q, true)
  }

  private onResponse (requestId: RequestId, peer: PeerId, m: KadMessage): void {
    const t = this.takeRequest(requestId)
    if (t === undefined) return
    // Go's latency tolerance works on measured RTTs; a response is our sample (it includes the
    // stream negotiation, as Go's does, which is what a lookup through this peer pays).
    this.table.recordRtt(peer, Math.max(0, this.now - t.r.sentAt))
    if (t.r.admission) {
      const c = this.admission.finish(peer, true)
      if (c === undefined) return
      // It answered a kad request: a server. Addresses may have come (identify) since it was queued.
      this.confirmedServers.add(peer.toString())
      const addrs = [...c.addrs]
      for (const a of [...(this.connections.get(peer.toString())?.dialerAddrs ?? []), ...(this.addressCache.get(peer.toString()) ?? [])]) {
        if (!addrs.some(x => x.equals(a))) addrs.push(a)
      }
      if (addrs.length === 0) this.out.push({ type: 'generateEvent', event: { type: 'unroutablePeer', peer, reason: 'no dialable address' } })
      else this.insertPeer(peer, addrs)
      return
    }
    const q = t.q
    if (q === undefined || q.phase === 'done') return
    q.stats.succeeded++
    if (q.phase === 'store') { this.storeStepDone(q, true); return }
    const closer = this.peersFrom(m.closerPeers).filter(p => this.queryAllowed(p.peer, p.addrs))
    const depth = (q.depth.get(peer.toString()) ?? 0) + 1
    for (const p of closer) {
      const id = p.peer.toString()
      if (!q.depth.has(id)) q.depth.set(id, depth)
    }
    if (q.kind === 'getRecord') this.onGetValueResponse(q, peer, m)
    if (q.kind === 'getProviders') this.onGetProvidersResponse(q, m)
    q.iter.onSuccess(peer, closer.map(p => p.peer))
    this.out.wake()
  }

  private onGetValueResponse (q: Query, peer: PeerId, m: KadMessage): void {
    const rec = m.record
    if (rec === undefined || !equalBytes(rec.key, q.key.preimage)) { q.withoutRecord.push(peer); return }
    try {
      this.validators.validate(rec.key, rec.value)
    } catch (err) {
      this.log.debug('invalid record in GET_VALUE response', { peer, error: err })
      q.withoutRecord.push(peer)
      return
    }
    const record = { key: rec.key, value: rec.value }
    q.found.push({ record, peer })
    this.emitProgress(q, { type: 'getRecord', key: q.key.preimage, found: { record, peer }, count: q.found.length }, false)
    if (q.found.length >= q.quorum) q.iter.finish()
  }

  private onGetProvidersResponse (q: Query, m: KadMessage): void {
    const fresh: PeerInfo[] = []
    for (const p of this.peersFrom(m.providerPeers)) {
      const id = p.peer.toString()
      if (q.providersSeen.has(id)) continue
      q.providersSeen.add(id)
      fresh.push(p)
    }
    if (fresh.length === 0) return
    this.emitProgress(q, { type: 'getProviders', key: q.key.preimage, providers: fresh, total: q.providersSeen.size }, false)
    if (q.providerCount !== undefined && q.providersSeen.size >= q.providerCount) q.iter.finish()
  }

  /** Parses wire peers; drops invalid ids and addresses and ourselves; remembers addresses. */
  private peersFrom (wire: readonly WirePeer[]): PeerInfo[] {
    const out: PeerInfo[] = []
    for (const w of wire) {
      let peer: PeerId
      try { peer = PeerId.fromBytes(w.id) } catch { continue }
      if (peer.equals(this.localPeer)) continue
      const addrs: Multiaddr[] = []
      for (const a of w.addrs) { try { addrs.push(multiaddr(a)) } catch { /* unknown protocol: skip */ } }
      this.rememberAddrs(peer, addrs)
      out.push({ peer, addrs })
    }
    return out
  }

  private rememberAddrs (peer: PeerId, addrs: readonly Multiaddr[]): void {
    if (addrs.length === 0) return
    const id = peer.toString()
    const known = this.addressCache.get(id) ?? []
    this.addressCache.delete(id)
    for (const a of addrs) if (!known.some(x => x.equals(a))) known.push(a)
    if (known.length > 20) known.splice(0, known.length - 20)
    this.addressCache.set(id, known)
    if (this.addressCache.size > MAX_ADDRESS_CACHE) this.addressCache.delete(this.addressCache.keys().next().value as string)
  }

  // ---- internals: inbound --------------------------------------------------------------------

  private onInbound (peer: PeerId, connectionId: ConnectionId, inboundId: InboundId, m: KadMessage): void {
    const respond = (message: KadMessage | undefined): void => {
      this.out.push({ type: 'notifyHandler', peerId: peer, handler: { connectionId }, event: { type: 'respond', inboundId, message } })
    }
    const refuse = (): void => {
      this.out.push({ type: 'notifyHandler', peerId: peer, handler: { connectionId }, event: { type: 'respond', inboundId, message: undefined, refuse: true } })
    }
    if (!this.server) { refuse(); return }
    this.probeIfUnknown(peer)
    const wall = this.wallClock()
    const key = m.key ?? new Uint8Array(0)
    const event = (request: InboundRequest): void => { this.out.push({ type: 'generateEvent', event: { type: 'inboundRequest', peer, request } }) }
    switch (m.type) {
      case MessageType.FIND_NODE:
        respond(kadMessage(MessageType.FIND_NODE, { key, closerPeers: this.closerPeersFor(key, peer) }))
        event({ type: 'findNode', key })
        return
      case MessageType.GET_VALUE: {
        if (!this.config.enableValues || key.byteLength === 0) { refuse(); return }
        const r = this.store.getRecord(key, wall)
        respond(kadMessage(MessageType.GET_VALUE, {
          key,
          ...(r !== undefined ? { record: { key: r.key, value: r.value, timeReceived: new Date(r.timeReceived).toISOString() } } : {}),
          closerPeers: this.closerPeersFor(key, peer)
        }))
        event({ type: 'getRecord', key, found: r !== undefined })
        return
      }
      case MessageType.PUT_VALUE: {
        const rec = m.record
        if (!this.config.enableValues || rec === undefined || !equalBytes(rec.key, key)) { refuse(); return }
        try {
          this.validators.validate(rec.key, rec.value)
        } catch (err) {
          this.log.debug('rejected inbound record', { peer, error: err })
          refuse()
          return
        }
        let stored = false
        if (this.config.recordFiltering === 'unfiltered') stored = this.storeBetter(rec.key, rec.value, wall)
        respond(kadMessage(MessageType.PUT_VALUE, { key, record: rec }))
        event({ type: 'putRecord', record: { key: rec.key, value: rec.value }, stored })
        return
      }
      case MessageType.ADD_PROVIDER: {
        respond(undefined)
        if (!this.config.enableProviders || key.byteLength === 0) return
        for (const p of this.peersFrom(m.providerPeers)) {
          // Go: a peer may only announce itself.
          if (!p.peer.equals(peer)) continue
          let stored = false
          if (this.config.recordFiltering === 'unfiltered') {
            try { this.storeInboundProvider(key, p); stored = true } catch (err) { this.log.debug('provider not stored', { error: err }) }
          }
          event({ type: 'addProvider', key, provider: p, stored })
        }
        return
      }
      case MessageType.GET_PROVIDERS: {
        if (!this.config.enableProviders || key.byteLength === 0) { refuse(); return }
        const providers = this.store.getProviders(key, wall).slice(0, MAX_PROVIDERS_PER_RESPONSE)
        const providerPeers: WirePeer[] = providers.map(e => ({
          id: e.provider,
          addrs: equalBytes(e.provider, this.localPeer.bytes) ? this.ownAddrs().map(a => a.bytes) : e.addrs,
          connection: ConnectionType.NOT_CONNECTED
        }))
        respond(kadMessage(MessageType.GET_PROVIDERS, { key, providerPeers, closerPeers: this.closerPeersFor(key, peer) }))
        event({ type: 'getProviders', key, count: providers.length })
        return
      }
      case MessageType.PING:
        respond(kadMessage(MessageType.PING))
        event({ type: 'ping' })
        return
      default:
        refuse()
    }
  }

  /** Stores a received record unless the one we hold is better by the namespace's selector. */
  private storeBetter (key: Uint8Array, value: Uint8Array, wall: number): boolean {
    const existing = this.store.getRecord(key, wall)
    if (existing !== undefined && !equalBytes(existing.value, value)) {
      if (this.validators.select(key, [value, existing.value]) === 1) return false
    }
    const publisher = existing?.publisher
    try {
      this.store.putRecord({ key, value, publisher: publisher !== undefined && equalBytes(publisher, this.localPeer.bytes) ? publisher : undefined, timeReceived: wall, expires: this.expiry(this.config.recordTtl, wall) })
      return true
    } catch (err) {
      this.log.debug('record not stored', { error: err })
      return false
    }
  }

  private closerPeersFor (key: Uint8Array, requester: PeerId): WirePeer[] {
    const target = keyFromBytes(key).hash
    return this.table.closest(target, this.config.kBucketSize, e => !e.peer.equals(requester)).map(e => ({
      id: e.peer.bytes,
      addrs: e.addrs.map(a => a.bytes),
      connection: e.status === 'connected' ? ConnectionType.CONNECTED : ConnectionType.NOT_CONNECTED
    }))
  }

  private putMessage (r: KadRecord): KadMessage {
    return kadMessage(MessageType.PUT_VALUE, { key: r.key, record: { key: r.key, value: r.value, timeReceived: new Date(this.wallClock()).toISOString() } })
  }

  private addProviderMessage (key: Uint8Array): KadMessage {
    return kadMessage(MessageType.ADD_PROVIDER, { key, providerPeers: [{ id: this.localPeer.bytes, addrs: this.ownAddrs().map(a => a.bytes), connection: ConnectionType.NOT_CONNECTED }] })
  }

  private addLocalProvider (key: Uint8Array): void {
    const wall = this.wallClock()
    this.store.addProvider({ key, provider: this.localPeer.bytes, addrs: [], timeReceived: wall, expires: this.expiry(this.config.providerRecordTtl, wall) })
  }

  /** Confirmed external addresses, else listen addresses. */
  private ownAddrs (): Multiaddr[] {
    if (this.confirmedExternal.size > 0) return [...this.confirmedExternal].map(s => multiaddr(s))
    return [...this.listenAddrs.values()]
  }

  private providerInfo (provider: Uint8Array, addrs: Uint8Array[]): PeerInfo | undefined {
    try {
      const peer = PeerId.fromBytes(provider)
      const parsed = peer.equals(this.localPeer) ? this.ownAddrs() : addrs.flatMap(a => { try { return [multiaddr(a)] } catch { return [] } })
      return { peer, addrs: parsed }
    } catch {
      return undefined
    }
  }

  private expiry (ttl: number | null, wall: number): number | null {
    return ttl === null ? null : wall + ttl
  }

  // ---- internals: routing table and mode ------------------------------------------------------

  /**
   * A peer that sends us kad requests may be a server we do not know (it dialled us, and identify
   * has not told our handler its protocols). Probe it with a FIND_NODE over the existing
   * connection, as Go's lookup check does: a server answers and enters the table with the
   * addresses identify reported; a client resets the stream and is remembered as not a server.
   */
  private probeIfUnknown (peer: PeerId): void {
    if (this.config.kbucketInserts !== 'onConnected') return
    const id = peer.toString()
    if (this.table.has(peer) || this.confirmedServers.has(id) || this.admission.isPending(peer)) return
    const until = this.notServers.get(id)
    if (until !== undefined && this.now < until) return
    this.admission.enqueue(peer, [...(this.addressCache.get(id) ?? [])])
    this.out.wake()
  }

  private tryInsert (peer: PeerId): void {
    if (this.table.has(peer)) return
    if (this.config.kbucketInserts !== 'onConnected') return
    const c = this.connections.get(peer.toString())
    const addrs = [...(c?.dialerAddrs ?? []), ...(this.addressCache.get(peer.toString()) ?? [])]
    if (addrs.length === 0) {
      this.out.push({ type: 'generateEvent', event: { type: 'unroutablePeer', peer, reason: 'no dialable address' } })
      return
    }
    // A peer we reached ourselves (we dialled it and it answered) is proven; others are checked first (Go's lookupCheck).
    if (this.config.admissionCheck && (c === undefined || c.dialerAddrs.length === 0)) {
      this.admission.enqueue(peer, addrs)
      this.out.wake()
      return
    }
    this.insertPeer(peer, addrs)
  }

  private runAdmissions (now: number): void {
    for (const c of this.admission.start(now)) {
      this.sendRequest(c.peer, kadMessage(MessageType.FIND_NODE, { key: this.localPeer.bytes }), true, undefined, true)
    }
  }

  private insertPeer (peer: PeerId, addrs: readonly Multiaddr[]): void {
    const status = this.connections.has(peer.toString()) ? 'connected' : 'disconnected'
    const wasEmpty = this.table.size === 0
    const r = this.table.update(peer, addrs, status, this.now)
    this.reportUpdate(peer, r)
    // Rust's automatic bootstrap: the first peer in an empty table starts one.
    if (wasEmpty && this.table.size > 0 && this.config.autoRefresh && !this.bootstrappedOnce) {
      this.bootstrappedOnce = true
      this.startBootstrap('refresh', 0)
    }
  }

  private reportUpdate (peer: PeerId, r: UpdateResult): void {
    switch (r.type) {
      case 'inserted':
      case 'replaced':
        this.out.push({ type: 'generateEvent', event: { type: 'routingUpdated', peer, isNewPeer: true, addresses: [...(this.table.get(peer)?.addrs ?? [])], bucket: r.bucket, ...(r.type === 'replaced' ? { evicted: r.evicted } : {}) } })
        return
      case 'pending':
        this.out.push({ type: 'generateEvent', event: { type: 'pendingRoutablePeer', peer, bucket: r.bucket } })
        return
      case 'full':
        this.out.push({ type: 'generateEvent', event: { type: 'unroutablePeer', peer, reason: 'bucket full' } })
        return
      case 'rejected':
        this.out.push({ type: 'generateEvent', event: { type: 'unroutablePeer', peer, reason: r.detail ?? r.reason } })
        return
      default:
    }
  }

  private newHandler (): KadHandler {
    return new KadHandler({ protocols: this.protocolIds, server: this.server, requestTimeout: this.config.requestTimeout, maxMessageSize: this.config.maxMessageSize })
  }

  private updateMode (): void {
    const m = this.configuredMode
    const server = m === 'server' || (m === 'auto' && this.confirmedExternal.size > 0) ||
      (m === 'auto-server' && (this.confirmedExternal.size > 0 || !this.everHadExternal))
    if (server === this.server) return
    this.server = server
    for (const c of this.connections.values()) {
      for (const connectionId of c.ids) this.out.push({ type: 'notifyHandler', peerId: c.peer, handler: { connectionId }, event: { type: 'setMode', server } })
    }
    this.log.info('mode changed', { mode: server ? 'server' : 'client', configured: m, confirmedExternal: this.confirmedExternal.size })
    this.out.push({ type: 'generateEvent', event: { type: 'modeChanged', mode: server ? 'server' : 'client' } })
  }
}

function stripP2p (a: Multiaddr): Multiaddr {
  const parts = a.getComponents()
  const i = parts.findIndex(c => c.name === 'p2p')
  if (i < 0) return a
  return multiaddr(a.toString().split('/p2p/')[0] as string)
}

/** Key text for logs: UTF-8 when printable, else hex. */
export function keyText (key: Uint8Array): string {
  const s = textDecoder.decode(key)
  return /^[\x20-\x7e]*$/.test(s) ? s : Buffer.from(key).toString('hex')
}

export type { StoredRecord }
