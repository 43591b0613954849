/**
 * SwarmEvent: what the Swarm reports to its user (rust-libp2p's `SwarmEvent`), delivered both to
 * typed listeners (`swarm.on('connectionEstablished', e => …)`) and to async iterators
 * (`for await (const e of swarm)`). These events are also the single source for metrics: a
 * recorder subscribes to them; nothing is counted on the hot path.
 */
import type { Multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '../../identity/peer-id.ts'
import type { ConnectionId, DialId, Endpoint, ListenerId } from '../behaviour.ts'
import { LimitExceededError } from '../errors.ts'

/** Why a connection closed. */
export type CloseCause =
  /** No handler kept it alive for `idleConnectionTimeout`. */
  | { type: 'idle' }
  /** `closeConnection`/`disconnectPeer` or a behaviour's `closeConnection`. */
  | { type: 'local' }
  /** The Swarm is shutting down. */
  | { type: 'shutdown' }
  /** The remote closed it or the transport failed; `error` when not graceful. */
  | { type: 'remote', error?: Error }

export type SwarmEvent<TBehaviourEvent = unknown> =
  | { type: 'behaviour', event: TBehaviourEvent }
  | { type: 'connectionEstablished', peerId: PeerId, connectionId: ConnectionId, endpoint: Endpoint, numEstablished: number, dialId?: DialId, transport: string, establishedInMs?: number }
  | { type: 'connectionClosed', peerId: PeerId, connectionId: ConnectionId, endpoint: Endpoint, numEstablished: number, cause: CloseCause }
  | { type: 'incomingConnection', connectionId: ConnectionId, localAddr: Multiaddr | undefined, sendBackAddr: Multiaddr }
  | { type: 'incomingConnectionError', connectionId: ConnectionId | undefined, localAddr: Multiaddr | undefined, sendBackAddr: Multiaddr | undefined, peerId?: PeerId, error: Error }
  | { type: 'outgoingConnectionError', dialId: DialId, peerId: PeerId | undefined, error: Error, addressErrors: ReadonlyArray<{ address: Multiaddr, error: Error }> }
  | { type: 'dialing', dialId: DialId, peerId: PeerId | undefined, addresses: readonly Multiaddr[] }
  | { type: 'newListenAddr', listenerId: ListenerId, address: Multiaddr }
  | { type: 'expiredListenAddr', listenerId: ListenerId, address: Multiaddr }
  | { type: 'listenerClosed', listenerId: ListenerId, addresses: readonly Multiaddr[], error?: Error }
  | { type: 'listenerError', listenerId: ListenerId, error: Error }
  | { type: 'newExternalAddrCandidate', address: Multiaddr }
  | { type: 'externalAddrConfirmed', address: Multiaddr }
  | { type: 'externalAddrExpired', address: Multiaddr }
  | { type: 'newExternalAddrOfPeer', peerId: PeerId, address: Multiaddr }

export type SwarmEventType = SwarmEvent['type']
/** The event of one type, e.g. `SwarmEventOf<'connectionClosed'>`. */
export type SwarmEventOf<T extends SwarmEventType, E = unknown> = Extract<SwarmEvent<E>, { type: T }>

/**
 * Events an iterator buffers before it is declared lagging. Listeners get events synchronously;
 * an iterator is a queue, and a consumer that stops reading must not grow it without bound.
 * 4096 events of ~200 bytes is under 1 MiB, and covers a burst of a few thousand connections.
 */
export const DEFAULT_EVENT_ITERATOR_BUFFER = 4096

/** The consumer of an event iterator fell more than its buffer behind; events were lost. */
export class SwarmEventsLaggedError extends LimitExceededError {
  constructor (buffer: number) {
    super('swarm.eventIteratorBuffer', `the event iterator fell ${buffer} events behind`)
  }
}

type AnyListener = (event: any) => void

/**
 * Fan-out of SwarmEvents to typed listeners and iterators. A throwing listener is reported to
 * `onListenerError` and does not stop the others.
 */
export class SwarmEventBus<E> {
  private readonly listeners = new Map<string, AnyListener[]>()
  private readonly iterators = new Set<EventIterator<SwarmEvent<E>>>()
  private closed = false
  private readonly onListenerError: (err: unknown) => void

  constructor (onListenerError: (err: unknown) => void) {
    this.onListenerError = onListenerError
  }

  on (type: string, listener: AnyListener): void {
    const list = this.listeners.get(type)
    if (list === undefined) this.listeners.set(type, [listener])
    else list.push(listener)
  }

  off (type: string, listener: AnyListener): void {
    const list = this.listeners.get(type)
    if (list === undefined) return
    // A `once` wrapper is removed by its original listener too.
    const i = list.findIndex(l => l === listener || (l as { original?: AnyListener }).original === listener)
    if (i >= 0) list.splice(i, 1)
    if (list.length === 0) this.listeners.delete(type)
  }

  listenerCount (type?: string): number {
    if (type !== undefined) return this.listeners.get(type)?.length ?? 0
    let n = 0
    for (const list of this.listeners.values()) n += list.length
    return n
  }

  /** True when someone would receive an event of `type` (lets the Swarm skip building it). */
  wants (type: string): boolean {
    return this.iterators.size > 0 || this.listeners.has(type) || this.listeners.has('*')
  }

  emit (event: SwarmEvent<E>): void {
    for (const it of this.iterators) it.push(event)
    const typed = this.listeners.get(event.type)
    if (typed !== undefined) this.call(typed, event)
    const all = this.listeners.get('*')
    if (all !== undefined) this.call(all, event)
  }

  private call (list: AnyListener[], event: SwarmEvent<E>): void {
    // Copy only when there is more than one: a listener may remove itself while called.
    if (list.length === 1) {
      try { (list[0] as AnyListener)(event) } catch (err) { this.onListenerError(err) }
      return
    }
    for (const l of [...list]) {
      try { l(event) } catch (err) { this.onListenerError(err) }
    }
  }

  iterator (buffer = DEFAULT_EVENT_ITERATOR_BUFFER): AsyncIterableIterator<SwarmEvent<E>> {
    const it = new EventIterator<SwarmEvent<E>>(buffer, () => { this.iterators.delete(it) })
    if (this.closed) it.end()
    else this.iterators.add(it)
    return it
  }

  /** Ends every iterator (after the events already queued) and drops every listener. */
  close (): void {
    this.closed = true
    for (const it of this.iterators) it.end()
    this.iterators.clear()
    this.listeners.clear()
  }
}

class EventIterator<T> implements AsyncIterableIterator<T> {
  private queue: T[] = []
  private head = 0
  private waiter: ((r: IteratorResult<T>) => void) | undefined
  private ended = false
  private error: Error | undefined
  private readonly buffer: number
  private readonly detach: () => void

  constructor (buffer: number, detach: () => void) {
    this.buffer = buffer
    this.detach = detach
  }

  push (value: T): void {
    if (this.ended) return
    const waiter = this.waiter
    if (waiter !== undefined) {
      this.waiter = undefined
      waiter({ value, done: false })
      return
    }
    if (this.queue.length - this.head >= this.buffer) {
      this.error = new SwarmEventsLaggedError(this.buffer)
      this.queue = []
      this.head = 0
      this.ended = true
      this.detach()
      return
    }
    this.queue.push(value)
  }

  end (): void {
    if (this.ended) return
    this.ended = true
    const waiter = this.waiter
    if (waiter !== undefined) {
      this.waiter = undefined
      waiter({ value: undefined, done: true })
    }
  }

  async next (): Promise<IteratorResult<T>> {
    if (this.head < this.queue.length) {
      const value = this.queue[this.head] as T
      this.queue[this.head] = undefined as T
      this.head++
      if (this.head === this.queue.length) { this.queue = []; this.head = 0 }
      return { value, done: false }
    }
    if (this.error !== undefined) {
      const err = this.error
      this.error = undefined
      throw err
    }
    if (this.ended) return { value: undefined, done: true }
    return await new Promise<IteratorResult<T>>(resolve => { this.waiter = resolve })
  }

  async return (): Promise<IteratorResult<T>> {
    this.ended = true
    this.queue = []
    this.head = 0
    this.detach()
    const waiter = this.waiter
    this.waiter = undefined
    waiter?.({ value: undefined, done: true })
    return { value: undefined, done: true }
  }

  [Symbol.asyncIterator] (): AsyncIterableIterator<T> {
    return this
  }
}
