/**
 * Kademlia's connection handler: the per-connection half of the protocol.
 *
 * Outbound: the behaviour sends `request` events; each opens one stream (rust-libp2p opens a
 * stream per request), writes the framed message, and, when a response is expected, reads one
 * framed message back, then closes. At most MAX_OUTBOUND_STREAMS_PER_CONNECTION are open; further
 * requests wait (bounded). Each has a deadline of `requestTimeout` from when the handler first
 * polled it; past it the stream is reset and the request fails.
 *
 * Inbound (server mode only): each stream may carry several requests in turn (Go and js reuse
 * streams). A request goes to the behaviour as `inboundRequest`; the behaviour answers with
 * `respond`, which is written back before the next request is read. A client advertises no
 * protocol (`listenProtocols()` is empty) and resets any kad stream that still arrives.
 *
 * The handler reads no clock: deadlines are set from the Swarm's `now` in `poll`.
 */
import type { ConnectionHandler, ConnectionHandlerEvent, HandlerConnectionEvent, PollContext, StreamUpgradeError } from '../../core/handler.ts'
import { PollQueue } from '../../core/handler.ts'
import type { Stream } from '../../core/stream.ts'
import { TimeoutError, LimitExceededError, ProtocolViolationError } from '../../core/errors.ts'
import {
  MAX_INBOUND_STREAMS_PER_CONNECTION, MAX_OUTBOUND_STREAMS_PER_CONNECTION, MAX_QUEUED_REQUESTS_PER_CONNECTION
} from './constants.ts'
import { decodeMessage, type KadMessage } from './message.ts'
import { encodeFrame, FrameDecoder } from './protocol.ts'

export type RequestId = number
export type InboundId = number

/** Behaviour → handler. */
export type KadHandlerIn =
  | { type: 'request', requestId: RequestId, message: KadMessage, expectResponse: boolean }
  /**
   * The answer to an inbound request. `message` undefined = no answer (ADD_PROVIDER has none);
   * `refuse` resets the stream at once (an invalid or unsupported request: the remote fails fast
   * instead of waiting for its timeout, as with Go's handler errors).
   */
  | { type: 'respond', inboundId: InboundId, message: KadMessage | undefined, refuse?: boolean }
  | { type: 'setMode', server: boolean }

/** Handler → behaviour. */
export type KadHandlerOut =
  | { type: 'response', requestId: RequestId, message: KadMessage }
  /** A request that expects no response was written. */
  | { type: 'sent', requestId: RequestId }
  | { type: 'requestFailed', requestId: RequestId, error: Error }
  | { type: 'inboundRequest', inboundId: InboundId, message: KadMessage }
  /** The remote speaks our kad protocol (an outbound stream negotiated, or identify said so). */
  | { type: 'protocolConfirmed' }
  /** The remote does not speak it (stream negotiation refused, or identify's list lacks it). */
  | { type: 'protocolUnsupported' }

export interface KadHandlerConfig {
  protocols: readonly string[]
  server: boolean
  requestTimeout: number
  maxMessageSize: number
}

interface Outbound {
  requestId: RequestId
  message: KadMessage
  expectResponse: boolean
  deadline: number | undefined
  stream: Stream | undefined
  done: boolean
}

const NO_PROTOCOLS: readonly string[] = Object.freeze([])
let nextInboundId = 1

export class KadHandler implements ConnectionHandler<KadHandlerIn, KadHandlerOut, RequestId> {
  private readonly config: KadHandlerConfig
  private server: boolean
  private readonly out = new PollQueue<ConnectionHandlerEvent<KadHandlerOut, RequestId>>()
  private readonly waiting: Outbound[] = []
  private readonly active = new Map<RequestId, Outbound>()
  private readonly inboundStreams = new Set<Stream>()
  private readonly inboundWaiters = new Map<InboundId, (answer: { message: KadMessage | undefined, refuse: boolean }) => void>()
  private confirmed: boolean | undefined
  private closed = false

  constructor (config: KadHandlerConfig) {
    this.config = config
    this.server = config.server
  }

  listenProtocols (): readonly string[] {
    return this.server ? this.config.protocols : NO_PROTOCOLS
  }

  onInboundStream (stream: Stream): void {
    if (!this.server || this.closed) { stream.reset(); return }
    if (this.inboundStreams.size >= MAX_INBOUND_STREAMS_PER_CONNECTION) {
      stream.reset(new LimitExceededError('kad.MAX_INBOUND_STREAMS_PER_CONNECTION', `${MAX_INBOUND_STREAMS_PER_CONNECTION} kad streams already open`))
      return
    }
    this.inboundStreams.add(stream)
    this.serveInbound(stream).catch(() => { stream.reset() }).finally(() => { this.inboundStreams.delete(stream) })
  }

  onOutboundStream (stream: Stream, _protocol: string, requestId: RequestId): void {
    const req = this.active.get(requestId)
    if (req === undefined || req.done || this.closed) { stream.reset(); return }
    req.stream = stream
    if (this.confirmed !== true) {
      this.confirmed = true
      this.out.push({ type: 'notifyBehaviour', event: { type: 'protocolConfirmed' } })
    }
    this.runOutbound(req, stream).catch((err: unknown) => {
      stream.reset()
      this.finish(req, { type: 'requestFailed', requestId, error: err instanceof Error ? err : new Error(String(err)) })
    })
  }

  onOutboundStreamError (requestId: RequestId, error: StreamUpgradeError): void {
    const req = this.active.get(requestId)
    if (req === undefined) return
    if (error.kind === 'unsupported') {
      // Reported on every refusal, not only the first: the behaviour may have re-added the peer
      // (addAddress) since, and must drop it again.
      this.confirmed = false
      this.out.push({ type: 'notifyBehaviour', event: { type: 'protocolUnsupported' } })
    }
    this.finish(req, { type: 'requestFailed', requestId, error })
  }

  onBehaviourEvent (event: KadHandlerIn): void {
    switch (event.type) {
      case 'request': {
        if (this.closed) return
        if (this.waiting.length >= MAX_QUEUED_REQUESTS_PER_CONNECTION) {
          this.out.push({ type: 'notifyBehaviour', event: { type: 'requestFailed', requestId: event.requestId, error: new LimitExceededError('kad.MAX_QUEUED_REQUESTS_PER_CONNECTION', 'too many requests waiting on this connection') } })
          return
        }
        this.waiting.push({ requestId: event.requestId, message: event.message, expectResponse: event.expectResponse, deadline: undefined, stream: undefined, done: false })
        this.out.wake()
        return
      }
      case 'respond': {
        const waiter = this.inboundWaiters.get(event.inboundId)
        if (waiter !== undefined) { this.inboundWaiters.delete(event.inboundId); waiter({ message: event.message, refuse: event.refuse === true }) }
        return
      }
      case 'setMode': {
        this.server = event.server
        if (!event.server) for (const s of this.inboundStreams) s.reset()
        this.out.wake()
      }
    }
  }

  onConnectionEvent (event: HandlerConnectionEvent): void {
    if (event.type !== 'remoteProtocolsChange') return
    const supported = event.protocols.some(p => this.config.protocols.includes(p))
    if (supported !== this.confirmed) {
      this.confirmed = supported
      this.out.push({ type: 'notifyBehaviour', event: { type: supported ? 'protocolConfirmed' : 'protocolUnsupported' } })
    }
  }

  keepAlive (): boolean {
    return this.waiting.length > 0 || this.active.size > 0 || this.inboundStreams.size > 0
  }

  poll (cx: PollContext): ConnectionHandlerEvent<KadHandlerOut, RequestId> | undefined {
    for (const req of this.active.values()) {
      req.deadline ??= cx.now + this.config.requestTimeout
      if (!req.done && cx.now >= req.deadline) {
        req.stream?.reset()
        this.finish(req, { type: 'requestFailed', requestId: req.requestId, error: new TimeoutError(`kad request timed out after ${this.config.requestTimeout} ms`) })
      }
    }
    while (this.waiting.length > 0 && this.active.size < MAX_OUTBOUND_STREAMS_PER_CONNECTION) {
      const req = this.waiting.shift() as Outbound
      req.deadline = cx.now + this.config.requestTimeout
      this.active.set(req.requestId, req)
      this.out.push({ type: 'outboundStreamRequest', protocols: this.config.protocols, info: req.requestId, timeoutMs: this.config.requestTimeout })
    }
    return this.out.poll(cx)
  }

  nextDeadline (): number | undefined {
    let min: number | undefined
    for (const r of this.active.values()) if (!r.done && r.deadline !== undefined && (min === undefined || r.deadline < min)) min = r.deadline
    return min
  }

  onClose (): void {
    this.closed = true
    for (const req of this.active.values()) req.stream?.reset()
    for (const s of this.inboundStreams) s.reset()
    for (const waiter of this.inboundWaiters.values()) waiter({ message: undefined, refuse: true })
    this.inboundWaiters.clear()
    this.active.clear()
    this.waiting.length = 0
  }

  // ---- streams -----------------------------------------------------------------------------

  private finish (req: Outbound, event: KadHandlerOut): void {
    if (req.done) return
    req.done = true
    this.active.delete(req.requestId)
    if (this.closed) return
    this.out.push({ type: 'notifyBehaviour', event })
  }

  private async runOutbound (req: Outbound, stream: Stream): Promise<void> {
    stream.send(encodeFrame(req.message, this.config.maxMessageSize))
    if (!req.expectResponse) {
      await stream.closeWrite()
      this.finish(req, { type: 'sent', requestId: req.requestId })
      stream.close().catch(() => {})
      return
    }
    // The write side stays open until the response is in: js-libp2p's kad-dht server closes a
    // stream whose remote half-closed before it read the request (and Go keeps streams open too).
    const decoder = new FrameDecoder(this.config.maxMessageSize)
    const body = await readFrame(stream, decoder)
    if (body === undefined) throw new ProtocolViolationError('kad', 'stream ended before the response')
    const message = decodeMessage(body)
    this.finish(req, { type: 'response', requestId: req.requestId, message })
    stream.close().catch(() => {})
  }

  private async serveInbound (stream: Stream): Promise<void> {
    const decoder = new FrameDecoder(this.config.maxMessageSize)
    while (!this.closed && this.server) {
      const body = await readFrame(stream, decoder)
      if (body === undefined) break
      const message = decodeMessage(body)
      const inboundId = nextInboundId++
      const answer = new Promise<{ message: KadMessage | undefined, refuse: boolean }>(resolve => { this.inboundWaiters.set(inboundId, resolve) })
      this.out.push({ type: 'notifyBehaviour', event: { type: 'inboundRequest', inboundId, message } })
      const { message: response, refuse } = await answer
      if (this.closed) return
      if (refuse) { stream.reset(); return }
      // No answer (ADD_PROVIDER): the stream stays open for the next request.
      if (response === undefined) continue
      if (stream.writeStatus !== 'writable') return
      stream.send(encodeFrame(response, this.config.maxMessageSize))
    }
    if (stream.writeStatus === 'writable') await stream.closeWrite()
  }
}

/** Reads until one whole frame is available; undefined if the stream ended cleanly first. */
async function readFrame (stream: Stream, decoder: FrameDecoder): Promise<Uint8Array | undefined> {
  const ready = decoder.next()
  if (ready !== undefined) return ready
  const it = stream[Symbol.asyncIterator]()
  while (true) {
    const { value, done } = await it.next()
    if (done === true) {
      if (decoder.bufferedBytes > 0) throw new ProtocolViolationError('kad', 'stream ended inside a message')
      return undefined
    }
    decoder.push(value)
    const body = decoder.next()
    if (body !== undefined) return body
  }
}
