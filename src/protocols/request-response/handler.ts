/**
 * Request-response connection handler: one stream per request. Outbound: open a stream on one of
 * the protocols, write the length-prefixed request, half-close, read the length-prefixed response.
 * Inbound: read the request, hand it to the behaviour with an id, write the response the behaviour
 * sends back, close. Every exchange has a deadline on the Swarm's clock, checked in `poll`.
 */
import { PollQueue, type ConnectionHandler, type ConnectionHandlerEvent, type PollContext, type StreamUpgradeError } from '../../core/handler.ts'
import type { Stream } from '../../core/stream.ts'
import { LimitExceededError, ProtocolViolationError, StreamClosedError, TimeoutError } from '../../core/errors.ts'
import { ByteReader } from '../../utils/byte-reader.ts'
import { lengthPrefixed, readLengthPrefixed } from '../../utils/length-prefixed.ts'
import type { RequestResponseCodec } from './codec.ts'

export type OutboundRequestId = number
export type InboundRequestId = number

export type RequestResponseHandlerIn<Req, Res> =
  | { type: 'request', requestId: OutboundRequestId, request: Req }
  | { type: 'response', requestId: InboundRequestId, response: Res }

export type RequestResponseHandlerEvent<Req, Res> =
  | { type: 'request', requestId: InboundRequestId, request: Req, protocol: string }
  | { type: 'response', requestId: OutboundRequestId, response: Res }
  | { type: 'responseSent', requestId: InboundRequestId }
  | { type: 'outboundFailure', requestId: OutboundRequestId, error: Error }
  | { type: 'inboundFailure', requestId: InboundRequestId | undefined, error: Error }

export interface RequestResponseHandlerConfig<Req, Res> {
  codec: RequestResponseCodec<Req, Res>
  /** Protocols we answer on (empty when outbound-only). */
  inboundProtocols: readonly string[]
  /** Protocols we send requests on, in preference order (empty when inbound-only). */
  outboundProtocols: readonly string[]
  timeoutMs: number
  maxRequestSize: number
  maxResponseSize: number
  maxConcurrentInbound: number
  nextInboundId: () => InboundRequestId
}

interface Exchange { stream: Stream | undefined, deadline: number | undefined, fail: (err: Error) => void }

export class RequestResponseHandler<Req, Res> implements ConnectionHandler<RequestResponseHandlerIn<Req, Res>, RequestResponseHandlerEvent<Req, Res>, { requestId: OutboundRequestId, request: Req }> {
  private readonly config: RequestResponseHandlerConfig<Req, Res>
  private readonly out = new PollQueue<ConnectionHandlerEvent<RequestResponseHandlerEvent<Req, Res>, { requestId: OutboundRequestId, request: Req }>>()
  private readonly outbound = new Map<OutboundRequestId, Exchange>()
  private readonly inbound = new Map<InboundRequestId, Exchange & { respond?: (res: Res) => void }>()
  private inboundStreams = 0
  private closed = false

  constructor (config: RequestResponseHandlerConfig<Req, Res>) {
    this.config = config
  }

  listenProtocols (): readonly string[] { return this.config.inboundProtocols }

  onBehaviourEvent (event: RequestResponseHandlerIn<Req, Res>): void {
    if (event.type === 'request') {
      if (this.closed) {
        this.emit({ type: 'outboundFailure', requestId: event.requestId, error: new StreamClosedError('connection closed') })
        return
      }
      const requestId = event.requestId
      // Until the stream is open, a timeout fails the request directly.
      this.outbound.set(requestId, {
        stream: undefined,
        deadline: undefined,
        fail: (error) => { if (this.outbound.delete(requestId)) this.emit({ type: 'outboundFailure', requestId, error }) }
      })
      this.out.push({ type: 'outboundStreamRequest', protocols: this.config.outboundProtocols, info: { requestId: event.requestId, request: event.request }, timeoutMs: this.config.timeoutMs })
      return
    }
    const ex = this.inbound.get(event.requestId)
    if (ex?.respond === undefined) return
    ex.respond(event.response)
  }

  onOutboundStream (stream: Stream, _protocol: string, info: { requestId: OutboundRequestId, request: Req }): void {
    const ex = this.outbound.get(info.requestId)
    if (ex === undefined || this.closed) { stream.reset(); return }
    ex.stream = stream
    const { codec, maxRequestSize, maxResponseSize } = this.config
    ex.fail = (err) => { stream.reset(err) }
    void (async () => {
      const body = codec.encodeRequest(info.request)
      if (body.byteLength > maxRequestSize) throw new LimitExceededError('requestResponse.maxRequestSize', `request of ${body.byteLength} bytes exceeds ${maxRequestSize}`)
      if (!stream.send(lengthPrefixed(body))) await stream.onDrain()
      await stream.closeWrite()
      const bytes = await readLengthPrefixed(new ByteReader(stream), maxResponseSize, stream.protocol)
      if (bytes === undefined) throw new ProtocolViolationError(stream.protocol, 'stream ended without a response')
      const response = codec.decodeResponse(bytes)
      await stream.close()
      return response
    })().then(response => {
      if (this.outbound.delete(info.requestId)) this.emit({ type: 'response', requestId: info.requestId, response })
    }, (err: unknown) => {
      stream.reset()
      if (this.outbound.delete(info.requestId)) this.emit({ type: 'outboundFailure', requestId: info.requestId, error: toError(err) })
    })
  }

  onOutboundStreamError (info: { requestId: OutboundRequestId }, error: StreamUpgradeError): void {
    if (this.outbound.delete(info.requestId)) this.emit({ type: 'outboundFailure', requestId: info.requestId, error })
  }

  onInboundStream (stream: Stream, protocol: string): void {
    if (this.closed) { stream.reset(); return }
    if (this.inboundStreams >= this.config.maxConcurrentInbound) {
      stream.reset()
      this.emit({ type: 'inboundFailure', requestId: undefined, error: new LimitExceededError('requestResponse.maxConcurrentInbound', `more than ${this.config.maxConcurrentInbound} inbound requests at once`) })
      return
    }
    this.inboundStreams++
    const requestId = this.config.nextInboundId()
    const ex: Exchange & { respond?: (res: Res) => void } = { stream, deadline: undefined, fail: (err) => { stream.reset(err) } }
    this.inbound.set(requestId, ex)
    const { codec, maxRequestSize, maxResponseSize } = this.config
    void (async () => {
      const bytes = await readLengthPrefixed(new ByteReader(stream), maxRequestSize, protocol)
      if (bytes === undefined) throw new ProtocolViolationError(protocol, 'stream ended without a request')
      const request = codec.decodeRequest(bytes)
      const response = await new Promise<Res>((resolve, reject) => {
        ex.respond = resolve
        ex.fail = (err) => { reject(err); stream.reset(err) }
        this.emit({ type: 'request', requestId, request, protocol })
      })
      const body = codec.encodeResponse(response)
      if (body.byteLength > maxResponseSize) throw new LimitExceededError('requestResponse.maxResponseSize', `response of ${body.byteLength} bytes exceeds ${maxResponseSize}`)
      if (!stream.send(lengthPrefixed(body))) await stream.onDrain()
      await stream.close()
    })().then(() => {
      this.inboundStreams--
      if (this.inbound.delete(requestId)) this.emit({ type: 'responseSent', requestId })
    }, (err: unknown) => {
      this.inboundStreams--
      stream.reset()
      if (this.inbound.delete(requestId)) this.emit({ type: 'inboundFailure', requestId, error: toError(err) })
    })
  }

  keepAlive (): boolean {
    return this.outbound.size > 0 || this.inbound.size > 0
  }

  poll (cx: PollContext): ConnectionHandlerEvent<RequestResponseHandlerEvent<Req, Res>, { requestId: OutboundRequestId, request: Req }> | undefined {
    this.checkDeadlines(this.outbound, cx.now)
    this.checkDeadlines(this.inbound, cx.now)
    return this.out.poll(cx)
  }

  private checkDeadlines (map: Map<number, Exchange>, now: number): void {
    for (const ex of map.values()) {
      if (ex.deadline === undefined) ex.deadline = now + this.config.timeoutMs
      else if (now >= ex.deadline) ex.fail(new TimeoutError(`request-response exchange took over ${this.config.timeoutMs} ms`))
    }
  }

  nextDeadline (): number | undefined {
    let min: number | undefined
    for (const map of [this.outbound, this.inbound] as Array<Map<number, Exchange>>) {
      for (const ex of map.values()) if (ex.deadline !== undefined && (min === undefined || ex.deadline < min)) min = ex.deadline
    }
    return min
  }

  onClose (): void {
    this.closed = true
    for (const ex of this.outbound.values()) ex.stream?.reset()
    for (const ex of this.inbound.values()) ex.stream?.reset()
    // The behaviour reports failures for what was outstanding when it hears connectionClosed.
    this.outbound.clear()
    this.inbound.clear()
  }

  private emit (event: RequestResponseHandlerEvent<Req, Res>): void {
    this.out.push({ type: 'notifyBehaviour', event })
  }
}

function toError (err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}
