/**
 * The Kademlia behaviour's public event and result types. Every operation returns a `QueryId`;
 * every progress and result event of that operation repeats it (rust-libp2p's
 * `OutboundQueryProgressed { id, result, stats, step }`).
 */
import type { Multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '../../identity/peer-id.ts'

export type QueryId = number

export interface PeerInfo {
  peer: PeerId
  addrs: Multiaddr[]
}

export interface KadRecord {
  key: Uint8Array
  value: Uint8Array
}

/** Why an operation ended without (full) success. */
export type QueryErrorCode = 'timeout' | 'cancelled' | 'notFound' | 'quorumFailed' | 'noKnownPeers'

export interface QueryStats {
  /** Requests sent. */
  requests: number
  succeeded: number
  failed: number
  /** Longest chain of responses that led to a result peer (1 = answered by an initial peer). */
  hops: number
  /** Monotonic ms. */
  start: number
  end: number | undefined
}

/** What triggered a query: the user, or the behaviour's own timers. */
export type QueryTrigger = 'user' | 'refresh' | 'replicate' | 'republish' | 'reprovide' | 'cache'

export type QueryResult =
  | { type: 'getClosestPeers', key: Uint8Array, peers: PeerInfo[], error?: QueryErrorCode }
  /** A progress step carries `found` (one record and who had it); the last step carries `best`. */
  | { type: 'getRecord', key: Uint8Array, found?: { record: KadRecord, peer: PeerId | undefined }, best?: KadRecord, count: number, error?: QueryErrorCode }
  | { type: 'putRecord', key: Uint8Array, success: number, error?: QueryErrorCode }
  | { type: 'startProviding', key: Uint8Array, success: number, error?: QueryErrorCode }
  /** Each step carries the providers newly found; the last step has none new but the total count. */
  | { type: 'getProviders', key: Uint8Array, providers: PeerInfo[], total: number, error?: QueryErrorCode }
  | { type: 'bootstrap', target: Uint8Array, remaining: number, error?: QueryErrorCode }

export type InboundRequest =
  | { type: 'findNode', key: Uint8Array }
  | { type: 'getRecord', key: Uint8Array, found: boolean }
  /** With recordFiltering 'filterBoth' the record is not stored; call `storeInboundRecord` to accept it. */
  | { type: 'putRecord', record: KadRecord, stored: boolean }
  | { type: 'getProviders', key: Uint8Array, count: number }
  /** With recordFiltering 'filterBoth' the provider is not stored; call `storeInboundProvider` to accept it. */
  | { type: 'addProvider', key: Uint8Array, provider: PeerInfo, stored: boolean }
  | { type: 'ping' }

export type KadEvent =
  | { type: 'outboundQueryProgressed', id: QueryId, trigger: QueryTrigger, result: QueryResult, stats: QueryStats, step: { count: number, last: boolean } }
  | { type: 'inboundRequest', peer: PeerId, request: InboundRequest }
  | { type: 'routingUpdated', peer: PeerId, isNewPeer: boolean, addresses: Multiaddr[], bucket: number, evicted?: PeerId }
  /** A peer that speaks kad could not be added (no dialable address, filter, diversity, full bucket). */
  | { type: 'unroutablePeer', peer: PeerId, reason: string }
  /** A peer waits for a full bucket's disconnected head (Rust's `PendingRoutablePeer`). */
  | { type: 'pendingRoutablePeer', peer: PeerId, bucket: number }
  | { type: 'modeChanged', mode: 'client' | 'server' }
