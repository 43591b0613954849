/**
 * The Swarm's event loop: when it runs (one `setImmediate` per wake-up), in what order (the poll
 * order written at the top of swarm.ts), and within what budget. It owns the queue of network
 * results (step 3), the set of woken connections (step 2), the behaviour's wake flag and timer
 * (step 1), and the behaviour's declared protocols in the ProtocolTable. What a step does with its
 * items is the caller's: `execute` runs a behaviour command, `pollConnection` polls one handler.
 */
import type { FromSwarm, NetworkBehaviour, ToSwarm } from '../behaviour.ts'
import type { PollContext } from '../handler.ts'
import type { Logger } from '../../log/index.ts'
import type { ConnectionPool, EstablishedConnection } from './connection-pool.ts'
import type { RefCountedProtocolTable } from './protocol-table.ts'

/**
 * Items (behaviour commands, handler polls, network results) processed per tick before yielding
 * to the event loop. At a few microseconds each, 256 keeps a tick near 1 ms, well inside the
 * 10 ms event-loop-delay target of issue 3.
 */
export const POLL_BUDGET_PER_TICK = 256

export interface PollLoopInit {
  behaviour: NetworkBehaviour<any, any>
  pool: ConnectionPool
  protocols: RefCountedProtocolTable
  clock: () => number
  log: Logger
  /** True once the Swarm is closed: nothing is scheduled any more. */
  isClosed: () => boolean
  /** Step 1: runs one behaviour command. */
  execute: (cmd: ToSwarm<unknown, unknown>) => void
  /** Step 2: polls one woken connection; returns the work done (for the budget). */
  pollConnection: (c: EstablishedConnection) => number
}

export class PollLoop {
  private readonly init: PollLoopInit
  /** Network results waiting for step 3, in arrival order. */
  private readonly inbox: Array<() => void> = []
  private inboxHead = 0
  private readonly dirty = new Set<number>()
  private scheduled = false
  private behaviourWoken = true
  private behaviourTimer: ReturnType<typeof setTimeout> | undefined
  private behaviourDeadline: number | undefined
  private immediate: ReturnType<typeof setImmediate> | undefined
  private behaviourProtocols: readonly string[] = NO_PROTOCOLS
  readonly behaviourCx: PollContext
  private readonly wakeBound = (): void => { this.behaviourWoken = true; this.schedule() }

  constructor (init: PollLoopInit) {
    this.init = init
    const clock = init.clock
    this.behaviourCx = {
      wake: this.wakeBound,
      get now (): number { return clock() }
    }
  }

  schedule (): void {
    if (this.scheduled || this.init.isClosed()) return
    this.scheduled = true
    // A macrotask, not a microtask: everything the current I/O callback and its promise chains
    // do (a dial resolving, a connection being registered) finishes before handlers run and
    // can act towards a remote, and a behaviour that wakes itself cannot starve I/O.
    this.immediate = setImmediate(() => { this.tick() })
  }

  /** The behaviour has work (an event was delivered to it): poll it in this or the next tick. */
  wakeBehaviour (): void {
    this.behaviourWoken = true
  }

  /** Delivers a FromSwarm event to the behaviour and schedules a poll of it. */
  tellBehaviour (event: FromSwarm): void {
    try {
      this.init.behaviour.onSwarmEvent(event)
    } catch (err) {
      this.init.log.error('behaviour onSwarmEvent threw', { err, event: event.type })
    }
    this.behaviourWoken = true
    this.schedule()
  }

  /** Queues a network result for step 3. */
  enqueue (item: () => void): void {
    this.inbox.push(item)
    this.schedule()
  }

  markDirty (c: EstablishedConnection): void {
    if (this.init.isClosed()) return
    c.dirty = true
    this.dirty.add(c.id)
    this.schedule()
  }

  /** Forgets a closed connection's pending poll. */
  forget (c: EstablishedConnection): void {
    this.dirty.delete(c.id)
  }

  private tick (): void {
    this.scheduled = false
    this.immediate = undefined
    if (this.init.isClosed()) return
    const { behaviour, pool } = this.init
    let budget = POLL_BUDGET_PER_TICK
    let progressed = true
    while (progressed && budget > 0) {
      progressed = false
      // 1. behaviour
      if (this.behaviourWoken || this.behaviourDeadlineDue()) {
        this.behaviourWoken = false
        while (budget > 0) {
          const cmd = behaviour.poll(this.behaviourCx)
          if (cmd === undefined) break
          budget--
          progressed = true
          this.init.execute(cmd)
        }
        if (budget === 0) this.behaviourWoken = true
        this.syncBehaviourProtocols()
        this.armBehaviourTimer()
      }
      // 2. handlers
      if (this.dirty.size > 0 && budget > 0) {
        for (const id of [...this.dirty]) {
          if (budget <= 0) break
          this.dirty.delete(id)
          const c = pool.get(id)
          if (c === undefined) continue
          budget -= this.init.pollConnection(c)
          progressed = true
        }
      }
      // 3. network results
      if (this.inboxHead < this.inbox.length && budget > 0) {
        budget -= this.drainInbox(budget)
        progressed = true
      }
    }
    if (budget <= 0 && (this.behaviourWoken || this.dirty.size > 0 || this.inboxHead < this.inbox.length)) {
      // Out of budget with work left: let I/O run first.
      this.scheduled = true
      this.immediate = setImmediate(() => { this.tick() })
    }
  }

  /** Keeps the behaviour's declared protocols (`listenProtocols()`) in the table, as one more holder. */
  syncBehaviourProtocols (): void {
    const declared = this.init.behaviour.listenProtocols?.() ?? NO_PROTOCOLS
    if (declared === this.behaviourProtocols) return
    this.init.protocols.update(this.behaviourProtocols, declared)
    this.behaviourProtocols = declared
  }

  private behaviourDeadlineDue (): boolean {
    return this.behaviourDeadline !== undefined && this.init.clock() >= this.behaviourDeadline
  }

  private armBehaviourTimer (): void {
    const deadline = this.init.behaviour.nextDeadline?.()
    if (deadline === this.behaviourDeadline) return
    if (this.behaviourTimer !== undefined) clearTimeout(this.behaviourTimer)
    this.behaviourTimer = undefined
    this.behaviourDeadline = deadline
    if (deadline === undefined || this.init.isClosed()) return
    this.behaviourTimer = setTimeout(() => {
      this.behaviourTimer = undefined
      this.behaviourDeadline = undefined
      this.behaviourWoken = true
      this.schedule()
    }, Math.max(0, Math.ceil(deadline - this.init.clock())))
  }

  /** Applies up to `budget` queued network results; returns how many. */
  drainInbox (budget: number): number {
    let n = 0
    while (this.inboxHead < this.inbox.length && n < budget) {
      const item = this.inbox[this.inboxHead] as () => void
      this.inbox[this.inboxHead] = noop
      this.inboxHead++
      n++
      item()
    }
    if (this.inboxHead >= this.inbox.length) {
      this.inbox.length = 0
      this.inboxHead = 0
    }
    return n
  }

  /** Clears the behaviour timer and the scheduled tick (the Swarm is closed). */
  stop (): void {
    if (this.behaviourTimer !== undefined) clearTimeout(this.behaviourTimer)
    if (this.immediate !== undefined) clearImmediate(this.immediate)
    this.behaviourTimer = undefined
    this.immediate = undefined
  }
}

function noop (): void {}

export const NO_PROTOCOLS: readonly string[] = Object.freeze([])
