/**
 * What the Swarm's parts share: the behaviour, the event bus, the clock and logger, the connection
 * pool, the ProtocolTable, the address book, the transports, the event loop and the Swarm's state.
 * Built once by the Swarm; each part (poll-loop.ts, connections.ts, dialer.ts, listeners.ts,
 * commands.ts) holds it instead of reaching into the Swarm.
 */
import type { Logger } from '../../log/index.ts'
import type { NetworkBehaviour } from '../behaviour.ts'
import type { TransportSelector } from '../transport-selector.ts'
import type { AddressBook } from './address-book.ts'
import type { ConnectionPool } from './connection-pool.ts'
import type { SwarmEventBus } from './events.ts'
import type { PollLoop } from './poll-loop.ts'
import type { RefCountedProtocolTable } from './protocol-table.ts'

export type SwarmState = 'running' | 'closing' | 'closed'

export interface SwarmContext {
  readonly behaviour: NetworkBehaviour<any, any>
  readonly bus: SwarmEventBus<any>
  readonly log: Logger
  /** Monotonic ms. */
  readonly clock: () => number
  readonly pool: ConnectionPool
  readonly protocols: RefCountedProtocolTable
  readonly addressBook: AddressBook
  readonly transport: TransportSelector
  readonly loop: PollLoop
  readonly state: SwarmState
}

export function toError (err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}
