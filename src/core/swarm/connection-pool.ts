/**
 * The Swarm's connections: established ones with their handler and per-connection state, indexed
 * by ConnectionId and by peer, and the dials in progress per peer. Lookups are O(1) (no scan per
 * event: a lesson from js-libp2p-yamux's linear stream lookup).
 */
import type { PeerId } from '../../identity/peer-id.ts'
import type { ConnectionId, DialId, Endpoint } from '../behaviour.ts'
import type { ConnectionHandler } from '../handler.ts'
import type { Connection } from '../transport.ts'
import type { Stream } from '../stream.ts'
import type { IdleTimer } from './idle.ts'
import type { CloseCause } from './events.ts'

export interface EstablishedConnection {
  readonly id: ConnectionId
  readonly peerId: PeerId
  readonly peerKey: string
  readonly endpoint: Endpoint
  readonly connection: Connection
  readonly handler: ConnectionHandler<any, any, any>
  readonly dialId: DialId | undefined
  /** Protocols last registered in the ProtocolTable for this handler. */
  protocols: readonly string[]
  /** Outbound streams being opened for the handler (they keep the connection alive). */
  pendingOutbound: number
  idle: IdleTimer
  /** Earliest of the handler's deadline and the idle deadline; what the timer is armed for. */
  deadline: number | undefined
  timer: ReturnType<typeof setTimeout> | undefined
  /** Set when the connection needs a poll (woken, new input). */
  dirty: boolean
  closing: boolean
  /** Set by a local close, reported in `connectionClosed`. */
  closeCause: CloseCause | undefined
  /** Resolves when a local close finished. */
  closed: Promise<void> | undefined
  handlerClosed: boolean
  /** The handler's waker, created once. */
  wake: (() => void) | undefined
  /** Listeners on the Connection, removed on close. */
  readonly onStream: (stream: Stream) => void
  readonly onClose: (err?: Error) => void
}

export class ConnectionPool {
  private readonly byId = new Map<ConnectionId, EstablishedConnection>()
  private readonly byPeer = new Map<string, Set<ConnectionId>>()
  private readonly dialsByPeer = new Map<string, Set<DialId>>()
  private readonly counts = { inbound: 0, outbound: 0 }

  get size (): number { return this.byId.size }

  get inboundCount (): number { return this.counts.inbound }
  get outboundCount (): number { return this.counts.outbound }

  add (conn: EstablishedConnection): number {
    this.byId.set(conn.id, conn)
    let set = this.byPeer.get(conn.peerKey)
    if (set === undefined) {
      set = new Set()
      this.byPeer.set(conn.peerKey, set)
    }
    set.add(conn.id)
    this.counts[conn.endpoint.role === 'dialer' ? 'outbound' : 'inbound']++
    return set.size
  }

  /** Removes a connection; returns how many remain to its peer, or -1 if it was unknown. */
  remove (id: ConnectionId): number {
    const conn = this.byId.get(id)
    if (conn === undefined) return -1
    this.byId.delete(id)
    this.counts[conn.endpoint.role === 'dialer' ? 'outbound' : 'inbound']--
    const set = this.byPeer.get(conn.peerKey)
    if (set === undefined) return 0
    set.delete(id)
    if (set.size === 0) this.byPeer.delete(conn.peerKey)
    return set.size
  }

  get (id: ConnectionId): EstablishedConnection | undefined {
    return this.byId.get(id)
  }

  ofPeer (peerKey: string): EstablishedConnection[] {
    const set = this.byPeer.get(peerKey)
    if (set === undefined) return []
    const out: EstablishedConnection[] = []
    for (const id of set) {
      const c = this.byId.get(id)
      if (c !== undefined) out.push(c)
    }
    return out
  }

  /** The first established, not-closing connection to a peer (for `notifyHandler: 'any'`). */
  anyOfPeer (peerKey: string): EstablishedConnection | undefined {
    const set = this.byPeer.get(peerKey)
    if (set === undefined) return undefined
    for (const id of set) {
      const c = this.byId.get(id)
      if (c !== undefined && !c.closing) return c
    }
    return undefined
  }

  countOfPeer (peerKey: string): number {
    return this.byPeer.get(peerKey)?.size ?? 0
  }

  isConnected (peerKey: string): boolean {
    return this.byPeer.has(peerKey)
  }

  peers (): string[] {
    return [...this.byPeer.keys()]
  }

  values (): IterableIterator<EstablishedConnection> {
    return this.byId.values()
  }

  addDial (peerKey: string, dialId: DialId): void {
    let set = this.dialsByPeer.get(peerKey)
    if (set === undefined) {
      set = new Set()
      this.dialsByPeer.set(peerKey, set)
    }
    set.add(dialId)
  }

  removeDial (peerKey: string, dialId: DialId): void {
    const set = this.dialsByPeer.get(peerKey)
    if (set === undefined) return
    set.delete(dialId)
    if (set.size === 0) this.dialsByPeer.delete(peerKey)
  }

  isDialing (peerKey: string): boolean {
    return this.dialsByPeer.has(peerKey)
  }
}
