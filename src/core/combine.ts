/**
 * Composition of behaviours: `combine({ ping, identify, kad })` is one NetworkBehaviour whose
 * events are the typed union `{ behaviour: 'ping', event: PingEvent } | …` — the TypeScript
 * counterpart of rust-libp2p's `#[derive(NetworkBehaviour)]`. Members meet only through the Swarm:
 * every member sees every FromSwarm event and every connection; each member's handler gets only
 * its own streams and events.
 *
 * - A connection is denied if any member denies it (the first denial, in declaration order, wins;
 *   handlers already created by earlier members are closed).
 * - Inbound streams go to the member that declares the negotiated protocol (first in declaration
 *   order if two declare it).
 * - Members are polled round-robin, starting after the last one that produced a command, so one
 *   busy member cannot starve the others.
 *
 * `toggle(behaviour, enabled)` wraps an optional member (rust's `Toggle`): while disabled it
 * creates handlers that do nothing, ignores events and issues no commands. Changing it affects
 * connections established afterwards.
 */
import type { Multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '../identity/peer-id.ts'
import {
  ConnectionDenied,
  type BehaviourEvent, type BehaviourHandler, type ConnectionId, type EstablishedInboundInfo, type EstablishedOutboundInfo,
  type FromSwarm, type NetworkBehaviour, type PendingInboundInfo, type PendingOutboundInfo, type ToSwarm
} from './behaviour.ts'
import {
  DummyHandler,
  type ConnectionHandler, type ConnectionHandlerEvent, type HandlerConnectionEvent, type HandlerInEvent, type HandlerOutEvent,
  type PollContext, type StreamUpgradeError
} from './handler.ts'
import type { Stream } from './stream.ts'

type AnyBehaviour = NetworkBehaviour<any, ConnectionHandler<any, any, any>>
export type Members = Record<string, AnyBehaviour>

/** `{ behaviour: name, event }` for each member. */
export type CombinedEvent<M extends Members> = { [K in keyof M & string]: { behaviour: K, event: BehaviourEvent<M[K]> } }[keyof M & string]
/** What the combined behaviour sends to its handler: a member's event, tagged. */
export type CombinedHandlerIn<M extends Members> = { [K in keyof M & string]: { member: K, event: HandlerInEvent<BehaviourHandler<M[K]>> } }[keyof M & string]
export type CombinedHandlerOut<M extends Members> = { [K in keyof M & string]: { member: K, event: HandlerOutEvent<BehaviourHandler<M[K]>> } }[keyof M & string]
interface TaggedInfo { member: string, info: unknown }

export class CombinedHandler<M extends Members> implements ConnectionHandler<CombinedHandlerIn<M>, CombinedHandlerOut<M>, TaggedInfo> {
  private readonly names: string[]
  private readonly handlers: Map<string, ConnectionHandler<any, any, any>>
  private protocols: readonly string[] = []
  private protocolOwner = new Map<string, string>()
  private memberProtocols: Array<readonly string[]> = []
  private next = 0

  constructor (handlers: Map<string, ConnectionHandler<any, any, any>>) {
    this.handlers = handlers
    this.names = [...handlers.keys()]
    this.refreshProtocols()
  }

  /** A member's handler, e.g. to inspect it in tests. */
  member (name: string): ConnectionHandler<any, any, any> | undefined {
    return this.handlers.get(name)
  }

  private refreshProtocols (): void {
    const lists = this.names.map(n => (this.handlers.get(n) as ConnectionHandler).listenProtocols())
    if (lists.length === this.memberProtocols.length && lists.every((l, i) => l === this.memberProtocols[i])) return
    this.memberProtocols = lists
    const owner = new Map<string, string>()
    lists.forEach((list, i) => {
      for (const p of list) if (!owner.has(p)) owner.set(p, this.names[i] as string)
    })
    this.protocolOwner = owner
    this.protocols = Object.freeze([...owner.keys()])
  }

  listenProtocols (): readonly string[] {
    this.refreshProtocols()
    return this.protocols
  }

  onInboundStream (stream: Stream, protocol: string): void {
    const name = this.protocolOwner.get(protocol)
    const h = name === undefined ? undefined : this.handlers.get(name)
    if (h === undefined) { stream.reset(); return }
    h.onInboundStream(stream, protocol)
  }

  onOutboundStream (stream: Stream, protocol: string, info: TaggedInfo): void {
    const h = this.handlers.get(info.member)
    if (h === undefined) { stream.reset(); return }
    h.onOutboundStream(stream, protocol, info.info)
  }

  onOutboundStreamError (info: TaggedInfo, error: StreamUpgradeError): void {
    this.handlers.get(info.member)?.onOutboundStreamError(info.info, error)
  }

  onBehaviourEvent (event: CombinedHandlerIn<M>): void {
    this.handlers.get(event.member)?.onBehaviourEvent(event.event)
  }

  onConnectionEvent (event: HandlerConnectionEvent): void {
    for (const h of this.handlers.values()) h.onConnectionEvent?.(event)
  }

  keepAlive (): boolean {
    for (const h of this.handlers.values()) if (h.keepAlive()) return true
    return false
  }

  poll (cx: PollContext): ConnectionHandlerEvent<CombinedHandlerOut<M>, TaggedInfo> | undefined {
    const n = this.names.length
    for (let i = 0; i < n; i++) {
      const index = (this.next + i) % n
      const name = this.names[index] as string
      const ev = (this.handlers.get(name) as ConnectionHandler).poll(cx)
      if (ev === undefined) continue
      this.next = (index + 1) % n
      switch (ev.type) {
        case 'notifyBehaviour':
          return { type: 'notifyBehaviour', event: { member: name, event: ev.event } as CombinedHandlerOut<M> }
        case 'outboundStreamRequest':
          return ev.timeoutMs === undefined
            ? { type: 'outboundStreamRequest', protocols: ev.protocols, info: { member: name, info: ev.info } }
            : { type: 'outboundStreamRequest', protocols: ev.protocols, info: { member: name, info: ev.info }, timeoutMs: ev.timeoutMs }
        case 'reportRemoteProtocols':
          return ev
      }
    }
    return undefined
  }

  nextDeadline (): number | undefined {
    let min: number | undefined
    for (const h of this.handlers.values()) {
      const d = h.nextDeadline?.()
      if (d !== undefined && (min === undefined || d < min)) min = d
    }
    return min
  }

  onClose (): void {
    for (const h of this.handlers.values()) h.onClose?.()
  }
}

export class CombinedBehaviour<M extends Members> implements NetworkBehaviour<CombinedEvent<M>, CombinedHandler<M>> {
  /** The members, typed: `combined.members.ping.…`. */
  readonly members: M
  private readonly names: Array<keyof M & string>
  private next = 0

  constructor (members: M) {
    this.members = members
    this.names = Object.keys(members) as Array<keyof M & string>
  }

  handlePendingInboundConnection (info: PendingInboundInfo): ConnectionDenied | undefined {
    for (const name of this.names) {
      const r = this.members[name]?.handlePendingInboundConnection?.(info)
      if (r instanceof ConnectionDenied) return r
    }
    return undefined
  }

  handleEstablishedInboundConnection (info: EstablishedInboundInfo): CombinedHandler<M> | ConnectionDenied {
    return this.build(name => (this.members[name] as AnyBehaviour).handleEstablishedInboundConnection(info))
  }

  handlePendingOutboundConnection (info: PendingOutboundInfo): readonly Multiaddr[] | ConnectionDenied | undefined {
    const extra: Multiaddr[] = []
    for (const name of this.names) {
      const r = this.members[name]?.handlePendingOutboundConnection?.(info)
      if (r instanceof ConnectionDenied) return r
      if (r !== undefined) extra.push(...r)
    }
    return extra
  }

  handleEstablishedOutboundConnection (info: EstablishedOutboundInfo): CombinedHandler<M> | ConnectionDenied {
    return this.build(name => (this.members[name] as AnyBehaviour).handleEstablishedOutboundConnection(info))
  }

  private build (make: (name: keyof M & string) => ConnectionHandler<any, any, any> | ConnectionDenied): CombinedHandler<M> | ConnectionDenied {
    const handlers = new Map<string, ConnectionHandler<any, any, any>>()
    for (const name of this.names) {
      const h = make(name)
      if (h instanceof ConnectionDenied) {
        for (const made of handlers.values()) made.onClose?.()
        return h
      }
      handlers.set(name, h)
    }
    return new CombinedHandler<M>(handlers)
  }

  private declared: readonly string[] = []
  private memberDeclared: Array<readonly string[] | undefined> = []

  /** The union of the members' declared protocols; the same array while no member's changes. */
  listenProtocols (): readonly string[] {
    const lists = this.names.map(n => this.members[n]?.listenProtocols?.())
    if (lists.length === this.memberDeclared.length && lists.every((l, i) => l === this.memberDeclared[i])) return this.declared
    this.memberDeclared = lists
    this.declared = Object.freeze([...new Set(lists.flatMap(l => l ?? []))])
    return this.declared
  }

  addressesOfPeer (peerId: PeerId): readonly Multiaddr[] {
    const out: Multiaddr[] = []
    for (const name of this.names) {
      const list = this.members[name]?.addressesOfPeer?.(peerId)
      if (list !== undefined) out.push(...list)
    }
    return out
  }

  onSwarmEvent (event: FromSwarm): void {
    for (const name of this.names) this.members[name]?.onSwarmEvent(event)
  }

  onConnectionHandlerEvent (peerId: PeerId, connectionId: ConnectionId, event: CombinedHandlerOut<M>): void {
    this.members[event.member]?.onConnectionHandlerEvent(peerId, connectionId, event.event)
  }

  poll (cx: PollContext): ToSwarm<CombinedEvent<M>, CombinedHandlerIn<M>> | undefined {
    const n = this.names.length
    for (let i = 0; i < n; i++) {
      const index = (this.next + i) % n
      const name = this.names[index] as keyof M & string
      const cmd = (this.members[name] as AnyBehaviour).poll(cx)
      if (cmd === undefined) continue
      this.next = (index + 1) % n
      switch (cmd.type) {
        case 'generateEvent':
          return { type: 'generateEvent', event: { behaviour: name, event: cmd.event } as CombinedEvent<M> }
        case 'notifyHandler':
          return { type: 'notifyHandler', peerId: cmd.peerId, handler: cmd.handler, event: { member: name, event: cmd.event } as CombinedHandlerIn<M> }
        default:
          return cmd
      }
    }
    return undefined
  }

  nextDeadline (): number | undefined {
    let min: number | undefined
    for (const name of this.names) {
      const d = this.members[name]?.nextDeadline?.()
      if (d !== undefined && (min === undefined || d < min)) min = d
    }
    return min
  }
}

/** One behaviour made of named members; its events are `{ behaviour: name, event }`. */
export function combine<M extends Members> (members: M): CombinedBehaviour<M> {
  return new CombinedBehaviour(members)
}

/** An optional member (rust's `Toggle`); `enabled` applies to connections established after it changes. */
export class Toggle<B extends AnyBehaviour> implements NetworkBehaviour<BehaviourEvent<B>, ConnectionHandler<HandlerInEvent<BehaviourHandler<B>>, HandlerOutEvent<BehaviourHandler<B>>, any>> {
  readonly inner: B
  enabled: boolean

  constructor (inner: B, enabled: boolean) {
    this.inner = inner
    this.enabled = enabled
  }

  handlePendingInboundConnection (info: PendingInboundInfo): ConnectionDenied | undefined {
    return this.enabled ? this.inner.handlePendingInboundConnection?.(info) : undefined
  }

  handleEstablishedInboundConnection (info: EstablishedInboundInfo): ConnectionHandler<any, any, any> | ConnectionDenied {
    return this.enabled ? this.inner.handleEstablishedInboundConnection(info) : new DummyHandler()
  }

  handlePendingOutboundConnection (info: PendingOutboundInfo): readonly Multiaddr[] | ConnectionDenied | undefined {
    return this.enabled ? this.inner.handlePendingOutboundConnection?.(info) : undefined
  }

  handleEstablishedOutboundConnection (info: EstablishedOutboundInfo): ConnectionHandler<any, any, any> | ConnectionDenied {
    return this.enabled ? this.inner.handleEstablishedOutboundConnection(info) : new DummyHandler()
  }

  addressesOfPeer (peerId: PeerId): readonly Multiaddr[] {
    return this.enabled ? this.inner.addressesOfPeer?.(peerId) ?? [] : []
  }

  listenProtocols (): readonly string[] {
    return this.enabled ? this.inner.listenProtocols?.() ?? NONE : NONE
  }

  onSwarmEvent (event: FromSwarm): void {
    // Connection events of connections whose handler came from the inner behaviour must still
    // reach it after a disable, so it can release per-connection state: always forward.
    this.inner.onSwarmEvent(event)
  }

  onConnectionHandlerEvent (peerId: PeerId, connectionId: ConnectionId, event: HandlerOutEvent<BehaviourHandler<B>>): void {
    this.inner.onConnectionHandlerEvent(peerId, connectionId, event)
  }

  poll (cx: PollContext): ToSwarm<BehaviourEvent<B>, HandlerInEvent<BehaviourHandler<B>>> | undefined {
    return this.enabled ? this.inner.poll(cx) : undefined
  }

  nextDeadline (): number | undefined {
    return this.enabled ? this.inner.nextDeadline?.() : undefined
  }
}

const NONE: readonly string[] = Object.freeze([])

export function toggle<B extends AnyBehaviour> (behaviour: B, enabled: boolean): Toggle<B> {
  return new Toggle(behaviour, enabled)
}
