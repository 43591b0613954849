/**
 * Ping as a NetworkBehaviour (rust-libp2p's `ping::Behaviour`): every connection pings its remote
 * on an interval and reports the RTT or the failure. After `maxFailures` consecutive failures on a
 * connection the behaviour closes that connection and reports it (`closing: true`).
 */
import type { PeerId } from '../../identity/peer-id.ts'
import type {
  ConnectionId, EstablishedInboundInfo, EstablishedOutboundInfo, FromSwarm, NetworkBehaviour, PollContext, ToSwarm
} from '../../core/behaviour.ts'
import { PollQueue } from '../../core/handler.ts'
import { InvalidArgumentError } from '../../core/errors.ts'
import { logger } from '../../log/index.ts'
import { PING_PROTOCOL, PING_TIMEOUT_MS } from './constants.ts'
import { PingHandler, type PingHandlerEvent } from './handler.ts'

/** Time between pings on a connection: rust-libp2p ping's default interval (15 s). */
export const DEFAULT_PING_INTERVAL_MS = 15_000
/**
 * Consecutive failures before the connection is closed. One lost ping on a busy link is not a
 * dead peer; three (about 3 × (15 s + 20 s) at the defaults) is. rust-libp2p ping used 1 before it
 * stopped closing connections itself; set 0 to never close.
 */
export const DEFAULT_PING_MAX_FAILURES = 3

export interface PingConfig {
  intervalMs?: number
  /** A ping without its echo after this long fails (default 20 s). */
  timeoutMs?: number
  /** Close the connection after this many consecutive failures; 0 never closes. */
  maxFailures?: number
  /** Keep connections alive for pinging (default false, as rust-libp2p). */
  keepAlive?: boolean
}

export type PingResult =
  | { type: 'success', rttMs: number }
  | { type: 'failure', error: Error, consecutiveFailures: number, closing: boolean }
  | { type: 'unsupported' }

export interface PingEvent {
  peerId: PeerId
  connectionId: ConnectionId
  result: PingResult
}

const log = logger('ping')
const PING_PROTOCOLS: readonly string[] = Object.freeze([PING_PROTOCOL])

export class PingBehaviour implements NetworkBehaviour<PingEvent, PingHandler> {
  readonly config: Required<PingConfig>
  private readonly queue = new PollQueue<ToSwarm<PingEvent, never>>()
  private readonly failures = new Map<ConnectionId, number>()

  constructor (config: PingConfig = {}) {
    this.config = {
      intervalMs: config.intervalMs ?? DEFAULT_PING_INTERVAL_MS,
      timeoutMs: config.timeoutMs ?? PING_TIMEOUT_MS,
      maxFailures: config.maxFailures ?? DEFAULT_PING_MAX_FAILURES,
      keepAlive: config.keepAlive ?? false
    }
    if (this.config.intervalMs <= 0 || this.config.timeoutMs <= 0) throw new InvalidArgumentError('ping interval and timeout must be positive')
    if (this.config.maxFailures < 0) throw new InvalidArgumentError('ping maxFailures must not be negative')
  }

  private newHandler (): PingHandler {
    return new PingHandler({ intervalMs: this.config.intervalMs, timeoutMs: this.config.timeoutMs, keepAlive: this.config.keepAlive })
  }

  listenProtocols (): readonly string[] { return PING_PROTOCOLS }

  handleEstablishedInboundConnection (_info: EstablishedInboundInfo): PingHandler { return this.newHandler() }
  handleEstablishedOutboundConnection (_info: EstablishedOutboundInfo): PingHandler { return this.newHandler() }

  onSwarmEvent (event: FromSwarm): void {
    if (event.type === 'connectionClosed') this.failures.delete(event.connectionId)
  }

  onConnectionHandlerEvent (peerId: PeerId, connectionId: ConnectionId, event: PingHandlerEvent): void {
    let result: PingResult
    if (event.type === 'failure') {
      const n = (this.failures.get(connectionId) ?? 0) + 1
      this.failures.set(connectionId, n)
      const closing = this.config.maxFailures > 0 && n >= this.config.maxFailures
      result = { type: 'failure', error: event.error, consecutiveFailures: n, closing }
      if (log.enabled.debug) log.debug('ping failed', { peer: peerId.toString(), connectionId, failures: n, err: event.error })
      if (closing) this.queue.push({ type: 'closeConnection', peerId, connection: { connectionId } })
    } else {
      if (event.type === 'success') this.failures.delete(connectionId)
      result = event
    }
    this.queue.push({ type: 'generateEvent', event: { peerId, connectionId, result } })
  }

  poll (cx: PollContext): ToSwarm<PingEvent, never> | undefined {
    return this.queue.poll(cx)
  }
}
