/**
 * Kademlia configuration: one object that takes every parameter of the libp2p Kademlia DHT
 * parameter reference (shared/seeds/004), which go-libp2p-kad-dht and rust-libp2p/kad each expose
 * only in part. Each field names its Go option and Rust setter and both defaults; `goDefaults()`
 * and `rustDefaults()` reproduce either implementation, `defaultKadConfig()` is ours (the reason
 * for each of our choices is in the field's comment), and `createKadConfig()` validates.
 *
 * Durations are milliseconds. `null` means "never" / "disabled" where the field says so (Rust's
 * `Option<Duration>` = `None`). docs/kad-parameters.md has the same information as one table.
 */
import { Libp2pError } from '../../core/errors.ts'
import type { PeerId } from '../../identity/peer-id.ts'
import type { Multiaddr } from '@multiformats/multiaddr'

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE

/** The public Amino DHT prefix. Go's validator locks k and both stores under it. */
export const PUBLIC_PROTOCOL_PREFIX = '/ipfs'
/** Kubo's LAN DHT extension (Go `ProtocolExtension("/lan")`): `/ipfs/lan/kad/1.0.0`. */
export const LAN_PROTOCOL_EXTENSION = '/lan'
/** The kad protocol suffix after prefix and extension (kad-dht spec). */
export const KAD_PROTOCOL_SUFFIX = '/kad/1.0.0'
/** The k of the Amino DHT; Go rejects any other value under `/ipfs` (seed: "Amino-locked"). */
export const AMINO_BUCKET_SIZE = 20

export type KadMode = 'client' | 'server' | 'auto' | 'auto-server'
export type BucketInserts = 'onConnected' | 'manual'
export type RecordFiltering = 'unfiltered' | 'filterBoth'

/** A user predicate over a peer and the addresses we know for it (Go's filter signatures take the DHT and the peer). */
export type PeerFilter = (peer: PeerId, addrs: readonly Multiaddr[]) => boolean

/**
 * The IP diversity filter (Go: `RoutingTablePeerDiversityFilter`, go-libp2p-kbucket peerdiversity).
 * Peers are grouped by the network prefix of their addresses; a group may hold at most
 * `maxPerGroupGlobal` routing-table entries and `maxPerGroupPerBucket` in any one bucket.
 */
export interface IpDiversityConfig {
  /** Seed: 3 per /16 in the whole table (Go's Amino `RoutingTablePeerDiversityFilter`). */
  maxPerGroupGlobal: number
  /** Seed: 2 per /16 per bucket (Go's Amino default). */
  maxPerGroupPerBucket: number
  /** IPv4 group prefix length. Go: /16. */
  ipv4PrefixLength: number
  /**
   * IPv6 group prefix length. Go groups IPv6 by the origin ASN (from an embedded ASN table). We
   * keep no ASN database; we group by /32 instead, the usual size of one RIR allocation to one
   * network operator (RIPE-738 / ARIN NRPM 6.5.2 minimum LIR allocation), so one /32 is roughly
   * "one ISP", the same unit the ASN grouping approximates. Loopback and private addresses are
   * never grouped (as Go: they are exempt), so local test networks are not limited.
   */
  ipv6PrefixLength: number
}

export interface KadConfig {
  // ---- Core Kademlia ----------------------------------------------------------------------
  /**
   * k: peers per k-bucket and closest peers returned and stored to per lookup.
   * Go `BucketSize` = 20 (Amino-locked) · Rust `set_kbucket_size` (`K_VALUE`) = 20 · ours 20.
   */
  kBucketSize: number
  /**
   * α: maximum in-flight RPCs per iterative lookup (per path with disjoint paths).
   * Go `Concurrency` (`DefaultConcurrency`) = 10 · Rust `set_parallelism` (`ALPHA_VALUE`) = 3.
   * Ours 10: Go's value was tuned empirically on the Amino DHT, where our nodes mostly run and
   * where many listed peers are unreachable, so a wider fan-out hides dead peers; lower it to 3-5
   * for constrained clients.
   */
  alpha: number
  /**
   * β (Go meaning): a lookup terminates once the β closest peers it knows have all responded.
   * Go `Resiliency` = 3 · Rust: none (Rust terminates on `replicationFactor` responses) · ours 3.
   */
  resiliency: number
  /**
   * Rust's replication factor: how many closest peers a lookup must have heard from before it
   * ends (unless β ends it first), and to how many a record or provider is stored.
   * Go: `BucketSize` plays this role (= 20) · Rust `set_replication_factor` = 20 (K_VALUE) · ours 20.
   */
  replicationFactor: number
  /**
   * Hard deadline of each iterative query (ms, `null` = none).
   * Go: none for user queries (the caller's context) · Rust `set_query_timeout` = 60 s · ours 60 s,
   * so no query can hold resources forever.
   */
  queryTimeout: number | null
  /**
   * Deadline of routing-table refresh queries (ms).
   * Go `RoutingTableRefreshQueryTimeout` = 10 s · Rust: `queryTimeout` (60 s) · ours 10 s
   * (a refresh that has not finished in 10 s is better retried at the next period).
   */
  refreshQueryTimeout: number
  /**
   * Deadline of one request/response exchange on a stream (ms). Not in the seed; both
   * implementations have one. Go `dhtReadMessageTimeout` = 10 s · Rust `set_substreams_timeout`
   * = 10 s · ours 10 s (seed: intercontinental RTT is 100-300 ms, so 10 s is generous).
   */
  requestTimeout: number
  /**
   * Largest Kademlia message accepted or sent (bytes, after the length prefix).
   * Go: `network.MessageSizeMax` = 4 MiB · Rust `set_max_packet_size` = 16 KiB · ours 4 MiB,
   * Go's, the reference implementation most peers run; a smaller value would refuse their
   * legitimate large responses (20 peers with many addresses each).
   */
  maxMessageSize: number
  /**
   * S/Kademlia disjoint lookup paths: α independent paths with no peer in common.
   * Go: none · Rust `disjoint_query_paths` = false · ours false.
   */
  disjointPaths: boolean

  // ---- Routing table ----------------------------------------------------------------------
  /**
   * Whether background refresh queries run at all.
   * Go `DisableAutoRefresh` (= not disabled) · Rust `set_periodic_bootstrap_interval(None)` to
   * disable · ours enabled.
   */
  autoRefresh: boolean
  /**
   * Interval between refresh sweeps of under-filled buckets (ms).
   * Go `RoutingTableRefreshPeriod` = 10 min · Rust `set_periodic_bootstrap_interval` = 5 min ·
   * ours 10 min: half the background traffic of Rust's, the value Amino's table quality was
   * measured with.
   */
  refreshInterval: number
  /**
   * A peer whose measured RTT exceeds this may be evicted in favour of a faster one (ms).
   * Go `RoutingTableLatencyTolerance` = 10 s · Rust: none · ours 10 s.
   */
  latencyTolerance: number
  /**
   * When a peer enters the routing table: on every established connection to a DHT server
   * ('onConnected'), or only through `addAddress` ('manual').
   * Go: always on connection · Rust `set_kbucket_inserts` = OnConnected · ours 'onConnected'.
   */
  kbucketInserts: BucketInserts
  /**
   * Lifetime of a pending bucket candidate waiting for a full bucket's oldest entry to fail (ms).
   * Go: none (no pending slot; admission checks) · Rust `set_kbucket_pending_timeout` = 60 s · ours 60 s.
   */
  pendingTimeout: number

  // ---- Operational mode -------------------------------------------------------------------
  /**
   * client: never answers, never advertises the protocol. server: always. auto: server once an
   * external address is confirmed reachable. auto-server (Go): server until proven unreachable.
   * Go `Mode` = ModeAuto · Rust `set_mode` = Client (auto-detect when unset) · ours 'auto':
   * a node behind NAT must not become a phantom routing entry (seed, Operational Mode).
   */
  mode: KadMode

  // ---- Record management ------------------------------------------------------------------
  /**
   * Maximum age of a stored value record (ms, `null` = never expires: closed networks only).
   * Go `MaxRecordAge` (`DefaultProvideValidity`) = 48 h · Rust `set_record_ttl` = 48 h · ours 48 h.
   */
  recordTtl: number | null
  /**
   * How often stored records are re-replicated to the current closest peers (ms, `null` = off).
   * Go: none · Rust `set_replication_interval` = 1 h · ours 1 h.
   */
  replicationInterval: number | null
  /**
   * How often the originator re-publishes its value records (ms, `null` = off).
   * Go: external (22 h) · Rust `set_publication_interval` = 22 h · ours 22 h (2x margin under 48 h).
   */
  publicationInterval: number | null
  /**
   * Maximum age of a stored provider record (ms, `null` = never: closed networks only).
   * Go `MaxRecordAge`/`DefaultProvideValidity` = 48 h · Rust `set_provider_record_ttl` = 48 h · ours 48 h.
   */
  providerRecordTtl: number | null
  /**
   * How often a provider re-announces (ms, `null` = off).
   * Go: external (`DefaultReprovideInterval`) = 22 h · Rust `set_provider_publication_interval` = 12 h ·
   * ours 22 h: Go's, half Rust's announcement traffic, still a 2x margin under the 48 h TTL.
   */
  providerPublicationInterval: number | null
  /**
   * Whether ADD_PROVIDER/GET_PROVIDERS are handled. Go `DisableProviders` (= enabled, Amino-locked) ·
   * Rust: always · ours enabled.
   */
  enableProviders: boolean
  /**
   * Whether PUT_VALUE/GET_VALUE are handled. Go `DisableValues` (= enabled, Amino-locked) ·
   * Rust: always · ours enabled.
   */
  enableValues: boolean
  /**
   * 'unfiltered': inbound records go to the store. 'filterBoth': an inbound PUT_VALUE or
   * ADD_PROVIDER becomes an event and the application accepts or rejects it.
   * Go: none (validators only) · Rust `set_record_filtering` = Unfiltered · ours 'unfiltered'.
   */
  recordFiltering: RecordFiltering
  /**
   * Lookup caching: after a successful get, the record is written back to up to this many of the
   * closest peers that did not have it (0 = disabled).
   * Go: none · Rust `set_caching` = Enabled { max_peers: 1 } · ours 1.
   */
  cachingMaxPeers: number

  // ---- Security and peer admission --------------------------------------------------------
  /**
   * The IP diversity filter, `null` = off.
   * Go `RoutingTablePeerDiversityFilter` = 3 per /16 globally, 2 per /16 per bucket (Amino) ·
   * Rust: none · ours Go's Amino values with IPv6 grouped by /32.
   */
  ipDiversity: IpDiversityConfig | null
  /**
   * Admission checks (a FIND_NODE probe that the peer answers, Go's `lookupCheck`) run at most
   * this many at once; further candidates wait.
   * Go `LookupCheckConcurrency` = 256 · Rust: none · ours 256.
   */
  admissionCheckConcurrency: number
  /** Whether a peer must pass an admission check before entering the table. Go: yes · Rust: no · ours yes. */
  admissionCheck: boolean
  /** Peers a query may contact. Go `QueryFilter` = accept all · Rust: none · ours accept all. */
  queryPeerFilter: PeerFilter | null
  /** Peers the routing table may admit. Go `RoutingTableFilter` = accept all · Rust: none · ours accept all. */
  routingTableFilter: PeerFilter | null

  // ---- Protocol identity ------------------------------------------------------------------
  /**
   * The overlay namespace. Go `ProtocolPrefix` = '/ipfs' · Rust: in `Config::new(protocol)` · ours '/ipfs'.
   * Never use '/ipfs' for a private DHT.
   */
  protocolPrefix: string
  /** Go `ProtocolExtension`, e.g. '/lan' for Kubo's LAN DHT · Rust: in the protocol string · ours ''. */
  protocolExtension: string
  /**
   * Full protocol ids, overriding prefix+extension (Go `V1ProtocolOverride`, Rust `Config::new`).
   * The first is the one we dial with; all are accepted. `null` = `[prefix + extension + '/kad/1.0.0']`.
   */
  protocolOverride: readonly string[] | null
}

/** Ours. Every value and its reason is in the field comments of `KadConfig`. */
export function defaultKadConfig (): KadConfig {
  return {
    kBucketSize: 20,
    alpha: 10,
    resiliency: 3,
    replicationFactor: 20,
    queryTimeout: 60 * SECOND,
    refreshQueryTimeout: 10 * SECOND,
    requestTimeout: 10 * SECOND,
    maxMessageSize: 4 * 1024 * 1024,
    disjointPaths: false,
    autoRefresh: true,
    refreshInterval: 10 * MINUTE,
    latencyTolerance: 10 * SECOND,
    kbucketInserts: 'onConnected',
    pendingTimeout: 60 * SECOND,
    mode: 'auto',
    recordTtl: 48 * HOUR,
    replicationInterval: 1 * HOUR,
    publicationInterval: 22 * HOUR,
    providerRecordTtl: 48 * HOUR,
    providerPublicationInterval: 22 * HOUR,
    enableProviders: true,
    enableValues: true,
    recordFiltering: 'unfiltered',
    cachingMaxPeers: 1,
    ipDiversity: { maxPerGroupGlobal: 3, maxPerGroupPerBucket: 2, ipv4PrefixLength: 16, ipv6PrefixLength: 32 },
    admissionCheckConcurrency: 256,
    admissionCheck: true,
    queryPeerFilter: null,
    routingTableFilter: null,
    protocolPrefix: PUBLIC_PROTOCOL_PREFIX,
    protocolExtension: '',
    protocolOverride: null
  }
}

/**
 * go-libp2p-kad-dht's defaults. Where Go has no such mechanism the value that reproduces Go's
 * behaviour is used: no pending slot wait beyond the check, no replication, no record filtering,
 * no caching, no disjoint paths. Go's user queries have no timeout of their own (`null`).
 */
export function goDefaults (): KadConfig {
  return {
    ...defaultKadConfig(),
    alpha: 10,
    resiliency: 3,
    replicationFactor: 20,
    queryTimeout: null,
    refreshQueryTimeout: 10 * SECOND,
    requestTimeout: 10 * SECOND,
    maxMessageSize: 4 * 1024 * 1024,
    refreshInterval: 10 * MINUTE,
    mode: 'auto',
    replicationInterval: null,
    publicationInterval: 22 * HOUR,
    providerPublicationInterval: 22 * HOUR,
    cachingMaxPeers: 0,
    admissionCheck: true
  }
}

/**
 * rust-libp2p/kad's defaults. Rust has no IP diversity filter, no admission check and no latency
 * eviction; `resiliency` equals k because Rust terminates on the replication factor.
 */
export function rustDefaults (): KadConfig {
  return {
    ...defaultKadConfig(),
    alpha: 3,
    resiliency: 20,
    replicationFactor: 20,
    queryTimeout: 60 * SECOND,
    refreshQueryTimeout: 60 * SECOND,
    requestTimeout: 10 * SECOND,
    maxMessageSize: 16 * 1024,
    refreshInterval: 5 * MINUTE,
    latencyTolerance: Number.POSITIVE_INFINITY,
    mode: 'client',
    replicationInterval: 1 * HOUR,
    publicationInterval: 22 * HOUR,
    providerPublicationInterval: 12 * HOUR,
    cachingMaxPeers: 1,
    ipDiversity: null,
    admissionCheck: false
  }
}

/** A configuration was rejected; `parameter` names the offending field. */
export class KadConfigError extends Libp2pError {
  readonly parameter: string
  constructor (parameter: string, message: string) {
    super('ERR_KAD_CONFIG', `kad config ${parameter}: ${message}`)
    this.parameter = parameter
  }
}

/** The protocol ids of a config: the first is dialled with, all are accepted. */
export function kadProtocols (config: Pick<KadConfig, 'protocolPrefix' | 'protocolExtension' | 'protocolOverride'>): readonly string[] {
  if (config.protocolOverride !== null) return config.protocolOverride
  return [`${config.protocolPrefix}${config.protocolExtension}${KAD_PROTOCOL_SUFFIX}`]
}

/** Whether the config joins the public Amino DHT (prefix '/ipfs', any extension such as '/lan'). */
export function isPublicPrefix (config: Pick<KadConfig, 'protocolPrefix' | 'protocolOverride'>): boolean {
  if (config.protocolOverride !== null) return config.protocolOverride.some(p => p === '/ipfs/kad/1.0.0' || p.startsWith('/ipfs/'))
  return config.protocolPrefix === PUBLIC_PROTOCOL_PREFIX
}

/** Upper bound for α and k: each in-flight RPC holds a stream (a DoS bound on our own queries). */
export const MAX_PARALLELISM = 64
/** Upper bound for k: 256 buckets of k peers stay under a few MB even at this value. */
export const MAX_BUCKET_SIZE = 256

function positiveInt (p: string, v: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(v) || v < 1 || v > max) throw new KadConfigError(p, `must be an integer in [1, ${max}], got ${v}`)
}
function positiveDuration (p: string, v: number | null, nullable: boolean): void {
  if (v === null) {
    if (!nullable) throw new KadConfigError(p, 'must be a duration in ms, not null')
    return
  }
  if (typeof v !== 'number' || Number.isNaN(v) || v <= 0) throw new KadConfigError(p, `must be a positive duration in ms, got ${v}`)
}
function fmt (ms: number): string {
  if (ms % HOUR === 0) return `${ms / HOUR} h`
  if (ms % MINUTE === 0) return `${ms / MINUTE} min`
  if (ms % SECOND === 0) return `${ms / SECOND} s`
  return `${ms} ms`
}

/** Throws `KadConfigError` for the first invalid field or combination. */
export function validateKadConfig (c: KadConfig): void {
  positiveInt('kBucketSize', c.kBucketSize, MAX_BUCKET_SIZE)
  positiveInt('alpha', c.alpha, MAX_PARALLELISM)
  positiveInt('resiliency', c.resiliency, MAX_BUCKET_SIZE)
  positiveInt('replicationFactor', c.replicationFactor, MAX_BUCKET_SIZE)
  if (c.resiliency > c.replicationFactor) {
    throw new KadConfigError('resiliency', `β (${c.resiliency}) cannot exceed the replication factor (${c.replicationFactor}): a lookup keeps only that many closest peers`)
  }
  positiveDuration('queryTimeout', c.queryTimeout, true)
  positiveDuration('refreshQueryTimeout', c.refreshQueryTimeout, false)
  positiveDuration('requestTimeout', c.requestTimeout, false)
  positiveInt('maxMessageSize', c.maxMessageSize, 64 * 1024 * 1024)
  positiveDuration('refreshInterval', c.refreshInterval, false)
  positiveDuration('latencyTolerance', c.latencyTolerance, false)
  positiveDuration('pendingTimeout', c.pendingTimeout, false)
  if (!['client', 'server', 'auto', 'auto-server'].includes(c.mode)) throw new KadConfigError('mode', `must be client, server, auto or auto-server, got ${String(c.mode)}`)
  if (!['onConnected', 'manual'].includes(c.kbucketInserts)) throw new KadConfigError('kbucketInserts', `must be onConnected or manual, got ${String(c.kbucketInserts)}`)
  if (!['unfiltered', 'filterBoth'].includes(c.recordFiltering)) throw new KadConfigError('recordFiltering', `must be unfiltered or filterBoth, got ${String(c.recordFiltering)}`)
  positiveDuration('recordTtl', c.recordTtl, true)
  positiveDuration('replicationInterval', c.replicationInterval, true)
  positiveDuration('publicationInterval', c.publicationInterval, true)
  positiveDuration('providerRecordTtl', c.providerRecordTtl, true)
  positiveDuration('providerPublicationInterval', c.providerPublicationInterval, true)
  if (!Number.isInteger(c.cachingMaxPeers) || c.cachingMaxPeers < 0 || c.cachingMaxPeers > c.replicationFactor) {
    throw new KadConfigError('cachingMaxPeers', `must be an integer in [0, replicationFactor=${c.replicationFactor}], got ${c.cachingMaxPeers}`)
  }
  positiveInt('admissionCheckConcurrency', c.admissionCheckConcurrency, 65536)
  if (c.ipDiversity !== null) {
    const d = c.ipDiversity
    positiveInt('ipDiversity.maxPerGroupGlobal', d.maxPerGroupGlobal)
    positiveInt('ipDiversity.maxPerGroupPerBucket', d.maxPerGroupPerBucket)
    positiveInt('ipDiversity.ipv4PrefixLength', d.ipv4PrefixLength, 32)
    positiveInt('ipDiversity.ipv6PrefixLength', d.ipv6PrefixLength, 128)
  }
  if (c.queryPeerFilter !== null && typeof c.queryPeerFilter !== 'function') throw new KadConfigError('queryPeerFilter', 'must be a function or null')
  if (c.routingTableFilter !== null && typeof c.routingTableFilter !== 'function') throw new KadConfigError('routingTableFilter', 'must be a function or null')

  // Record lifecycle invariants (seed, Record Management): a record must be refreshed before it expires.
  if (c.publicationInterval !== null && c.recordTtl !== null && c.publicationInterval >= c.recordTtl) {
    throw new KadConfigError('publicationInterval', `(${fmt(c.publicationInterval)}) must be shorter than recordTtl (${fmt(c.recordTtl)}), or records expire before they are re-published`)
  }
  if (c.replicationInterval !== null && c.publicationInterval !== null && c.replicationInterval >= c.publicationInterval) {
    throw new KadConfigError('replicationInterval', `(${fmt(c.replicationInterval)}) must be shorter than publicationInterval (${fmt(c.publicationInterval)})`)
  }
  if (c.providerPublicationInterval !== null && c.providerRecordTtl !== null && c.providerPublicationInterval >= c.providerRecordTtl) {
    throw new KadConfigError('providerPublicationInterval', `(${fmt(c.providerPublicationInterval)}) must be shorter than providerRecordTtl (${fmt(c.providerRecordTtl)}), or provider records expire before they are re-announced`)
  }

  // Protocol identity.
  if (typeof c.protocolPrefix !== 'string' || !c.protocolPrefix.startsWith('/') || c.protocolPrefix.endsWith('/')) {
    throw new KadConfigError('protocolPrefix', `must start with '/' and not end with '/', got '${String(c.protocolPrefix)}'`)
  }
  if (c.protocolExtension !== '' && (!c.protocolExtension.startsWith('/') || c.protocolExtension.endsWith('/'))) {
    throw new KadConfigError('protocolExtension', `must be '' or start with '/' and not end with '/', got '${c.protocolExtension}'`)
  }
  if (c.protocolOverride !== null) {
    if (c.protocolOverride.length === 0) throw new KadConfigError('protocolOverride', 'must name at least one protocol, or be null')
    for (const p of c.protocolOverride) if (!p.startsWith('/')) throw new KadConfigError('protocolOverride', `protocol ids start with '/', got '${p}'`)
  }
  // Go's validator (the Amino lock): under /ipfs, k and both record subsystems are fixed.
  if (isPublicPrefix(c)) {
    if (c.kBucketSize !== AMINO_BUCKET_SIZE) {
      throw new KadConfigError('kBucketSize', `cannot change k from ${AMINO_BUCKET_SIZE} under the public '/ipfs' prefix (every Amino peer assumes k=${AMINO_BUCKET_SIZE}); use a private protocolPrefix`)
    }
    if (!c.enableValues) throw new KadConfigError('enableValues', "cannot disable the value store under the public '/ipfs' prefix: peers that contact this node would lose their records; use a private protocolPrefix")
    if (!c.enableProviders) throw new KadConfigError('enableProviders', "cannot disable the provider store under the public '/ipfs' prefix: peers that contact this node would lose their provider records; use a private protocolPrefix")
  }
}

/** Ours (or `base`) overlaid with `options`, validated and frozen. */
export function createKadConfig (options: Partial<KadConfig> = {}, base: KadConfig = defaultKadConfig()): Readonly<KadConfig> {
  const config: KadConfig = { ...base }
  for (const [key, value] of Object.entries(options)) {
    if (!(key in config)) throw new KadConfigError(key, 'unknown parameter')
    if (value !== undefined) (config as unknown as Record<string, unknown>)[key] = value
  }
  if (config.ipDiversity !== null) config.ipDiversity = Object.freeze({ ...config.ipDiversity })
  validateKadConfig(config)
  return Object.freeze(config)
}
