/**
 * Perf as a behaviour (rust-libp2p's `libp2p-perf` client and server): `perf(peer, params)`
 * returns a run id that the `result` or `error` event repeats; every connection serves perf unless
 * `serve: false`. A run to a peer without a connection fails at once: dial first (the Swarm's
 * `dial`), as rust-libp2p's perf client requires.
 */
import type { PeerId } from '../../identity/peer-id.ts'
import type {
  ConnectionId, EstablishedInboundInfo, EstablishedOutboundInfo, FromSwarm, NetworkBehaviour, PollContext, ToSwarm
} from '../../core/behaviour.ts'
import { PollQueue } from '../../core/handler.ts'
import { InvalidArgumentError, Libp2pError } from '../../core/errors.ts'
import { PERF_PROTOCOL } from './constants.ts'
import { PerfHandler, type PerfHandlerEvent, type PerfHandlerIn, type PerfRunId, type PerfRunParams, type PerfRunResult } from './handler.ts'

export interface PerfConfig {
  /** Serve `/perf/1.0.0` to remotes (default true). */
  serve?: boolean
}

export type PerfEvent =
  | { type: 'result', runId: PerfRunId, peerId: PeerId, connectionId: ConnectionId, result: PerfRunResult }
  | { type: 'error', runId: PerfRunId, peerId: PeerId, error: Error }
  | { type: 'served', peerId: PeerId, connectionId: ConnectionId, uploadBytes: number, downloadBytes: number }

const PROTOCOLS: readonly string[] = Object.freeze([PERF_PROTOCOL])
const NONE: readonly string[] = Object.freeze([])

export class PerfBehaviour implements NetworkBehaviour<PerfEvent, PerfHandler> {
  private readonly serve: boolean
  private readonly queue = new PollQueue<ToSwarm<PerfEvent, PerfHandlerIn>>()
  private readonly connections = new Map<string, Set<ConnectionId>>()
  /** Runs handed to a connection, to fail them if it closes first. */
  private readonly running = new Map<PerfRunId, { peerId: PeerId, connectionId: ConnectionId }>()
  private nextRunId = 1

  constructor (config: PerfConfig = {}) {
    this.serve = config.serve ?? true
  }

  /** Starts a run on a connection to `peerId`; the result comes as an event with the same id. */
  perf (peerId: PeerId, params: PerfRunParams): PerfRunId {
    for (const [name, n] of Object.entries(params)) {
      if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative safe integer`)
    }
    const runId = this.nextRunId++
    const conns = this.connections.get(peerId.toString())
    if (conns === undefined || conns.size === 0) {
      this.queue.push({ type: 'generateEvent', event: { type: 'error', runId, peerId, error: new Libp2pError('ERR_NOT_CONNECTED', `not connected to ${peerId.toString()}`) } })
      return runId
    }
    const connectionId = conns.values().next().value as ConnectionId
    this.running.set(runId, { peerId, connectionId })
    this.queue.push({ type: 'notifyHandler', peerId, handler: { connectionId }, event: { type: 'run', runId, params } })
    return runId
  }

  listenProtocols (): readonly string[] { return this.serve ? PROTOCOLS : NONE }
  handleEstablishedInboundConnection (_info: EstablishedInboundInfo): PerfHandler { return new PerfHandler(this.serve) }
  handleEstablishedOutboundConnection (_info: EstablishedOutboundInfo): PerfHandler { return new PerfHandler(this.serve) }

  onSwarmEvent (event: FromSwarm): void {
    if (event.type === 'connectionEstablished') {
      const key = event.peerId.toString()
      let set = this.connections.get(key)
      if (set === undefined) { set = new Set(); this.connections.set(key, set) }
      set.add(event.connectionId)
    } else if (event.type === 'connectionClosed') {
      const key = event.peerId.toString()
      const set = this.connections.get(key)
      set?.delete(event.connectionId)
      if (set?.size === 0) this.connections.delete(key)
      for (const [runId, run] of this.running) {
        if (run.connectionId !== event.connectionId) continue
        this.running.delete(runId)
        this.queue.push({ type: 'generateEvent', event: { type: 'error', runId, peerId: run.peerId, error: new Libp2pError('ERR_CONNECTION_CLOSED', 'the connection closed during the run') } })
      }
    }
  }

  onConnectionHandlerEvent (peerId: PeerId, connectionId: ConnectionId, event: PerfHandlerEvent): void {
    switch (event.type) {
      case 'result':
        if (!this.running.delete(event.runId)) return
        this.queue.push({ type: 'generateEvent', event: { type: 'result', runId: event.runId, peerId, connectionId, result: event.result } })
        return
      case 'error':
        if (!this.running.delete(event.runId)) return
        this.queue.push({ type: 'generateEvent', event: { type: 'error', runId: event.runId, peerId, error: event.error } })
        return
      case 'served':
        this.queue.push({ type: 'generateEvent', event: { type: 'served', peerId, connectionId, uploadBytes: event.uploadBytes, downloadBytes: event.downloadBytes } })
    }
  }

  poll (cx: PollContext): ToSwarm<PerfEvent, PerfHandlerIn> | undefined {
    return this.queue.poll(cx)
  }
}
