/**
 * In-memory transport for tests: `memory({ network, latencyMs })` gives a TransportFactory whose
 * connections and streams keep the full Connection/Stream contract (backpressure, half-close,
 * reset, protocol negotiation, PeerId authentication) without sockets.
 */
export { memory, MemoryTransport, MemoryListener, MemoryNetwork, defaultMemoryNetwork } from './transport.ts'
export type { MemoryTransportOptions, MemoryNetworkOptions } from './transport.ts'
export { MemoryConnection } from './connection.ts'
export { MemoryStream } from './stream.ts'
export * from './constants.ts'
