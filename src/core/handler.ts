/**
 * The ConnectionHandler contract: the per-connection half of a protocol (rust-libp2p's
 * `ConnectionHandler`). The Swarm creates one handler per established connection through its
 * NetworkBehaviour, then drives it:
 *
 *  - it routes every inbound stream whose negotiated protocol is in `listenProtocols()` to
 *    `onInboundStream` (streams arrive fully negotiated: the transport ran multistream-select
 *    against the Swarm's ProtocolTable, which is the union of all live handlers' protocols);
 *  - it opens the outbound streams that `poll` requests and hands them to `onOutboundStream` with
 *    the request's user data (`info`), or reports `onOutboundStreamError`;
 *  - it forwards the behaviour's `NotifyHandler` events to `onBehaviourEvent`;
 *  - it polls the handler (call order below) for events to its behaviour and stream requests;
 *  - it reads `keepAlive()` to decide when the connection is idle, and `nextDeadline()` to know
 *    when to poll again.
 *
 * A handler never dials or listens and reads no clock: the Swarm passes `now` (monotonic ms) in
 * the poll context and arms one timer for the handler's `nextDeadline()`. A handler may read and
 * write the streams it was given; that is its job (as in rust-libp2p), and it must release them in
 * `onClose`.
 *
 * Call order for one handler, each step only after the previous returned:
 *   inputs (`onInboundStream`, `onOutboundStream`, `onOutboundStreamError`, `onBehaviourEvent`,
 *   `onConnectionEvent`) → `poll(cx)` until it returns undefined → `keepAlive()` → `nextDeadline()`.
 * `onClose()` is called exactly once, after which no other method is called.
 */
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Stream } from './stream.ts'

/** What the Swarm gives each `poll` call. */
export interface PollContext {
  /** Monotonic milliseconds (the Swarm's clock, `performance.now()` unless configured). */
  readonly now: number
  /**
   * Asks the Swarm to poll again soon. Call it when work became ready outside `poll` (a stream
   * delivered data, a user method queued a command). Cheap and idempotent; valid for the life of
   * the handler or behaviour.
   */
  readonly wake: () => void
}

/** Why an outbound stream the handler asked for could not be opened. */
export type StreamUpgradeErrorKind = 'timeout' | 'unsupported' | 'io' | 'closed'

export class StreamUpgradeError extends Error {
  readonly kind: StreamUpgradeErrorKind
  constructor (kind: StreamUpgradeErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.kind = kind
    this.name = 'StreamUpgradeError'
  }
}

/** Things about its connection a handler is told (rust's `ConnectionEvent` non-stream variants). */
export type HandlerConnectionEvent =
  | { type: 'addressChange', address: Multiaddr }
  /** The set of protocols the remote supports changed (reported by another handler, e.g. identify). */
  | { type: 'remoteProtocolsChange', protocols: readonly string[] }
  /**
   * The protocols this node accepts (the Swarm's ProtocolTable). Sent once right after the handler
   * is created and again whenever the table changes (identify advertises them).
   */
  | { type: 'localProtocolsChange', protocols: readonly string[] }

/** What a handler returns from `poll`. */
export type ConnectionHandlerEvent<TOut, TInfo> =
  /** Open a stream negotiating the first supported of `protocols`; `info` comes back with the result. */
  | { type: 'outboundStreamRequest', protocols: readonly string[], info: TInfo, timeoutMs?: number }
  /** An event for this handler's behaviour (`onConnectionHandlerEvent`). */
  | { type: 'notifyBehaviour', event: TOut }
  /** Tell the other handlers of this connection which protocols the remote supports (identify). */
  | { type: 'reportRemoteProtocols', protocols: readonly string[] }

export interface ConnectionHandler<TIn = unknown, TOut = unknown, TInfo = unknown> {
  /**
   * Protocols this handler accepts on inbound streams. Read by the Swarm when the handler is
   * created and after each poll; the Swarm keeps the node's ProtocolTable in sync with it.
   * Return the same array object while it does not change (the Swarm compares by identity first).
   */
  listenProtocols(): readonly string[]
  /** A fully negotiated inbound stream for one of `listenProtocols()`. */
  onInboundStream(stream: Stream, protocol: string): void
  /** The stream requested with `info` is open and negotiated to `protocol`. */
  onOutboundStream(stream: Stream, protocol: string, info: TInfo): void
  /** The stream requested with `info` could not be opened. */
  onOutboundStreamError(info: TInfo, error: StreamUpgradeError): void
  /** An event from the behaviour (`ToSwarm` `notifyHandler`). */
  onBehaviourEvent(event: TIn): void
  onConnectionEvent?(event: HandlerConnectionEvent): void
  /** Whether this handler still needs the connection; when no handler does, the idle timer runs. */
  keepAlive(): boolean
  poll(cx: PollContext): ConnectionHandlerEvent<TOut, TInfo> | undefined
  /** When to poll next without a wake (monotonic ms), or undefined. */
  nextDeadline?(): number | undefined
  /** The connection is closing or closed: reset or close its streams, drop state. */
  onClose?(): void
}

/** The event types of a handler, for generic code (rust's associated types). */
export type HandlerInEvent<H> = H extends ConnectionHandler<infer I, any, any> ? I : never
export type HandlerOutEvent<H> = H extends ConnectionHandler<any, infer O, any> ? O : never
export type HandlerOutboundInfo<H> = H extends ConnectionHandler<any, any, infer T> ? T : never

const NO_PROTOCOLS: readonly string[] = Object.freeze([])

/**
 * A handler that does nothing and keeps nothing alive: for behaviours that have no per-connection
 * work (connection limits) and for disabled members (`toggle`). Events it receives are ignored.
 */
export class DummyHandler implements ConnectionHandler<never, never, never> {
  listenProtocols (): readonly string[] { return NO_PROTOCOLS }
  onInboundStream (stream: Stream): void { stream.reset() }
  onOutboundStream (stream: Stream): void { stream.reset() }
  onOutboundStreamError (): void {}
  onBehaviourEvent (): void {}
  keepAlive (): boolean { return false }
  poll (): undefined { return undefined }
}

/**
 * A FIFO of commands with the waker pattern done once: `push` queues and wakes the Swarm, `poll`
 * remembers the latest waker and returns the oldest item. Behaviours and handlers use it for the
 * commands their public methods and stream tasks produce.
 */
export class PollQueue<T> {
  private items: T[] = []
  private head = 0
  private waker: (() => void) | undefined

  get length (): number { return this.items.length - this.head }

  push (item: T): void {
    this.items.push(item)
    this.waker?.()
  }

  /** Returns the oldest item, or undefined; records `cx.wake` for later pushes. */
  poll (cx: PollContext): T | undefined {
    this.waker = cx.wake
    return this.shift()
  }

  shift (): T | undefined {
    if (this.head >= this.items.length) return undefined
    const item = this.items[this.head] as T
    this.items[this.head] = undefined as T
    this.head++
    if (this.head === this.items.length) {
      this.items = []
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return item
  }

  /** Wake the Swarm without queueing (e.g. a deadline moved earlier). */
  wake (): void {
    this.waker?.()
  }

  clear (): void {
    this.items = []
    this.head = 0
  }
}
