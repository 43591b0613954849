/**
 * The Swarm's established connections and their handlers (rust-libp2p's `swarm/src/connection`):
 * registering a connection the transport yielded, routing its inbound streams, polling its handler
 * (stream requests, events to the behaviour, remote protocol reports, keep-alive and the idle
 * timer, one timer per connection for the handler's deadline), opening the outbound streams it
 * asks for, and closing it (the handler is told first; the behaviour hears `connectionClosed` in
 * step 3 of the poll order).
 */
import type { Multiaddr } from '@multiformats/multiaddr'
import type { ConnectionId, DialId, Endpoint } from '../behaviour.ts'
import { StreamUpgradeError, type ConnectionHandler, type PollContext } from '../handler.ts'
import { TimeoutError, UnsupportedProtocolError } from '../errors.ts'
import type { Stream } from '../stream.ts'
import type { Connection } from '../transport.ts'
import type { EstablishedConnection } from './connection-pool.ts'
import { toError, type SwarmContext } from './context.ts'
import type { CloseCause, SwarmEvent } from './events.ts'
import { IdleTimer } from './idle.ts'

/** Events taken from one handler per poll before moving to the next (fairness between connections). */
export const HANDLER_EVENTS_PER_POLL = 32
/** Timeout to open and negotiate an outbound stream; rust-libp2p's default substream timeout is 10 s. */
export const DEFAULT_OUTBOUND_STREAM_TIMEOUT_MS = 10_000

type AnyHandler = ConnectionHandler<any, any, any>

export class Connections {
  private readonly ctx: SwarmContext
  private readonly idleTimeout: number
  private readonly streamTimeout: number

  /**
   * The deadline timer's callback, one for all connections (the connection is the timer's
   * argument): no closure per arm. The ping handler alone re-arms every connection's timer each
   * interval, and 10,000 idle connections each kept a closure and its context for it.
   */
  private readonly onTimer = (c: EstablishedConnection): void => {
    c.timer = undefined
    c.deadline = undefined
    this.ctx.loop.markDirty(c)
  }

  constructor (ctx: SwarmContext, options: { idleTimeout: number, streamTimeout: number }) {
    this.ctx = ctx
    this.idleTimeout = options.idleTimeout
    this.streamTimeout = options.streamTimeout
  }

  /** Registers an established connection and its handler; the behaviour hears of it in step 3. */
  register (connectionId: ConnectionId, connection: Connection, handler: AnyHandler, endpoint: Endpoint,
    dialId: DialId | undefined, failedAddresses: Multiaddr[], establishedInMs?: number): void {
    const peerId = connection.remotePeer
    const protocols = handler.listenProtocols()
    const c = this.newRecord(connectionId, connection, handler, endpoint, dialId, protocols)
    this.ctx.protocols.update([], protocols)
    if (handler.onConnectionEvent !== undefined) {
      try {
        handler.onConnectionEvent({ type: 'localProtocolsChange', protocols: this.ctx.protocols.list() })
      } catch (err) {
        this.ctx.log.error('handler onConnectionEvent threw', { err })
      }
    }
    connection.on('stream', c.onStream)
    connection.on('close', c.onClose)
    const numEstablished = this.ctx.pool.add(c)
    if (this.ctx.log.enabled.debug) this.ctx.log.debug('connection established', { connectionId, peer: c.peerKey, role: endpoint.role, transport: connection.transport })
    this.ctx.loop.enqueue(() => {
      if (this.ctx.pool.get(connectionId) !== c) return
      this.ctx.loop.tellBehaviour(dialId === undefined
        ? { type: 'connectionEstablished', peerId, connectionId, endpoint, otherEstablished: numEstablished - 1, failedAddresses }
        : { type: 'connectionEstablished', peerId, connectionId, endpoint, otherEstablished: numEstablished - 1, failedAddresses, dialId })
      const event: SwarmEvent<unknown> = { type: 'connectionEstablished', peerId, connectionId, endpoint, numEstablished, transport: connection.transport }
      if (dialId !== undefined) event.dialId = dialId
      if (establishedInMs !== undefined) event.establishedInMs = establishedInMs
      this.ctx.bus.emit(event)
      // First poll: gives the handler its waker and arms its timers.
      this.ctx.loop.markDirty(c)
    })
    if (connection.status !== 'open') c.onClose()
  }

  /**
   * The record of a new connection. Built here rather than in `register` so that the two
   * listeners' closure context holds only the record: a closure keeps its whole scope's captured
   * variables alive, and `register`'s scope also holds what step 3's event needs (failed
   * addresses, the event's fields), which would then live as long as the connection.
   */
  private newRecord (id: ConnectionId, connection: Connection, handler: AnyHandler, endpoint: Endpoint,
    dialId: DialId | undefined, protocols: readonly string[]): EstablishedConnection {
    const peerId = connection.remotePeer
    // Every field is set here (none added later), so the record keeps one shape and its fields
    // stay in the object: no out-of-object property array per connection.
    const c: EstablishedConnection = {
      id,
      peerId,
      peerKey: peerId.toString(),
      endpoint,
      connection,
      handler,
      dialId,
      protocols,
      pendingOutbound: 0,
      idle: new IdleTimer(this.idleTimeout, this.ctx.clock()),
      deadline: undefined,
      timer: undefined,
      dirty: false,
      closing: false,
      closeCause: undefined,
      closed: undefined,
      handlerClosed: false,
      wake: undefined,
      onStream: (stream: Stream): void => { this.onInboundStream(c, stream) },
      onClose: (err?: Error): void => { this.ctx.loop.enqueue(() => { this.onConnectionClosed(c, err) }) }
    }
    return c
  }

  private onInboundStream (c: EstablishedConnection, stream: Stream): void {
    if (c.closing || this.ctx.pool.get(c.id) !== c) {
      stream.reset()
      return
    }
    const protocols = c.handler.listenProtocols()
    if (!protocols.includes(stream.protocol)) {
      if (this.ctx.log.enabled.debug) this.ctx.log.debug('inbound stream for a protocol this handler does not serve', { protocol: stream.protocol })
      stream.reset()
      return
    }
    try {
      c.handler.onInboundStream(stream, stream.protocol)
    } catch (err) {
      this.ctx.log.error('handler onInboundStream threw', { err, protocol: stream.protocol })
      stream.reset()
    }
    this.ctx.loop.markDirty(c)
  }

  /** Polls one connection's handler; returns the work done (for the budget). */
  poll (c: EstablishedConnection): number {
    c.dirty = false
    if (c.closing) return 1
    const cx: PollContext = { now: this.ctx.clock(), wake: c.wake ??= () => { this.ctx.loop.markDirty(c) } }
    let n = 0
    for (; n < HANDLER_EVENTS_PER_POLL; n++) {
      let ev
      try {
        ev = c.handler.poll(cx)
      } catch (err) {
        this.ctx.log.error('handler poll threw; closing the connection', { err, connectionId: c.id })
        this.close(c, { type: 'local' })
        return n + 1
      }
      if (ev === undefined) break
      switch (ev.type) {
        case 'notifyBehaviour':
          try {
            this.ctx.behaviour.onConnectionHandlerEvent(c.peerId, c.id, ev.event)
          } catch (err) {
            this.ctx.log.error('behaviour onConnectionHandlerEvent threw', { err })
          }
          this.ctx.loop.wakeBehaviour()
          break
        case 'outboundStreamRequest':
          this.openOutboundStream(c, ev.protocols, ev.info, ev.timeoutMs ?? this.streamTimeout)
          break
        case 'reportRemoteProtocols':
          c.handler.onConnectionEvent?.({ type: 'remoteProtocolsChange', protocols: ev.protocols })
          break
      }
    }
    if (n === HANDLER_EVENTS_PER_POLL) this.ctx.loop.markDirty(c)
    const protocols = c.handler.listenProtocols()
    if (protocols !== c.protocols) {
      this.ctx.protocols.update(c.protocols, protocols)
      c.protocols = protocols
    }
    const now = this.ctx.clock()
    const keepAlive = c.pendingOutbound > 0 || c.handler.keepAlive()
    const idleDeadline = c.idle.update(keepAlive, now)
    if (idleDeadline !== undefined && now >= idleDeadline) {
      if (this.ctx.log.enabled.debug) this.ctx.log.debug('closing idle connection', { connectionId: c.id, peer: c.peerKey })
      this.close(c, { type: 'idle' })
      return n + 1
    }
    const handlerDeadline = c.handler.nextDeadline?.()
    const deadline = handlerDeadline === undefined ? idleDeadline : idleDeadline === undefined ? handlerDeadline : Math.min(handlerDeadline, idleDeadline)
    this.armConnectionTimer(c, deadline, now)
    return n + 1
  }

  private armConnectionTimer (c: EstablishedConnection, deadline: number | undefined, now: number): void {
    if (deadline === c.deadline && (deadline === undefined || c.timer !== undefined)) return
    if (c.timer !== undefined) clearTimeout(c.timer)
    c.timer = undefined
    c.deadline = deadline
    if (deadline === undefined) return
    c.timer = setTimeout(this.onTimer, Math.max(0, Math.ceil(deadline - now)), c)
  }

  private openOutboundStream (c: EstablishedConnection, protocols: readonly string[], info: unknown, timeoutMs: number): void {
    c.pendingOutbound++
    const controller = new AbortController()
    const timer = setTimeout(() => { controller.abort(new TimeoutError(`opening a stream timed out after ${timeoutMs} ms`)) }, timeoutMs)
    c.connection.openStream(protocols, { signal: controller.signal }).then(stream => {
      clearTimeout(timer)
      c.pendingOutbound--
      if (c.closing || this.ctx.pool.get(c.id) !== c) {
        stream.reset()
        return
      }
      try {
        c.handler.onOutboundStream(stream, stream.protocol, info)
      } catch (err) {
        this.ctx.log.error('handler onOutboundStream threw', { err })
        stream.reset()
      }
      this.ctx.loop.markDirty(c)
    }, (err: unknown) => {
      clearTimeout(timer)
      c.pendingOutbound--
      if (this.ctx.pool.get(c.id) !== c) return
      const error = toError(err)
      const kind = controller.signal.aborted ? 'timeout' : error instanceof UnsupportedProtocolError ? 'unsupported' : c.closing || c.connection.status !== 'open' ? 'closed' : 'io'
      try {
        c.handler.onOutboundStreamError(info, new StreamUpgradeError(kind, error.message, { cause: error }))
      } catch (e) {
        this.ctx.log.error('handler onOutboundStreamError threw', { err: e })
      }
      this.ctx.loop.markDirty(c)
    })
  }

  close (c: EstablishedConnection, cause: CloseCause): void {
    if (c.closing) return
    c.closing = true
    c.closeCause = cause
    if (c.timer !== undefined) clearTimeout(c.timer)
    c.timer = undefined
    this.closeHandler(c)
    c.closed = c.connection.close().then(() => {
      // A transport that does not emit 'close' after close() still gets cleaned up.
      this.ctx.loop.enqueue(() => { this.onConnectionClosed(c, undefined) })
    }, (err: unknown) => {
      c.connection.abort(toError(err))
      this.ctx.loop.enqueue(() => { this.onConnectionClosed(c, toError(err)) })
    })
  }

  onLocalProtocolsChange (protocols: readonly string[]): void {
    for (const c of this.ctx.pool.values()) {
      if (c.closing || c.handler.onConnectionEvent === undefined) continue
      try {
        c.handler.onConnectionEvent({ type: 'localProtocolsChange', protocols })
      } catch (err) {
        this.ctx.log.error('handler onConnectionEvent threw', { err })
      }
      this.ctx.loop.markDirty(c)
    }
  }

  /** Tells the handler once, before a local graceful close (so it can end its streams) or after a remote close. */
  private closeHandler (c: EstablishedConnection): void {
    if (c.handlerClosed) return
    c.handlerClosed = true
    try {
      c.handler.onClose?.()
    } catch (e) {
      this.ctx.log.error('handler onClose threw', { err: e })
    }
  }

  onConnectionClosed (c: EstablishedConnection, err: Error | undefined): void {
    if (this.ctx.pool.get(c.id) !== c) return
    const remaining = this.ctx.pool.remove(c.id)
    c.closing = true
    c.connection.off('stream', c.onStream)
    c.connection.off('close', c.onClose)
    this.ctx.loop.forget(c)
    if (c.timer !== undefined) clearTimeout(c.timer)
    c.timer = undefined
    this.ctx.protocols.update(c.protocols, [])
    this.closeHandler(c)
    const cause: CloseCause = c.closeCause ?? (err === undefined ? { type: 'remote' } : { type: 'remote', error: err })
    if (this.ctx.log.enabled.debug) this.ctx.log.debug('connection closed', { connectionId: c.id, peer: c.peerKey, cause: cause.type })
    this.ctx.loop.tellBehaviour(err === undefined
      ? { type: 'connectionClosed', peerId: c.peerId, connectionId: c.id, endpoint: c.endpoint, remainingEstablished: remaining }
      : { type: 'connectionClosed', peerId: c.peerId, connectionId: c.id, endpoint: c.endpoint, remainingEstablished: remaining, cause: err })
    this.ctx.bus.emit({ type: 'connectionClosed', peerId: c.peerId, connectionId: c.id, endpoint: c.endpoint, numEstablished: remaining, cause })
  }
}
