/**
 * Connection limits as a behaviour (rust-libp2p's `connection-limits`): it denies pending and
 * established connections beyond configured counts, and has no per-connection work (its handler is
 * a DummyHandler). Combine it with the other behaviours; denial by any member denies the connection.
 *
 * Counting: pending outbound dials are counted from `handlePendingOutboundConnection` to their
 * `dialFailure` or `connectionEstablished` (matched by DialId); established connections from the
 * established hooks to `connectionClosed`. Pending inbound connections are counted only within
 * the hooks, because our transports hand the Swarm connections already upgraded (see
 * src/core/behaviour.ts): the limit still refuses them before a handler exists.
 */
import type { PeerId } from '../../identity/peer-id.ts'
import {
  ConnectionDenied,
  type ConnectionId, type DialId, type EstablishedInboundInfo, type EstablishedOutboundInfo, type FromSwarm,
  type NetworkBehaviour, type PendingInboundInfo, type PendingOutboundInfo
} from '../behaviour.ts'
import { DummyHandler } from '../handler.ts'
import { LimitExceededError } from '../errors.ts'

/** Every limit is optional; an absent one is unlimited (rust-libp2p's `ConnectionLimits::default()`). */
export interface ConnectionLimitsConfig {
  maxPendingIncoming?: number
  maxPendingOutgoing?: number
  maxEstablishedIncoming?: number
  maxEstablishedOutgoing?: number
  /** Established connections to one peer, both directions. */
  maxEstablishedPerPeer?: number
  /** Established connections in total, both directions. */
  maxEstablishedTotal?: number
}

export type ConnectionLimitKind = keyof ConnectionLimitsConfig

/** The error inside the `ConnectionDenied` this behaviour returns. */
export class ConnectionLimitExceededError extends LimitExceededError {
  readonly kind: ConnectionLimitKind
  readonly max: number
  constructor (kind: ConnectionLimitKind, max: number) {
    super(`connectionLimits.${kind}`, `at most ${max} allowed`)
    this.kind = kind
    this.max = max
  }
}

export class ConnectionLimits implements NetworkBehaviour<never, DummyHandler> {
  private limits: ConnectionLimitsConfig
  private readonly pendingOutbound = new Set<DialId>()
  private readonly inbound = new Set<ConnectionId>()
  private readonly outbound = new Set<ConnectionId>()
  private readonly perPeer = new Map<string, Set<ConnectionId>>()
  private pendingInbound = 0

  constructor (limits: ConnectionLimitsConfig = {}) {
    this.limits = { ...limits }
  }

  /** Changes the limits; existing connections stay. */
  setLimits (limits: ConnectionLimitsConfig): void {
    this.limits = { ...limits }
  }

  get counts (): { pendingOutgoing: number, establishedIncoming: number, establishedOutgoing: number } {
    return { pendingOutgoing: this.pendingOutbound.size, establishedIncoming: this.inbound.size, establishedOutgoing: this.outbound.size }
  }

  private check (kind: ConnectionLimitKind, current: number): ConnectionDenied | undefined {
    const max = this.limits[kind]
    if (max === undefined || current < max) return undefined
    const err = new ConnectionLimitExceededError(kind, max)
    return new ConnectionDenied('connection-limits', err.message, { cause: err })
  }

  handlePendingInboundConnection (_info: PendingInboundInfo): ConnectionDenied | undefined {
    return this.check('maxPendingIncoming', this.pendingInbound)
  }

  handleEstablishedInboundConnection (info: EstablishedInboundInfo): DummyHandler | ConnectionDenied {
    const denied = this.check('maxEstablishedIncoming', this.inbound.size) ??
      this.checkEstablished(info.peerId)
    if (denied !== undefined) return denied
    this.track(info.peerId, info.connectionId, this.inbound)
    return new DummyHandler()
  }

  handlePendingOutboundConnection (info: PendingOutboundInfo): ConnectionDenied | undefined {
    const denied = this.check('maxPendingOutgoing', this.pendingOutbound.size)
    if (denied !== undefined) return denied
    this.pendingOutbound.add(info.dialId)
    return undefined
  }

  handleEstablishedOutboundConnection (info: EstablishedOutboundInfo): DummyHandler | ConnectionDenied {
    this.pendingOutbound.delete(info.dialId)
    const denied = this.check('maxEstablishedOutgoing', this.outbound.size) ?? this.checkEstablished(info.peerId)
    if (denied !== undefined) return denied
    this.track(info.peerId, info.connectionId, this.outbound)
    return new DummyHandler()
  }

  private checkEstablished (peerId: PeerId): ConnectionDenied | undefined {
    return this.check('maxEstablishedTotal', this.inbound.size + this.outbound.size) ??
      this.check('maxEstablishedPerPeer', this.perPeer.get(peerId.toString())?.size ?? 0)
  }

  private track (peerId: PeerId, id: ConnectionId, set: Set<ConnectionId>): void {
    set.add(id)
    const key = peerId.toString()
    let peer = this.perPeer.get(key)
    if (peer === undefined) {
      peer = new Set()
      this.perPeer.set(key, peer)
    }
    peer.add(id)
  }

  onSwarmEvent (event: FromSwarm): void {
    if (event.type === 'dialFailure') {
      this.pendingOutbound.delete(event.dialId)
      // Established and counted here, then denied by another behaviour: no connectionClosed follows.
      if (event.connectionId !== undefined && event.peerId !== undefined) this.untrack(event.peerId, event.connectionId)
    } else if (event.type === 'listenFailure') {
      if (event.connectionId !== undefined && event.peerId !== undefined) this.untrack(event.peerId, event.connectionId)
    } else if (event.type === 'connectionClosed') {
      this.untrack(event.peerId, event.connectionId)
    }
  }

  private untrack (peerId: PeerId, id: ConnectionId): void {
    this.inbound.delete(id)
    this.outbound.delete(id)
    const key = peerId.toString()
    const peer = this.perPeer.get(key)
    if (peer !== undefined) {
      peer.delete(id)
      if (peer.size === 0) this.perPeer.delete(key)
    }
  }

  onConnectionHandlerEvent (): void {}

  poll (): undefined { return undefined }
}
