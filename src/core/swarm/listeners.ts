/**
 * The Swarm's listeners: starting one (its addresses reported as `newListenAddr`), taking its
 * inbound connections through the behaviour's pending/established hooks to a registered handler
 * (at once, so the handler's protocols are in the ProtocolTable before the remote opens a stream),
 * reporting its errors, and its close (`expiredListenAddr`, `listenerClosed`, in step 3).
 */
import type { Multiaddr } from '@multiformats/multiaddr'
import { ConnectionDenied, nextConnectionId, type ListenerId } from '../behaviour.ts'
import type { ConnectionHandler } from '../handler.ts'
import { AbortError, ConnectionClosedError, InvalidArgumentError } from '../errors.ts'
import type { Connection, Listener } from '../transport.ts'
import type { Connections } from './connections.ts'
import { toError, type SwarmContext } from './context.ts'

export interface ListenerRecord {
  id: ListenerId
  listener: Listener
  addresses: Multiaddr[]
  detach: () => void
}

type AnyHandler = ConnectionHandler<any, any, any>

export class Listeners {
  private readonly ctx: SwarmContext
  private readonly connections: Connections
  readonly records = new Map<ListenerId, ListenerRecord>()

  constructor (ctx: SwarmContext, connections: Connections) {
    this.ctx = ctx
    this.connections = connections
  }

  /** Closes a listener; its `listenerClosed` follows. Returns false for an unknown id. */
  remove (listenerId: ListenerId): boolean {
    const record = this.records.get(listenerId)
    if (record === undefined) return false
    void record.listener.close().catch((err: unknown) => { this.ctx.log.debug('listener close failed', { err }) })
    return true
  }

  async start (listenerId: ListenerId, address: Multiaddr): Promise<void> {
    if (this.records.has(listenerId)) throw new InvalidArgumentError(`listener id ${listenerId} is in use`)
    let listener: Listener
    try {
      listener = await this.ctx.transport.listen(address)
    } catch (err) {
      const error = toError(err)
      this.ctx.loop.enqueue(() => {
        this.ctx.loop.tellBehaviour({ type: 'listenerClosed', listenerId, addresses: [], error })
        this.ctx.bus.emit({ type: 'listenerClosed', listenerId, addresses: [], error })
      })
      throw error
    }
    if (this.ctx.state !== 'running') {
      await listener.close()
      throw new AbortError('swarm is shutting down')
    }
    const onConnection = (connection: Connection): void => { this.onInboundConnection(record, connection) }
    const onError = (err: Error): void => {
      this.ctx.loop.enqueue(() => {
        this.ctx.loop.tellBehaviour({ type: 'listenFailure', localAddr: record.addresses[0], sendBackAddr: record.addresses[0] as Multiaddr, error: err })
        this.ctx.bus.emit({ type: 'incomingConnectionError', connectionId: undefined, localAddr: record.addresses[0], sendBackAddr: undefined, error: err })
      })
    }
    const onClose = (): void => { this.ctx.loop.enqueue(() => { this.onClosed(record, undefined) }) }
    const record: ListenerRecord = {
      id: listenerId,
      listener,
      addresses: listener.addrs(),
      detach: () => {
        listener.off('connection', onConnection)
        listener.off('error', onError)
        listener.off('close', onClose)
      }
    }
    listener.on('connection', onConnection)
    listener.on('error', onError)
    listener.on('close', onClose)
    this.records.set(listenerId, record)
    this.ctx.loop.tellBehaviour({ type: 'newListener', listenerId })
    for (const addr of record.addresses) {
      this.ctx.loop.tellBehaviour({ type: 'newListenAddr', listenerId, address: addr })
      this.ctx.bus.emit({ type: 'newListenAddr', listenerId, address: addr })
    }
    if (this.ctx.log.enabled.info) this.ctx.log.info('listening', { listenerId, addrs: record.addresses.map(String) })
  }

  onClosed (record: ListenerRecord, error: Error | undefined): void {
    if (this.records.get(record.id) !== record) return
    this.records.delete(record.id)
    record.detach()
    for (const addr of record.addresses) {
      this.ctx.loop.tellBehaviour({ type: 'expiredListenAddr', listenerId: record.id, address: addr })
      this.ctx.bus.emit({ type: 'expiredListenAddr', listenerId: record.id, address: addr })
    }
    this.ctx.loop.tellBehaviour(error === undefined
      ? { type: 'listenerClosed', listenerId: record.id, addresses: record.addresses }
      : { type: 'listenerClosed', listenerId: record.id, addresses: record.addresses, error })
    this.ctx.bus.emit(error === undefined
      ? { type: 'listenerClosed', listenerId: record.id, addresses: record.addresses }
      : { type: 'listenerClosed', listenerId: record.id, addresses: record.addresses, error })
  }

  private onInboundConnection (record: ListenerRecord, connection: Connection): void {
    if (this.ctx.state !== 'running') {
      connection.abort(new ConnectionClosedError('swarm is shutting down'))
      return
    }
    const connectionId = nextConnectionId()
    const localAddr = connection.localAddr ?? record.addresses[0]
    const sendBackAddr = connection.remoteAddr
    this.ctx.bus.emit({ type: 'incomingConnection', connectionId, localAddr, sendBackAddr })
    const deny = (error: Error): void => {
      connection.abort(error)
      this.ctx.loop.enqueue(() => {
        this.ctx.loop.tellBehaviour({ type: 'listenFailure', localAddr, sendBackAddr, error, peerId: connection.remotePeer, connectionId })
        this.ctx.bus.emit({ type: 'incomingConnectionError', connectionId, localAddr, sendBackAddr, peerId: connection.remotePeer, error })
      })
    }
    let handler: AnyHandler | ConnectionDenied
    try {
      const pending = this.ctx.behaviour.handlePendingInboundConnection?.({ connectionId, localAddr, sendBackAddr })
      if (pending instanceof ConnectionDenied) { deny(pending); return }
      handler = this.ctx.behaviour.handleEstablishedInboundConnection({ connectionId, localAddr, sendBackAddr, peerId: connection.remotePeer })
    } catch (err) {
      deny(toError(err))
      return
    }
    if (handler instanceof ConnectionDenied) { deny(handler); return }
    this.connections.register(connectionId, connection, handler, { role: 'listener', localAddr, sendBackAddr }, undefined, [])
  }
}
