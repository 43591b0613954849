/**
 * Ping's connection handler: pings the remote on one reused stream every `intervalMs` (the first
 * ping right after the connection is up, as rust-libp2p does), and echoes the remote's pings on
 * the latest inbound stream. It reads no clock for its schedule: the next ping is a deadline on
 * the Swarm's `now`. The echo and RTT themselves are `protocol.ts`'s PingSession.
 *
 * It keeps the connection alive only while a ping is in flight (rust-libp2p's ping does not keep
 * connections alive since 0.43); a user who wants ping as a keep-alive sets `keepAlive: true`.
 */
import type { ConnectionHandler, ConnectionHandlerEvent, PollContext, StreamUpgradeError } from '../../core/handler.ts'
import { PollQueue } from '../../core/handler.ts'
import type { Stream } from '../../core/stream.ts'
import { PING_PROTOCOL } from './constants.ts'
import { handlePingStream, PingSession } from './protocol.ts'

export interface PingHandlerConfig {
  intervalMs: number
  timeoutMs: number
  keepAlive: boolean
}

/** What the handler tells its behaviour. */
export type PingHandlerEvent =
  | { type: 'success', rttMs: number }
  | { type: 'failure', error: Error }
  /** The remote does not speak ping; the handler stops pinging. */
  | { type: 'unsupported' }

const PROTOCOLS: readonly string[] = Object.freeze([PING_PROTOCOL])

export class PingHandler implements ConnectionHandler<never, PingHandlerEvent, null> {
  private readonly config: PingHandlerConfig
  private readonly out = new PollQueue<ConnectionHandlerEvent<PingHandlerEvent, null>>()
  private state: 'waiting' | 'opening' | 'pinging' | 'unsupported' | 'closed' = 'waiting'
  private session: PingSession | undefined
  private inbound: Stream | undefined
  /** Monotonic ms of the next ping; 0 = as soon as polled. */
  private nextPingAt = 0
  /** A ping finished since the last poll: schedule the next one from the poll's `now`. */
  private finished = false

  constructor (config: PingHandlerConfig) {
    this.config = config
  }

  listenProtocols (): readonly string[] { return PROTOCOLS }

  onInboundStream (stream: Stream): void {
    // One echo stream per connection (ping spec: a peer should not open more than one); a new one
    // replaces the old.
    this.inbound?.reset()
    this.inbound = stream
    handlePingStream(stream).catch(() => {}).finally(() => {
      if (this.inbound === stream) this.inbound = undefined
    })
  }

  onOutboundStream (stream: Stream): void {
    if (this.state !== 'opening') { stream.reset(); return }
    this.session = new PingSession(stream)
    this.startPing()
  }

  onOutboundStreamError (_info: null, error: StreamUpgradeError): void {
    if (this.state !== 'opening') return
    if (error.kind === 'unsupported') {
      this.state = 'unsupported'
      this.out.push({ type: 'notifyBehaviour', event: { type: 'unsupported' } })
      return
    }
    this.fail(error)
  }

  onBehaviourEvent (): void {}

  keepAlive (): boolean {
    return this.config.keepAlive ? this.state !== 'unsupported' : (this.state === 'opening' || this.state === 'pinging')
  }

  poll (cx: PollContext): ConnectionHandlerEvent<PingHandlerEvent, null> | undefined {
    if (this.finished) {
      this.finished = false
      this.nextPingAt = cx.now + this.config.intervalMs
    }
    if (this.state === 'waiting' && cx.now >= this.nextPingAt) {
      if (this.session === undefined) {
        this.state = 'opening'
        this.out.push({ type: 'outboundStreamRequest', protocols: PROTOCOLS, info: null, timeoutMs: this.config.timeoutMs })
      } else {
        this.startPing()
      }
    }
    return this.out.poll(cx)
  }

  nextDeadline (): number | undefined {
    return this.state === 'waiting' && !this.finished ? this.nextPingAt : undefined
  }

  onClose (): void {
    this.state = 'closed'
    this.session?.stream.reset()
    this.session = undefined
    this.inbound?.reset()
    this.inbound = undefined
  }

  private startPing (): void {
    const session = this.session
    if (session === undefined) return
    this.state = 'pinging'
    session.ping({ timeoutMs: this.config.timeoutMs }).then(rttMs => {
      if (this.state !== 'pinging') return
      this.state = 'waiting'
      this.finished = true
      this.out.push({ type: 'notifyBehaviour', event: { type: 'success', rttMs } })
    }, (err: unknown) => {
      if (this.state !== 'pinging') return
      // PingSession reset the stream: the next ping opens a new one.
      this.session = undefined
      this.fail(err instanceof Error ? err : new Error(String(err)))
    })
  }

  private fail (error: Error): void {
    this.state = 'waiting'
    this.finished = true
    this.out.push({ type: 'notifyBehaviour', event: { type: 'failure', error } })
  }
}
