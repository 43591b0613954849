/**
 * Kademlia DHT (`/ipfs/kad/1.0.0`): the behaviour and its handler, configuration with Go and Rust
 * presets, the wire codec, the routing table, the lookup iterators and record stores.
 * docs/kad-parameters.md documents every parameter.
 */
export { Kademlia, type KademliaInit } from './behaviour.ts'
export { KadHandler, type KadHandlerIn, type KadHandlerOut } from './handler.ts'
export {
  createKadConfig, defaultKadConfig, goDefaults, rustDefaults, validateKadConfig, kadProtocols, KadConfigError,
  PUBLIC_PROTOCOL_PREFIX, LAN_PROTOCOL_EXTENSION, KAD_PROTOCOL_SUFFIX,
  type KadConfig, type KadMode, type IpDiversityConfig, type PeerFilter, type BucketInserts, type RecordFiltering
} from './config.ts'
export * from './constants.ts'
export type * from './types.ts'
export { MessageType, ConnectionType, encodeMessage, decodeMessage, KadDecodeError, type KadMessage, type WirePeer, type WireRecord } from './message.ts'
export { encodeFrame, decodeFrame, FrameDecoder, KadFrameError, DEFAULT_MAX_MESSAGE_SIZE } from './protocol.ts'
export { RoutingTable, type TableEntry, type UpdateResult } from './kbucket/table.ts'
export { keyFromBytes, keyFromPeer, distance, bucketIndex, type KadKey } from './kbucket/key.ts'
export { ClosestPeersIter, type QueryPeersIter, type IterState } from './query/closest.ts'
export { ClosestDisjointPeersIter } from './query/disjoint.ts'
export { MemoryRecordStore } from './store/memory.ts'
export { JournalRecordStore } from './store/journal.ts'
export { LmdbRecordStore, lmdbAvailable } from './store/lmdb.ts'
export { LevelRecordStore } from './store/level.ts'
export { openPersistentStore, openPersistentStoreSync, DEFAULT_PERSISTENT_STORE, type PersistentStoreKind } from './store/persistent.ts'
export { StoreLimitError, DEFAULT_STORE_LIMITS, type RecordStore, type StoredRecord, type ProviderEntry, type RecordStoreLimits } from './store/types.ts'
export { Validators, RecordValidationError, publicKeyValidator, type RecordValidator } from './store/validation.ts'
export { KadMetrics, type KadMetricsOptions } from './metrics.ts'
