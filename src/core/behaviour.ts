/**
 * The NetworkBehaviour contract: what a node says and to whom (rust-libp2p's `NetworkBehaviour`).
 * A behaviour performs no I/O. The Swarm tells it about connections (and lets it deny them), about
 * swarm-level changes (`FromSwarm`) and about its handlers' events; the behaviour answers with
 * `ToSwarm` commands from `poll`. Commands whose result arrives later carry an id that the result
 * repeats: `dial` → `DialId` (in `dialFailure` and `connectionEstablished`), `listenOn` →
 * `ListenerId` (in `newListenAddr`, `listenerError`, `listenerClosed`).
 *
 * Hook order for one connection:
 *   outbound: `addressesOfPeer` (dial by PeerId) → `handlePendingOutboundConnection` →
 *             `handleEstablishedOutboundConnection` → `onSwarmEvent(connectionEstablished)`
 *             (or `onSwarmEvent(dialFailure)`);
 *   inbound:  `handlePendingInboundConnection` → `handleEstablishedInboundConnection` →
 *             `onSwarmEvent(connectionEstablished)`;
 *   then any number of `onConnectionHandlerEvent`, and finally `onSwarmEvent(connectionClosed)`.
 * A connection denied by a hook produces no `connectionEstablished`/`connectionClosed`; a denied
 * outbound one produces `dialFailure` (the error is the `ConnectionDenied`), a denied inbound one
 * a `listenFailure`.
 *
 * Note on "pending inbound": our Transport contract yields connections already upgraded (security
 * and muxer done), so `handlePendingInboundConnection` runs just before the established hook;
 * denying there still avoids creating any handler.
 */
import type { Multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '../identity/peer-id.ts'
import type { ConnectionHandler, HandlerInEvent, HandlerOutEvent, PollContext } from './handler.ts'

export type { PollContext } from './handler.ts'

/** Swarm-assigned id of a connection, unique in the process (rust's `ConnectionId`). */
export type ConnectionId = number
/** Id of a dial command, repeated in its `dialFailure` / `connectionEstablished`. */
export type DialId = number
/** Id of a listener, repeated in its listen-address and listener events. */
export type ListenerId = number

let nextConnectionIdValue = 1
let nextDialIdValue = 1
let nextListenerIdValue = 1
/** Process-wide unique ids, so behaviours can allocate them before handing a command to the Swarm. */
export function nextConnectionId (): ConnectionId { return nextConnectionIdValue++ }
export function nextDialId (): DialId { return nextDialIdValue++ }
export function nextListenerId (): ListenerId { return nextListenerIdValue++ }

/** How a connection was made (rust's `ConnectedPoint`). */
export type Endpoint =
  | { role: 'dialer', address: Multiaddr }
  | { role: 'listener', localAddr: Multiaddr | undefined, sendBackAddr: Multiaddr }

/** A behaviour refuses a connection by returning (not throwing) one of these. */
export class ConnectionDenied extends Error {
  readonly code = 'ERR_CONNECTION_DENIED'
  /** Who denied it, e.g. 'connection-limits'. */
  readonly by: string
  constructor (by: string, message: string, options?: { cause?: unknown }) {
    super(`${by}: ${message}`, options)
    this.by = by
    this.name = 'ConnectionDenied'
  }
}

/** When a dial proceeds (rust's `PeerCondition`). */
export type DialCondition =
  /** Only if there is no established connection to the peer (the default for dials by PeerId). */
  | 'disconnected'
  /** Only if no dial to the peer is in progress. */
  | 'notDialing'
  /** Only if disconnected and not dialing (rust's `DisconnectedAndNotDialing`). */
  | 'disconnectedAndNotDialing'
  | 'always'

export interface DialOpts {
  /** Allocate with `nextDialId()`; the Swarm allocates one when absent. */
  dialId?: DialId
  peerId?: PeerId
  /** Addresses to try, in order of preference; may carry `/p2p/<peerId>`. */
  addresses?: readonly Multiaddr[]
  /** Default: 'disconnected' with a peerId, 'always' without. */
  condition?: DialCondition
  /** Also ask the behaviours and the address book for addresses (default true with a peerId). */
  extendAddresses?: boolean
  /** How many addresses are dialed at once; default the Swarm's `dialConcurrencyFactor`. */
  concurrency?: number
}

export interface PendingInboundInfo {
  connectionId: ConnectionId
  localAddr: Multiaddr | undefined
  sendBackAddr: Multiaddr
}

export interface EstablishedInboundInfo extends PendingInboundInfo {
  peerId: PeerId
}

export interface PendingOutboundInfo {
  connectionId: ConnectionId
  dialId: DialId
  peerId: PeerId | undefined
  /** Addresses gathered so far (explicit, address book). */
  addresses: readonly Multiaddr[]
}

export interface EstablishedOutboundInfo {
  connectionId: ConnectionId
  dialId: DialId
  peerId: PeerId
  address: Multiaddr
}

/** What the Swarm tells every behaviour (rust's `FromSwarm`). */
export type FromSwarm =
  | { type: 'connectionEstablished', peerId: PeerId, connectionId: ConnectionId, endpoint: Endpoint, otherEstablished: number, dialId?: DialId, failedAddresses: readonly Multiaddr[] }
  | { type: 'connectionClosed', peerId: PeerId, connectionId: ConnectionId, endpoint: Endpoint, remainingEstablished: number, cause?: Error }
  | { type: 'addressChange', peerId: PeerId, connectionId: ConnectionId, old: Endpoint, new: Endpoint }
  /** `connectionId` is set when the failure concerns a connection the hooks already saw (denied after being established). */
  | { type: 'dialFailure', peerId: PeerId | undefined, dialId: DialId, error: Error, connectionId?: ConnectionId }
  | { type: 'listenFailure', localAddr: Multiaddr | undefined, sendBackAddr: Multiaddr, error: Error, peerId?: PeerId, connectionId?: ConnectionId }
  | { type: 'newListener', listenerId: ListenerId }
  | { type: 'newListenAddr', listenerId: ListenerId, address: Multiaddr }
  | { type: 'expiredListenAddr', listenerId: ListenerId, address: Multiaddr }
  | { type: 'listenerError', listenerId: ListenerId, error: Error }
  | { type: 'listenerClosed', listenerId: ListenerId, addresses: readonly Multiaddr[], error?: Error }
  | { type: 'newExternalAddrCandidate', address: Multiaddr }
  | { type: 'externalAddrConfirmed', address: Multiaddr }
  | { type: 'externalAddrExpired', address: Multiaddr }
  | { type: 'newExternalAddrOfPeer', peerId: PeerId, address: Multiaddr }

/** Which handler(s) a `notifyHandler` goes to. */
export type NotifyTarget = 'any' | { connectionId: ConnectionId }

/** What a behaviour asks of the Swarm (rust's `ToSwarm`). */
export type ToSwarm<TEvent, THandlerIn> =
  | { type: 'generateEvent', event: TEvent }
  | { type: 'dial', opts: DialOpts & { dialId: DialId } }
  | { type: 'listenOn', listenerId: ListenerId, address: Multiaddr }
  | { type: 'removeListener', listenerId: ListenerId }
  | { type: 'notifyHandler', peerId: PeerId, handler: NotifyTarget, event: THandlerIn }
  | { type: 'closeConnection', peerId: PeerId, connection: 'all' | { connectionId: ConnectionId } }
  | { type: 'newExternalAddrCandidate', address: Multiaddr }
  | { type: 'externalAddrConfirmed', address: Multiaddr }
  | { type: 'externalAddrExpired', address: Multiaddr }
  /** A behaviour learned a dialable address of a peer (identify's listen addresses). */
  | { type: 'newExternalAddrOfPeer', peerId: PeerId, address: Multiaddr }

export interface NetworkBehaviour<TEvent = unknown, THandler extends ConnectionHandler<any, any, any> = ConnectionHandler<any, any, any>> {
  /** May deny an inbound connection before any handler exists. */
  handlePendingInboundConnection?(info: PendingInboundInfo): ConnectionDenied | undefined
  handleEstablishedInboundConnection(info: EstablishedInboundInfo): THandler | ConnectionDenied
  /**
   * May deny an outbound connection before it is dialed, or add addresses to try (rust's
   * `handle_pending_outbound_connection`).
   */
  handlePendingOutboundConnection?(info: PendingOutboundInfo): readonly Multiaddr[] | ConnectionDenied | undefined
  handleEstablishedOutboundConnection(info: EstablishedOutboundInfo): THandler | ConnectionDenied
  /** Addresses this behaviour knows for a peer, asked when dialing by PeerId. */
  addressesOfPeer?(peerId: PeerId): readonly Multiaddr[]
  /**
   * The inbound protocols this behaviour's handlers serve, known before any connection exists.
   * Our transports negotiate inbound streams against one node-wide ProtocolTable (in native code
   * for TCP and QUIC), and a remote may open a stream the moment its side of the connection is
   * up, before our handler for it exists; so the Swarm puts these in the table at start and
   * re-reads them after each poll (return the same array while it does not change). A departure
   * from rust-libp2p, where each connection negotiates against its own handler. Handlers'
   * `listenProtocols()` still decide per connection: a stream for a protocol the connection's
   * handler does not declare is reset.
   */
  listenProtocols?(): readonly string[]
  onSwarmEvent(event: FromSwarm): void
  onConnectionHandlerEvent(peerId: PeerId, connectionId: ConnectionId, event: HandlerOutEvent<THandler>): void
  /**
   * The next command, or undefined when there is none now. Store `cx.wake` and call it when a
   * command becomes ready later (or use `PollQueue`).
   */
  poll(cx: PollContext): ToSwarm<TEvent, HandlerInEvent<THandler>> | undefined
  /** When to poll next without a wake (monotonic ms), or undefined. */
  nextDeadline?(): number | undefined
}

/** The event type a behaviour emits (`generateEvent`). */
export type BehaviourEvent<B> = B extends NetworkBehaviour<infer E, any> ? E : never
/** The handler type a behaviour creates. */
export type BehaviourHandler<B> = B extends NetworkBehaviour<any, infer H> ? H : never

/** Helpers that build commands with fresh ids, so call sites read like rust's `ToSwarm::Dial`. */
export const ToSwarm = {
  dial (opts: DialOpts): { type: 'dial', opts: DialOpts & { dialId: DialId } } {
    return { type: 'dial', opts: { ...opts, dialId: opts.dialId ?? nextDialId() } }
  },
  listenOn (address: Multiaddr, listenerId: ListenerId = nextListenerId()): { type: 'listenOn', listenerId: ListenerId, address: Multiaddr } {
    return { type: 'listenOn', listenerId, address }
  },
  generateEvent<E> (event: E): { type: 'generateEvent', event: E } {
    return { type: 'generateEvent', event }
  }
} as const
