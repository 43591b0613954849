/**
 * A Transport made of several: each dial or listen goes to the first member whose `canDial` /
 * `canListen` accepts the multiaddr (rust-libp2p's `OrTransport` chain, flattened into a list so
 * the order of preference is visible). A user's own transport plugs in the same way.
 */
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Connection, DialOptions, Listener, Transport } from './transport.ts'
import { DialError, InvalidArgumentError } from './errors.ts'

export class TransportSelector implements Transport {
  readonly name = 'selector'
  private readonly transports: readonly Transport[]

  constructor (transports: readonly Transport[]) {
    const names = new Set<string>()
    for (const t of transports) {
      if (names.has(t.name)) throw new InvalidArgumentError(`two transports are named '${t.name}'`)
      names.add(t.name)
    }
    this.transports = [...transports]
  }

  members (): readonly Transport[] {
    return this.transports
  }

  /** The transport that would dial `addr`, or undefined. */
  forDial (addr: Multiaddr): Transport | undefined {
    return this.transports.find(t => t.canDial(addr))
  }

  forListen (addr: Multiaddr): Transport | undefined {
    return this.transports.find(t => t.canListen(addr))
  }

  canDial (addr: Multiaddr): boolean {
    return this.forDial(addr) !== undefined
  }

  canListen (addr: Multiaddr): boolean {
    return this.forListen(addr) !== undefined
  }

  async listen (addr: Multiaddr): Promise<Listener> {
    const t = this.forListen(addr)
    if (t === undefined) throw new InvalidArgumentError(`no transport can listen on ${addr.toString()}`)
    return await t.listen(addr)
  }

  async dial (addr: Multiaddr, options?: DialOptions): Promise<Connection> {
    const t = this.forDial(addr)
    if (t === undefined) throw new DialError(`no transport can dial ${addr.toString()}`, 'ERR_NO_TRANSPORT')
    return await t.dial(addr, options)
  }

  async close (): Promise<void> {
    await Promise.allSettled(this.transports.map(async t => { await t.close() }))
  }
}
