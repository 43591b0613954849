/**
 * Request-response as a NetworkBehaviour (rust-libp2p's `request_response::Behaviour`), generic
 * over a codec. `sendRequest` returns an id that the `response` or `outboundFailure` event
 * repeats; a request to a peer without a connection dials it first (requests wait, bounded, for
 * the connection). Inbound requests arrive as `request` events with a channel; answer with
 * `sendResponse(channel, response)`.
 *
 * Outbound `response` and `outboundFailure` events carry `durationMs`: from `sendRequest` to the
 * event, on the Swarm's clock (the behaviour reads none: a request is stamped with `cx.now` at the
 * first poll after `sendRequest`, which that call wakes, and its outcome when the event leaves
 * `poll`). It includes dialing when the peer was not connected, as the caller waits for that too.
 */
import type { Multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '../../identity/peer-id.ts'
import {
  ToSwarm as Commands,
  type ConnectionId, type DialId, type EstablishedInboundInfo, type EstablishedOutboundInfo, type FromSwarm, type NetworkBehaviour, type PollContext, type ToSwarm
} from '../../core/behaviour.ts'
import { PollQueue } from '../../core/handler.ts'
import { ConnectionClosedError, DialError, InvalidArgumentError, LimitExceededError } from '../../core/errors.ts'
import type { RequestResponseCodec } from './codec.ts'
import {
  DEFAULT_MAX_CONCURRENT_INBOUND, DEFAULT_MAX_REQUEST_SIZE, DEFAULT_MAX_RESPONSE_SIZE, DEFAULT_REQUEST_TIMEOUT_MS, MAX_PENDING_OUTBOUND_REQUESTS
} from './constants.ts'
import {
  RequestResponseHandler,
  type InboundRequestId, type OutboundRequestId, type RequestResponseHandlerEvent, type RequestResponseHandlerIn
} from './handler.ts'

export type ProtocolSupport = 'full' | 'inbound' | 'outbound'

export interface RequestResponseConfig<Req, Res> {
  codec: RequestResponseCodec<Req, Res>
  /** Protocol ids, in preference order, e.g. `['/chat/1.0.0']`. */
  protocols: readonly string[]
  /** Answer requests, send them, or both (default 'full'). */
  support?: ProtocolSupport
  timeoutMs?: number
  maxRequestSize?: number
  maxResponseSize?: number
  maxConcurrentInbound?: number
}

/** Where to send the answer to an inbound request. */
export interface ResponseChannel {
  readonly peerId: PeerId
  readonly connectionId: ConnectionId
  readonly requestId: InboundRequestId
}

export type RequestResponseEvent<Req, Res> =
  | { type: 'request', peerId: PeerId, connectionId: ConnectionId, requestId: InboundRequestId, request: Req, protocol: string, channel: ResponseChannel }
  /** `durationMs`: `sendRequest` to this event, on the Swarm's clock (see the module comment). */
  | { type: 'response', peerId: PeerId, connectionId: ConnectionId, requestId: OutboundRequestId, response: Res, durationMs: number }
  | { type: 'outboundFailure', peerId: PeerId, requestId: OutboundRequestId, error: Error, durationMs: number }
  | { type: 'inboundFailure', peerId: PeerId, requestId: InboundRequestId | undefined, error: Error }
  | { type: 'responseSent', peerId: PeerId, requestId: InboundRequestId }

interface Pending<Req> { requestId: OutboundRequestId, request: Req }

export class RequestResponseBehaviour<Req, Res> implements NetworkBehaviour<RequestResponseEvent<Req, Res>, RequestResponseHandler<Req, Res>> {
  private readonly config: Required<Omit<RequestResponseConfig<Req, Res>, 'support' | 'protocols'>> & { inbound: readonly string[], outbound: readonly string[] }
  private readonly queue = new PollQueue<ToSwarm<RequestResponseEvent<Req, Res>, RequestResponseHandlerIn<Req, Res>>>()
  private nextOutbound = 1
  private nextInbound = 1
  private readonly nextInboundId = (): InboundRequestId => this.nextInbound++
  /** Connections per peer (key → ids), to pick one and to know when to dial. */
  private readonly connections = new Map<string, Set<ConnectionId>>()
  /** Requests waiting for a connection, per peer key. */
  private readonly waiting = new Map<string, { peerId: PeerId, dialId: DialId | undefined, requests: Array<Pending<Req>> }>()
  private waitingCount = 0
  /** Outbound requests handed to a connection's handler, to fail them if it closes. */
  private readonly inFlight = new Map<ConnectionId, Map<OutboundRequestId, PeerId>>()
  private readonly inboundOpen = new Map<ConnectionId, Set<InboundRequestId>>()
  /**
   * Outbound requests not yet answered: their start on the Swarm's clock (NaN until stamped by the
   * next poll). Bounded as the requests themselves: each ends in one response or failure event.
   */
  private readonly sentAt = new Map<OutboundRequestId, number>()
  /** Requests sent since the last poll, to stamp there (a list, so stamping costs O(new)). */
  private unstamped: OutboundRequestId[] = []

  constructor (config: RequestResponseConfig<Req, Res>) {
    if (config.protocols.length === 0) throw new InvalidArgumentError('request-response needs at least one protocol')
    const support = config.support ?? 'full'
    this.config = {
      codec: config.codec,
      inbound: support === 'outbound' ? [] : Object.freeze([...config.protocols]),
      outbound: support === 'inbound' ? [] : Object.freeze([...config.protocols]),
      timeoutMs: config.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      maxRequestSize: config.maxRequestSize ?? DEFAULT_MAX_REQUEST_SIZE,
      maxResponseSize: config.maxResponseSize ?? DEFAULT_MAX_RESPONSE_SIZE,
      maxConcurrentInbound: config.maxConcurrentInbound ?? DEFAULT_MAX_CONCURRENT_INBOUND
    }
  }

  /**
   * Sends a request; returns the id its `response` or `outboundFailure` event carries. Dials the
   * peer when not connected (with `addresses` if given, plus the address book).
   */
  sendRequest (peerId: PeerId, request: Req, options: { addresses?: readonly Multiaddr[] } = {}): OutboundRequestId {
    if (this.config.outbound.length === 0) throw new InvalidArgumentError('this request-response behaviour does not send requests')
    const requestId = this.nextOutbound++
    this.sentAt.set(requestId, Number.NaN)
    this.unstamped.push(requestId)
    const key = peerId.toString()
    const conns = this.connections.get(key)
    if (conns !== undefined && conns.size > 0) {
      this.dispatch(peerId, conns.values().next().value as ConnectionId, { requestId, request })
      return requestId
    }
    if (this.waitingCount >= MAX_PENDING_OUTBOUND_REQUESTS) {
      this.queue.push({ type: 'generateEvent', event: { type: 'outboundFailure', peerId, requestId, error: new LimitExceededError('requestResponse.pendingOutbound', `more than ${MAX_PENDING_OUTBOUND_REQUESTS} requests wait for connections`), durationMs: 0 } })
      return requestId
    }
    let entry = this.waiting.get(key)
    if (entry === undefined) {
      entry = { peerId, dialId: undefined, requests: [] }
      this.waiting.set(key, entry)
    }
    entry.requests.push({ requestId, request })
    this.waitingCount++
    if (entry.dialId === undefined) {
      const dial = Commands.dial(options.addresses === undefined ? { peerId, condition: 'disconnected' } : { peerId, addresses: options.addresses, condition: 'disconnected' })
      entry.dialId = dial.opts.dialId
      this.queue.push(dial)
    }
    return requestId
  }

  /** Answers an inbound request. Returns false when its connection or stream is gone. */
  sendResponse (channel: ResponseChannel, response: Res): boolean {
    const open = this.inboundOpen.get(channel.connectionId)
    if (open === undefined || !open.has(channel.requestId)) return false
    this.queue.push({ type: 'notifyHandler', peerId: channel.peerId, handler: { connectionId: channel.connectionId }, event: { type: 'response', requestId: channel.requestId, response } })
    return true
  }

  private dispatch (peerId: PeerId, connectionId: ConnectionId, p: Pending<Req>): void {
    let map = this.inFlight.get(connectionId)
    if (map === undefined) {
      map = new Map()
      this.inFlight.set(connectionId, map)
    }
    map.set(p.requestId, peerId)
    this.queue.push({ type: 'notifyHandler', peerId, handler: { connectionId }, event: { type: 'request', requestId: p.requestId, request: p.request } })
  }

  private handler (): RequestResponseHandler<Req, Res> {
    const c = this.config
    return new RequestResponseHandler<Req, Res>({
      codec: c.codec,
      inboundProtocols: c.inbound,
      outboundProtocols: c.outbound,
      timeoutMs: c.timeoutMs,
      maxRequestSize: c.maxRequestSize,
      maxResponseSize: c.maxResponseSize,
      maxConcurrentInbound: c.maxConcurrentInbound,
      nextInboundId: this.nextInboundId
    })
  }

  listenProtocols (): readonly string[] { return this.config.inbound }

  handleEstablishedInboundConnection (_info: EstablishedInboundInfo): RequestResponseHandler<Req, Res> { return this.handler() }
  handleEstablishedOutboundConnection (_info: EstablishedOutboundInfo): RequestResponseHandler<Req, Res> { return this.handler() }

  onSwarmEvent (event: FromSwarm): void {
    switch (event.type) {
      case 'connectionEstablished': {
        const key = event.peerId.toString()
        let set = this.connections.get(key)
        if (set === undefined) {
          set = new Set()
          this.connections.set(key, set)
        }
        set.add(event.connectionId)
        const entry = this.waiting.get(key)
        if (entry !== undefined) {
          this.waiting.delete(key)
          this.waitingCount -= entry.requests.length
          for (const p of entry.requests) this.dispatch(event.peerId, event.connectionId, p)
        }
        return
      }
      case 'connectionClosed': {
        const key = event.peerId.toString()
        const set = this.connections.get(key)
        set?.delete(event.connectionId)
        if (set !== undefined && set.size === 0) this.connections.delete(key)
        const failed = this.inFlight.get(event.connectionId)
        this.inFlight.delete(event.connectionId)
        for (const [requestId, peerId] of failed ?? []) {
          this.queue.push({ type: 'generateEvent', event: { type: 'outboundFailure', peerId, requestId, error: new ConnectionClosedError('connection closed before the response', { cause: event.cause }), durationMs: 0 } })
        }
        const open = this.inboundOpen.get(event.connectionId)
        this.inboundOpen.delete(event.connectionId)
        for (const requestId of open ?? []) {
          this.queue.push({ type: 'generateEvent', event: { type: 'inboundFailure', peerId: event.peerId, requestId, error: new ConnectionClosedError('connection closed before the response was sent') } })
        }
        return
      }
      case 'dialFailure': {
        for (const [key, entry] of this.waiting) {
          if (entry.dialId !== event.dialId) continue
          this.waiting.delete(key)
          this.waitingCount -= entry.requests.length
          const error = new DialError(`could not connect to ${key}: ${event.error.message}`, 'ERR_DIAL_FAILED', { cause: event.error })
          for (const p of entry.requests) this.queue.push({ type: 'generateEvent', event: { type: 'outboundFailure', peerId: entry.peerId, requestId: p.requestId, error, durationMs: 0 } })
        }
      }
    }
  }

  onConnectionHandlerEvent (peerId: PeerId, connectionId: ConnectionId, event: RequestResponseHandlerEvent<Req, Res>): void {
    switch (event.type) {
      case 'request': {
        let open = this.inboundOpen.get(connectionId)
        if (open === undefined) {
          open = new Set()
          this.inboundOpen.set(connectionId, open)
        }
        open.add(event.requestId)
        const channel: ResponseChannel = { peerId, connectionId, requestId: event.requestId }
        this.queue.push({ type: 'generateEvent', event: { type: 'request', peerId, connectionId, requestId: event.requestId, request: event.request, protocol: event.protocol, channel } })
        return
      }
      case 'response':
        this.inFlight.get(connectionId)?.delete(event.requestId)
        this.queue.push({ type: 'generateEvent', event: { type: 'response', peerId, connectionId, requestId: event.requestId, response: event.response, durationMs: 0 } })
        return
      case 'outboundFailure':
        this.inFlight.get(connectionId)?.delete(event.requestId)
        this.queue.push({ type: 'generateEvent', event: { type: 'outboundFailure', peerId, requestId: event.requestId, error: event.error, durationMs: 0 } })
        return
      case 'responseSent':
      case 'inboundFailure':
        if (event.requestId !== undefined) this.inboundOpen.get(connectionId)?.delete(event.requestId)
        this.queue.push({ type: 'generateEvent', event: event.type === 'responseSent' ? { type: 'responseSent', peerId, requestId: event.requestId } : { type: 'inboundFailure', peerId, requestId: event.requestId, error: event.error } })
    }
  }

  poll (cx: PollContext): ToSwarm<RequestResponseEvent<Req, Res>, RequestResponseHandlerIn<Req, Res>> | undefined {
    let now: number | undefined
    if (this.unstamped.length > 0) {
      now = cx.now
      for (const id of this.unstamped) if (this.sentAt.has(id)) this.sentAt.set(id, now)
      this.unstamped = []
    }
    const cmd = this.queue.poll(cx)
    if (cmd?.type === 'generateEvent' && (cmd.event.type === 'response' || cmd.event.type === 'outboundFailure')) {
      // The events above are built with durationMs 0 and completed here, when they leave.
      const start = this.sentAt.get(cmd.event.requestId)
      this.sentAt.delete(cmd.event.requestId)
      if (start !== undefined) cmd.event.durationMs = Math.max(0, (now ?? cx.now) - start)
    }
    return cmd
  }
}
