/**
 * The behaviour's commands (`ToSwarm`), run by the Swarm in step 1 of the poll order: events go
 * out, dials and listeners start, handler notifications are delivered, connections close, and
 * external addresses (candidates, confirmed, expired, of a peer) are recorded and announced.
 */
import type { Multiaddr } from '@multiformats/multiaddr'
import type { ToSwarm } from '../behaviour.ts'
import { AbortError } from '../errors.ts'
import type { Connections } from './connections.ts'
import type { SwarmContext } from './context.ts'
import type { Dialer } from './dialer.ts'
import type { ExternalAddresses } from './external-addresses.ts'
import type { Listeners } from './listeners.ts'

export class Commands {
  private readonly ctx: SwarmContext
  private readonly connections: Connections
  private readonly dialer: Dialer
  private readonly listeners: Listeners
  private readonly external: ExternalAddresses

  constructor (ctx: SwarmContext, parts: { connections: Connections, dialer: Dialer, listeners: Listeners, external: ExternalAddresses }) {
    this.ctx = ctx
    this.connections = parts.connections
    this.dialer = parts.dialer
    this.listeners = parts.listeners
    this.external = parts.external
  }

  execute (cmd: ToSwarm<unknown, unknown>): void {
    switch (cmd.type) {
      case 'generateEvent':
        this.ctx.bus.emit({ type: 'behaviour', event: cmd.event })
        return
      case 'dial':
        if (this.ctx.state !== 'running') {
          this.ctx.loop.tellBehaviour({ type: 'dialFailure', peerId: cmd.opts.peerId, dialId: cmd.opts.dialId, error: new AbortError('swarm is shutting down') })
          return
        }
        this.dialer.start(cmd.opts)
        return
      case 'listenOn':
        if (this.ctx.state !== 'running') return
        this.listeners.start(cmd.listenerId, cmd.address).catch(() => { /* reported as listenerClosed */ })
        return
      case 'removeListener':
        this.listeners.remove(cmd.listenerId)
        return
      case 'notifyHandler': {
        const key = cmd.peerId.toString()
        const c = cmd.handler === 'any' ? this.ctx.pool.anyOfPeer(key) : this.ctx.pool.get(cmd.handler.connectionId)
        if (c === undefined || c.peerKey !== key || c.closing) {
          if (this.ctx.log.enabled.debug) this.ctx.log.debug('notifyHandler: no such connection, event dropped', { peer: key })
          return
        }
        c.handler.onBehaviourEvent(cmd.event)
        this.ctx.loop.markDirty(c)
        return
      }
      case 'closeConnection': {
        const key = cmd.peerId.toString()
        if (cmd.connection === 'all') {
          for (const c of this.ctx.pool.ofPeer(key)) this.connections.close(c, { type: 'local' })
        } else {
          const c = this.ctx.pool.get(cmd.connection.connectionId)
          if (c !== undefined && c.peerKey === key) this.connections.close(c, { type: 'local' })
        }
        return
      }
      case 'newExternalAddrCandidate':
        this.external.addCandidate(cmd.address)
        this.ctx.loop.tellBehaviour({ type: 'newExternalAddrCandidate', address: cmd.address })
        this.ctx.bus.emit({ type: 'newExternalAddrCandidate', address: cmd.address })
        return
      case 'externalAddrConfirmed':
        this.confirmExternal(cmd.address)
        return
      case 'externalAddrExpired':
        this.expireExternal(cmd.address)
        return
      case 'newExternalAddrOfPeer':
        this.ctx.addressBook.add(cmd.peerId, cmd.address)
        this.ctx.loop.tellBehaviour({ type: 'newExternalAddrOfPeer', peerId: cmd.peerId, address: cmd.address })
        this.ctx.bus.emit({ type: 'newExternalAddrOfPeer', peerId: cmd.peerId, address: cmd.address })
    }
  }

  confirmExternal (address: Multiaddr): void {
    const { added, evicted } = this.external.confirm(address)
    if (evicted !== undefined) {
      this.ctx.loop.tellBehaviour({ type: 'externalAddrExpired', address: evicted })
      this.ctx.bus.emit({ type: 'externalAddrExpired', address: evicted })
    }
    if (!added) return
    this.ctx.loop.tellBehaviour({ type: 'externalAddrConfirmed', address })
    this.ctx.bus.emit({ type: 'externalAddrConfirmed', address })
  }

  expireExternal (address: Multiaddr): void {
    if (!this.external.expire(address)) return
    this.ctx.loop.tellBehaviour({ type: 'externalAddrExpired', address })
    this.ctx.bus.emit({ type: 'externalAddrExpired', address })
  }
}
