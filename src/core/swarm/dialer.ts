/**
 * Dialing for the Swarm: a dial command or `swarm.dial()` checked against its condition, its
 * addresses gathered (explicit, address book, behaviour) and resolved, then dialed several at once
 * under a limit, each with its own timeout (dial.ts holds the pure parts). A connection that
 * reaches the expected peer and passes the behaviour's hook is registered (connections.ts); a
 * failure is reported as `dialFailure` and `outgoingConnectionError` in step 3 of the poll order.
 *
 * QUIC first, TCP fallback: when a dial's addresses hold both `/quic-v1` and other ones, the QUIC
 * ones start first and the others `fallbackDialDelay` ms later (or at once when every QUIC attempt
 * failed); the first connection wins and the loser is aborted. The winner's transport is in the
 * `connectionEstablished` event (`transport`, `endpoint.address`) and in the `dial won` log line.
 */
import type { Multiaddr } from '@multiformats/multiaddr'
import { PeerId } from '../../identity/peer-id.ts'
import { ConnectionDenied, nextConnectionId, type ConnectionId, type DialCondition, type DialId, type DialOpts } from '../behaviour.ts'
import type { ConnectionHandler } from '../handler.ts'
import { AbortError, ConnectionClosedError, DialError, TimeoutError } from '../errors.ts'
import type { Connection } from '../transport.ts'
import type { Connections } from './connections.ts'
import { toError, type SwarmContext } from './context.ts'
import { AllAddressesFailedError, NoAddressesError, checkDialCondition, dialConcurrently, isPreferredDialAddress, resolveDialAddresses, type DialStagger } from './dial.ts'

interface PendingDial {
  dialId: DialId
  peerKey: string | undefined
  controller: AbortController
}

type AnyHandler = ConnectionHandler<any, any, any>

export class Dialer {
  private readonly ctx: SwarmContext
  private readonly connections: Connections
  private readonly dialConcurrency: number
  private readonly dialTimeout: number
  private readonly stagger: DialStagger
  private readonly pending = new Map<DialId, PendingDial>()

  constructor (ctx: SwarmContext, connections: Connections, options: { dialConcurrency: number, dialTimeout: number, fallbackDialDelay: number }) {
    this.ctx = ctx
    this.connections = connections
    this.dialConcurrency = options.dialConcurrency
    this.dialTimeout = options.dialTimeout
    this.stagger = { delayMs: options.fallbackDialDelay, isPreferred: isPreferredDialAddress }
  }

  get size (): number { return this.pending.size }

  /** Aborts every dial in progress (shutdown). */
  abortAll (): void {
    for (const d of this.pending.values()) d.controller.abort()
  }

  /** Starts a dial; returns the error when it cannot start (already reported to the behaviour). */
  start (opts: DialOpts & { dialId: DialId }): Error | undefined {
    const { dialId } = opts
    let peerId = opts.peerId
    const fail = (error: Error): Error => {
      this.ctx.loop.tellBehaviour({ type: 'dialFailure', peerId, dialId, error })
      return error
    }
    const condition: DialCondition = opts.condition ?? (peerId !== undefined ? 'disconnected' : 'always')
    if (peerId !== undefined) {
      const key = peerId.toString()
      const refused = checkDialCondition(condition, { connected: this.ctx.pool.isConnected(key), dialing: this.ctx.pool.isDialing(key) })
      if (refused !== undefined) return fail(refused)
    }
    const connectionId = nextConnectionId()
    const lists: Array<readonly Multiaddr[]> = [opts.addresses ?? []]
    const extend = opts.extendAddresses ?? (peerId !== undefined)
    try {
      if (extend && peerId !== undefined) {
        lists.push(this.ctx.addressBook.get(peerId))
        const fromBehaviour = this.ctx.behaviour.addressesOfPeer?.(peerId)
        if (fromBehaviour !== undefined) lists.push(fromBehaviour)
      }
      const pending = this.ctx.behaviour.handlePendingOutboundConnection?.({ connectionId, dialId, peerId, addresses: lists.flat() })
      if (pending instanceof ConnectionDenied) return fail(pending)
      if (pending !== undefined) lists.push(pending)
    } catch (err) {
      return fail(toError(err))
    }
    const resolved = resolveDialAddresses(peerId, lists, a => this.ctx.transport.canDial(a))
    if (peerId === undefined && resolved.peerIdText !== undefined) {
      // A `/p2p/` address names the peer: the condition applies to it too.
      const key = resolved.peerIdText
      const refused = condition === 'always' ? undefined : checkDialCondition(condition, { connected: this.ctx.pool.isConnected(key), dialing: this.ctx.pool.isDialing(key) })
      if (refused !== undefined) return fail(refused)
    }
    if (resolved.addresses.length === 0) {
      return fail(resolved.rejected.length > 0 ? new AllAddressesFailedError(resolved.rejected) : new NoAddressesError(peerId?.toString()))
    }
    const peerKey = peerId?.toString() ?? resolved.peerIdText
    const controller = new AbortController()
    const record: PendingDial = { dialId, peerKey, controller }
    this.pending.set(dialId, record)
    if (peerKey !== undefined) this.ctx.pool.addDial(peerKey, dialId)
    this.ctx.bus.emit({ type: 'dialing', dialId, peerId, addresses: resolved.addresses })
    if (this.ctx.log.enabled.debug) this.ctx.log.debug('dialing', { dialId, peer: peerKey, addrs: resolved.addresses.map(String) })
    const started = this.ctx.clock()
    const expectedPeerText = peerKey
    dialConcurrently(resolved.addresses, async (address, signal) => await this.dialAddress(address, expectedPeerText, peerId, signal),
      opts.concurrency ?? this.dialConcurrency, controller.signal, this.stagger)
      .then(({ connection, address, errors, fallbackStarted }) => {
        this.pending.delete(dialId)
        if (peerKey !== undefined) this.ctx.pool.removeDial(peerKey, dialId)
        if (this.ctx.state !== 'running') {
          connection.abort(new ConnectionClosedError('swarm is shutting down'))
          this.ctx.loop.enqueue(() => { this.dialFailed(dialId, peerId, new AbortError('swarm is shutting down'), []) })
          return
        }
        if (expectedPeerText !== undefined && connection.remotePeer.toString() !== expectedPeerText) {
          const error = new DialError(`dialed ${expectedPeerText} but reached ${connection.remotePeer.toString()}`, 'ERR_PEER_ID_MISMATCH')
          connection.abort(error)
          this.ctx.loop.enqueue(() => { this.dialFailed(dialId, peerId, error, [...errors, { address, error }]) })
          return
        }
        peerId ??= connection.remotePeer
        if (this.ctx.log.enabled.debug) {
          this.ctx.log.debug('dial won', { dialId, peer: peerKey, transport: connection.transport, addr: address.toString(), fallbackStarted, failed: errors.map(e => e.address.toString()) })
        }
        this.ctx.addressBook.add(connection.remotePeer, address)
        let handler: AnyHandler | ConnectionDenied
        try {
          handler = this.ctx.behaviour.handleEstablishedOutboundConnection({ connectionId, dialId, peerId: connection.remotePeer, address })
        } catch (err) {
          handler = new ConnectionDenied('behaviour', 'handleEstablishedOutboundConnection threw', { cause: err })
        }
        if (handler instanceof ConnectionDenied) {
          const denied = handler
          connection.abort(denied)
          this.ctx.loop.enqueue(() => { this.dialFailed(dialId, peerId, denied, errors, connectionId) })
          return
        }
        this.connections.register(connectionId, connection, handler, { role: 'dialer', address }, dialId, errors.map(e => e.address), this.ctx.clock() - started)
      }, (err: unknown) => {
        this.pending.delete(dialId)
        if (peerKey !== undefined) this.ctx.pool.removeDial(peerKey, dialId)
        const error = toError(err)
        this.ctx.loop.enqueue(() => { this.dialFailed(dialId, peerId, error, error instanceof AllAddressesFailedError ? error.addressErrors : []) })
      })
    return undefined
  }

  private async dialAddress (address: Multiaddr, expectedPeerText: string | undefined, peerId: PeerId | undefined, signal: AbortSignal): Promise<Connection> {
    const controller = new AbortController()
    const onAbort = (): void => { controller.abort() }
    signal.addEventListener('abort', onAbort, { once: true })
    const timer = setTimeout(() => { controller.abort(new TimeoutError(`dial timed out after ${this.dialTimeout} ms`)) }, this.dialTimeout)
    try {
      const expectedPeer = peerId ?? (expectedPeerText === undefined ? undefined : PeerId.parse(expectedPeerText))
      const options = expectedPeer === undefined ? { signal: controller.signal } : { signal: controller.signal, expectedPeer }
      return await this.ctx.transport.dial(address, options)
    } catch (err) {
      if (controller.signal.aborted && controller.signal.reason instanceof TimeoutError) throw controller.signal.reason
      throw err
    } finally {
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
    }
  }

  private dialFailed (dialId: DialId, peerId: PeerId | undefined, error: Error, addressErrors: ReadonlyArray<{ address: Multiaddr, error: Error }>, connectionId?: ConnectionId): void {
    if (this.ctx.log.enabled.debug) this.ctx.log.debug('dial failed', { dialId, peer: peerId?.toString(), err: error })
    this.ctx.loop.tellBehaviour(connectionId === undefined ? { type: 'dialFailure', peerId, dialId, error } : { type: 'dialFailure', peerId, dialId, error, connectionId })
    this.ctx.bus.emit({ type: 'outgoingConnectionError', dialId, peerId, error, addressErrors })
  }
}
