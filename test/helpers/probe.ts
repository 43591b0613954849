/**
 * A test behaviour that records everything the Swarm tells it and lets a test issue any ToSwarm
 * command. Its handler serves one protocol: an inbound stream is read to its end and reported;
 * `{ type: 'send', data }` from the behaviour opens an outbound stream and writes `data`.
 */
import type { PeerId } from '../../src/identity/peer-id.ts'
import type {
  ConnectionId, EstablishedInboundInfo, EstablishedOutboundInfo, FromSwarm, NetworkBehaviour, ToSwarm
} from '../../src/core/behaviour.ts'
import { PollQueue, type ConnectionHandler, type ConnectionHandlerEvent, type PollContext, type StreamUpgradeError } from '../../src/core/handler.ts'
import type { Stream } from '../../src/core/stream.ts'

export type ProbeIn = { type: 'send', data: Uint8Array }
export type ProbeOut =
  | { type: 'received', protocol: string, data: Uint8Array }
  | { type: 'sent', protocol: string }
  | { type: 'streamError', kind: string }
export type ProbeEvent = { peerId: PeerId, connectionId: ConnectionId, event: ProbeOut }

export class ProbeHandler implements ConnectionHandler<ProbeIn, ProbeOut, Uint8Array> {
  readonly protocols: readonly string[]
  keepAliveValue: boolean
  closed = false
  readonly streams = new Set<Stream>()
  private readonly queue = new PollQueue<ConnectionHandlerEvent<ProbeOut, Uint8Array>>()

  constructor (protocol: string, keepAlive: boolean) {
    this.protocols = Object.freeze([protocol])
    this.keepAliveValue = keepAlive
  }

  listenProtocols (): readonly string[] { return this.protocols }

  onInboundStream (stream: Stream, protocol: string): void {
    this.streams.add(stream)
    void (async () => {
      const chunks: Uint8Array[] = []
      for await (const chunk of stream) chunks.push(chunk.slice())
      await stream.close()
      this.streams.delete(stream)
      this.queue.push({ type: 'notifyBehaviour', event: { type: 'received', protocol, data: Buffer.concat(chunks) } })
    })().catch(() => { this.streams.delete(stream) })
  }

  onOutboundStream (stream: Stream, protocol: string, data: Uint8Array): void {
    this.streams.add(stream)
    stream.send(data)
    void stream.close().then(() => {
      this.streams.delete(stream)
      this.queue.push({ type: 'notifyBehaviour', event: { type: 'sent', protocol } })
    }, () => { this.streams.delete(stream) })
  }

  onOutboundStreamError (_info: Uint8Array, error: StreamUpgradeError): void {
    this.queue.push({ type: 'notifyBehaviour', event: { type: 'streamError', kind: error.kind } })
  }

  onBehaviourEvent (event: ProbeIn): void {
    this.queue.push({ type: 'outboundStreamRequest', protocols: this.protocols, info: event.data })
  }

  keepAlive (): boolean { return this.keepAliveValue }

  poll (cx: PollContext): ConnectionHandlerEvent<ProbeOut, Uint8Array> | undefined {
    return this.queue.poll(cx)
  }

  onClose (): void {
    this.closed = true
    for (const s of this.streams) s.reset()
    this.streams.clear()
  }
}

const NONE: readonly string[] = Object.freeze([])

export class ProbeBehaviour implements NetworkBehaviour<ProbeEvent, ProbeHandler> {
  readonly protocol: string
  keepAlive: boolean
  readonly swarmEvents: FromSwarm[] = []
  readonly handlers: ProbeHandler[] = []
  /** Order of what the behaviour heard, for ordering checks. */
  readonly log: string[] = []
  private readonly queue = new PollQueue<ToSwarm<ProbeEvent, ProbeIn>>()

  constructor (protocol = '/probe/1.0.0', keepAlive = true) {
    this.protocol = protocol
    this.keepAlive = keepAlive
    this.declared = Object.freeze([protocol])
  }

  /** Set `declare = false` to test a behaviour that does not declare its protocols up front. */
  declare = true
  private readonly declared: readonly string[]

  listenProtocols (): readonly string[] { return this.declare ? this.declared : NONE }

  command (cmd: ToSwarm<ProbeEvent, ProbeIn>): void {
    this.queue.push(cmd)
  }

  handleEstablishedInboundConnection (info: EstablishedInboundInfo): ProbeHandler {
    this.log.push(`handler:${info.connectionId}`)
    const h = new ProbeHandler(this.protocol, this.keepAlive)
    this.handlers.push(h)
    return h
  }

  handleEstablishedOutboundConnection (info: EstablishedOutboundInfo): ProbeHandler {
    this.log.push(`handler:${info.connectionId}`)
    const h = new ProbeHandler(this.protocol, this.keepAlive)
    this.handlers.push(h)
    return h
  }

  onSwarmEvent (event: FromSwarm): void {
    this.swarmEvents.push(event)
    if (event.type === 'connectionEstablished' || event.type === 'connectionClosed') this.log.push(`${event.type}:${event.connectionId}`)
  }

  onConnectionHandlerEvent (peerId: PeerId, connectionId: ConnectionId, event: ProbeOut): void {
    this.log.push(`handlerEvent:${connectionId}:${event.type}`)
    this.queue.push({ type: 'generateEvent', event: { peerId, connectionId, event } })
  }

  poll (cx: PollContext): ToSwarm<ProbeEvent, ProbeIn> | undefined {
    return this.queue.poll(cx)
  }
}
