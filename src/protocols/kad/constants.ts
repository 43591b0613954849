/**
 * Kademlia limits that are not user parameters (those are in config.ts). Each says where its
 * value comes from.
 */

/** Inbound kad streams one connection may have open at once: rust-libp2p's `MAX_NUM_STREAMS` (32). Beyond it new streams are reset. */
export const MAX_INBOUND_STREAMS_PER_CONNECTION = 32
/** Outbound kad streams one connection opens at once; more requests wait in the handler. Same bound as inbound (Rust's). */
export const MAX_OUTBOUND_STREAMS_PER_CONNECTION = 32
/**
 * Requests waiting in one handler for an outbound slot. A query sends at most α (≤ 64) requests
 * to distinct peers, so one peer sees at most one per concurrent query; 256 covers 256 concurrent
 * queries through one peer (a bootstrap node) before the handler refuses more.
 */
export const MAX_QUEUED_REQUESTS_PER_CONNECTION = 256
/** Queries running at once per node. Each holds at most MAX_PEERS_PER_QUERY peers; 1,024 bounds memory to ~1M entries. */
export const MAX_ACTIVE_QUERIES = 1024
/**
 * Peers whose addresses we remember outside the routing table (learned from responses, needed to
 * dial them during a query). 10 concurrent queries × 1,000 peers each; least recently learned first out.
 */
export const MAX_ADDRESS_CACHE = 10_000
/** Requests waiting for a connection to their peer, per peer (a dial is in progress). */
export const MAX_PENDING_REQUESTS_PER_PEER = 64
/** Providers returned in one GET_PROVIDERS answer: k (Go returns at most `bucketSize` providers). */
export const MAX_PROVIDERS_PER_RESPONSE = 20
/** How often the store's expired entries are removed (ms): a minute keeps at most a minute of dead entries in memory; reads already hide them. */
export const STORE_EXPIRY_INTERVAL = 60_000
/** Interval between pending-entry and admission timeout checks when nothing else is due (ms). */
export const MAINTENANCE_INTERVAL = 1_000
/** Peers remembered as not being kad servers (their probe failed), so they are not probed on every request; a tenth of the address cache. */
export const MAX_NOT_SERVER_CACHE = 1024
/** A peer that refused kad is probed again after this long (ms): Go's refresh period (10 min), a peer may have switched to server mode since. */
export const NOT_SERVER_RETRY = 10 * 60_000
