/**
 * Identify's connection handler. Right after the connection is up (and every `intervalMs`) it asks
 * the remote for its Identify message on `/ipfs/id/1.0.0`; it answers the remote's requests with
 * ours, observing the remote's address; it receives `/ipfs/id/push/1.0.0` updates and pushes ours
 * when its behaviour asks, or when our protocols change after a first exchange. What it learns of
 * the remote's protocols goes to the other handlers of the connection (`reportRemoteProtocols`, see
 * docs/design/swarm.md). Every exchange has a deadline on the Swarm's clock: the handler resets a
 * stream whose exchange is late, from `poll`.
 */
import type { Multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '../../identity/peer-id.ts'
import type { PublicKey } from '../../identity/types.ts'
import { publicKeyFromProtobuf } from '../../identity/index.ts'
import { PeerId as PeerIdClass } from '../../identity/peer-id.ts'
import { PollQueue, type ConnectionHandler, type ConnectionHandlerEvent, type HandlerConnectionEvent, type PollContext, type StreamUpgradeError } from '../../core/handler.ts'
import type { Stream } from '../../core/stream.ts'
import { ProtocolViolationError, TimeoutError } from '../../core/errors.ts'
import { openPeerRecord, type PeerRecord } from '../../core/record/peer-record.ts'
import { ByteReader } from '../../utils/byte-reader.ts'
import { lengthPrefixed, readLengthPrefixed } from '../../utils/length-prefixed.ts'
import {
  IDENTIFY_CLOSE_GRACE_MS, IDENTIFY_PROTOCOL, IDENTIFY_PUSH_PROTOCOL, IDENTIFY_RETRY_DELAY_MS, MAX_CONCURRENT_IDENTIFY_STREAMS, MAX_IDENTIFY_MESSAGE_SIZE,
  MAX_IDENTIFY_RETRIES
} from './constants.ts'
import { decodeIdentify, encodeIdentify, type IdentifyMessage } from './message.ts'

/** What a remote told us, checked: the key matches the peer, the record is verified. */
export interface IdentifyInfo {
  publicKey?: PublicKey
  protocolVersion?: string
  agentVersion?: string
  /** From the verified signed peer record when there is one, else the message's listenAddrs. */
  listenAddrs: Multiaddr[]
  protocols: string[]
  /** How the remote sees us. */
  observedAddr?: Multiaddr
  /** Present when the message carried a record signed by the remote peer. */
  signedPeerRecord?: PeerRecord
}

/** The local side of identify, shared by the behaviour with its handlers (no I/O). */
export interface IdentifyLocal {
  readonly protocolVersion: string
  readonly agentVersion: string
  readonly publicKey: Uint8Array
  addresses(): Multiaddr[]
  signedPeerRecord(): Uint8Array | undefined
  /** Verifies a remote's signed peer record (the behaviour caches verified ones); throws if invalid. */
  openPeerRecord?(bytes: Uint8Array): PeerRecord
}

export type IdentifyHandlerIn = { type: 'push' }
export type IdentifyHandlerEvent =
  | { type: 'identified', info: IdentifyInfo }
  | { type: 'pushReceived', info: IdentifyInfo }
  | { type: 'sent' }
  | { type: 'pushed' }
  | { type: 'error', error: Error }
type Info = 'identify' | 'push'

const PROTOCOLS: readonly string[] = Object.freeze([IDENTIFY_PROTOCOL, IDENTIFY_PUSH_PROTOCOL])

export interface IdentifyHandlerConfig {
  local: IdentifyLocal
  remotePeer: PeerId
  /** The remote's address as this connection sees it: what we report as `observedAddr`. */
  remoteAddr: Multiaddr
  intervalMs: number
  timeoutMs: number
}

export class IdentifyHandler implements ConnectionHandler<IdentifyHandlerIn, IdentifyHandlerEvent, Info> {
  private readonly config: IdentifyHandlerConfig
  private readonly out = new PollQueue<ConnectionHandlerEvent<IdentifyHandlerEvent, Info>>()
  private localProtocols: readonly string[] = []
  /** The remote's protocols as last reported to the other handlers (sorted), or undefined before the first report. */
  private remoteProtocols: string[] | undefined
  /** One identify answer has been read: from now on a change of our protocols is pushed (rust-libp2p's rule). */
  private identifiedOnce = false
  /** Exchanges in progress, with their deadline (set at the first poll after they start). */
  private readonly active = new Map<Stream, number | undefined>()
  private nextIdentifyAt = 0
  private requesting = false
  private pushWanted = false
  /** Retries of the request made since the last success (see IDENTIFY_RETRY_DELAY_MS). */
  private retries = 0
  /** A request failed: the next poll schedules the retry on its clock. */
  private retryDue = false
  private closed = false
  private lastNow = 0

  constructor (config: IdentifyHandlerConfig) {
    this.config = config
  }

  listenProtocols (): readonly string[] { return PROTOCOLS }

  onConnectionEvent (event: HandlerConnectionEvent): void {
    if (event.type !== 'localProtocolsChange') return
    const changed = !sameSet(this.localProtocols, event.protocols)
    this.localProtocols = event.protocols
    // The remote learns our new protocols (e.g. Kademlia turned server) without waiting for the
    // next interval. As rust-libp2p's handler: only after a first exchange, so the list the Swarm
    // gives every new handler right after it is created does not cause a push.
    if (changed && this.identifiedOnce && !this.closed) {
      this.pushWanted = true
      this.out.wake()
    }
  }

  onBehaviourEvent (event: IdentifyHandlerIn): void {
    if (event.type === 'push') {
      this.pushWanted = true
      this.out.wake()
    }
  }

  onInboundStream (stream: Stream, protocol: string): void {
    if (this.closed || this.active.size >= MAX_CONCURRENT_IDENTIFY_STREAMS) { stream.reset(); return }
    if (protocol === IDENTIFY_PROTOCOL) this.run(stream, async () => { await this.send(stream, true); return { type: 'sent' } })
    else this.run(stream, async () => ({ type: 'pushReceived', info: await this.receive(stream) }))
  }

  onOutboundStream (stream: Stream, _protocol: string, info: Info): void {
    if (this.closed) { stream.reset(); return }
    if (info === 'identify') {
      this.requesting = false
      this.run(stream, async () => ({ type: 'identified', info: await this.receive(stream) }), true)
    } else {
      this.run(stream, async () => { await this.send(stream, false); return { type: 'pushed' } })
    }
  }

  onOutboundStreamError (info: Info, error: StreamUpgradeError): void {
    if (info === 'identify') {
      this.requesting = false
      // A remote that does not speak identify, or a closing connection, is not asked again soon.
      if (error.kind === 'timeout' || error.kind === 'io') this.requestFailed()
      else this.nextIdentifyAt = this.lastNow + this.config.intervalMs
    }
    this.out.push({ type: 'notifyBehaviour', event: { type: 'error', error } })
  }

  keepAlive (): boolean {
    return this.requesting || this.active.size > 0
  }

  poll (cx: PollContext): ConnectionHandlerEvent<IdentifyHandlerEvent, Info> | undefined {
    this.lastNow = cx.now
    for (const [stream, deadline] of this.active) {
      if (deadline === undefined) this.active.set(stream, cx.now + this.config.timeoutMs)
      else if (cx.now >= deadline) stream.reset(new TimeoutError(`identify exchange took over ${this.config.timeoutMs} ms`))
    }
    if (this.retryDue) {
      this.retryDue = false
      this.nextIdentifyAt = cx.now + IDENTIFY_RETRY_DELAY_MS * 2 ** (this.retries - 1)
    }
    if (!this.closed && !this.requesting && cx.now >= this.nextIdentifyAt) {
      this.requesting = true
      this.nextIdentifyAt = cx.now + this.config.intervalMs
      this.out.push({ type: 'outboundStreamRequest', protocols: [IDENTIFY_PROTOCOL], info: 'identify', timeoutMs: this.config.timeoutMs })
    }
    if (this.pushWanted && !this.closed) {
      this.pushWanted = false
      this.out.push({ type: 'outboundStreamRequest', protocols: [IDENTIFY_PUSH_PROTOCOL], info: 'push', timeoutMs: this.config.timeoutMs })
    }
    return this.out.poll(cx)
  }

  nextDeadline (): number | undefined {
    let min = this.requesting || this.closed ? undefined : this.nextIdentifyAt
    for (const d of this.active.values()) if (d !== undefined && (min === undefined || d < min)) min = d
    return min
  }

  onClose (): void {
    this.closed = true
    for (const stream of this.active.keys()) stream.reset()
    this.active.clear()
  }

  // ---- exchanges ---------------------------------------------------------------------------

  /** A request failed for a reason that may pass (late, lost, I/O): retry soon, a few times. */
  private requestFailed (): void {
    if (this.closed) return
    if (this.retries >= MAX_IDENTIFY_RETRIES) {
      // Out of retries: the next attempt is the periodic one, with fresh retries.
      this.retries = 0
      return
    }
    this.retries++
    this.retryDue = true
    this.out.wake()
  }

  private run (stream: Stream, exchange: () => Promise<IdentifyHandlerEvent>, request = false): void {
    this.active.set(stream, undefined)
    exchange().then(event => {
      this.active.delete(stream)
      if (this.closed) return
      if (event.type === 'identified') this.retries = 0
      if (event.type === 'identified' || event.type === 'pushReceived') this.reportRemoteProtocols(event)
      this.out.push({ type: 'notifyBehaviour', event })
    }, (err: unknown) => {
      this.active.delete(stream)
      stream.reset()
      if (this.closed) return
      // A remote that sent a malformed or mismatched message would do it again: no retry.
      if (request && !(err instanceof ProtocolViolationError)) this.requestFailed()
      this.out.push({ type: 'notifyBehaviour', event: { type: 'error', error: err instanceof Error ? err : new Error(String(err)) } })
    })
    this.out.wake()
  }

  /**
   * Tells the other handlers of this connection (through the Swarm: `reportRemoteProtocols` →
   * `remoteProtocolsChange`) which protocols the remote supports, before our behaviour hears the
   * identify event; only when the set changed (rust-libp2p reports added/removed sets). A push
   * without protocols leaves them as they were: the spec lets a push carry only what changed, and
   * our decoder cannot tell an absent list from an empty one (every peer lists at least identify).
   */
  private reportRemoteProtocols (event: { type: 'identified' | 'pushReceived', info: IdentifyInfo }): void {
    if (event.type === 'identified') this.identifiedOnce = true
    const protocols = event.info.protocols
    if (event.type === 'pushReceived' && protocols.length === 0) return
    const sorted = [...new Set(protocols)].sort()
    const last = this.remoteProtocols
    if (last !== undefined && last.length === sorted.length && last.every((p, i) => p === sorted[i])) return
    this.remoteProtocols = sorted
    this.out.push({ type: 'reportRemoteProtocols', protocols: Object.freeze(sorted) })
  }

  private message (): IdentifyMessage {
    const { local } = this.config
    const m: IdentifyMessage = {
      protocolVersion: local.protocolVersion,
      agentVersion: local.agentVersion,
      publicKey: local.publicKey,
      listenAddrs: local.addresses(),
      observedAddr: this.config.remoteAddr,
      protocols: [...this.localProtocols]
    }
    const record = local.signedPeerRecord()
    if (record !== undefined) m.signedPeerRecord = record
    return m
  }

  private async send (stream: Stream, answer: boolean): Promise<void> {
    const bytes = encodeIdentify(this.message())
    if (bytes.byteLength > MAX_IDENTIFY_MESSAGE_SIZE) {
      throw new ProtocolViolationError(IDENTIFY_PROTOCOL, `our Identify message (${bytes.byteLength} bytes) exceeds ${MAX_IDENTIFY_MESSAGE_SIZE}`)
    }
    if (!stream.send(lengthPrefixed(bytes))) await stream.onDrain()
    // Answering a request: let the requester close first. js-libp2p 3's dialer-side
    // multistream-select fails ("Cannot push data onto a stream that is closed") when our message
    // and our FIN arrive together with its protocol confirmation. Every implementation closes
    // after reading the one message; the grace bounds the wait for one that does not.
    if (answer) await remoteClosed(stream, IDENTIFY_CLOSE_GRACE_MS)
    await stream.close()
  }

  private async receive (stream: Stream): Promise<IdentifyInfo> {
    const reader = new ByteReader(stream)
    const body = await readLengthPrefixed(reader, MAX_IDENTIFY_MESSAGE_SIZE, IDENTIFY_PROTOCOL)
    if (body === undefined) throw new ProtocolViolationError(IDENTIFY_PROTOCOL, 'stream ended before the Identify message')
    const info = this.check(decodeIdentify(body))
    // The message is the whole exchange: close our side (the remote already closed or waits for
    // it, see `send`). The result does not wait for the close, nor fail with it: a remote that
    // resets after sending, or a slow FIN under load, must not cost a message we already hold.
    stream.close().catch(() => { stream.reset() })
    return info
  }

  private check (m: IdentifyMessage): IdentifyInfo {
    const info: IdentifyInfo = { listenAddrs: m.listenAddrs, protocols: m.protocols }
    if (m.publicKey !== undefined) {
      const key = publicKeyFromProtobuf(m.publicKey)
      if (!PeerIdClass.fromPublicKeyProtobuf(key.toProtobuf()).equals(this.config.remotePeer)) {
        throw new ProtocolViolationError(IDENTIFY_PROTOCOL, 'the public key does not match the remote peer id', 'ERR_PEER_ID_MISMATCH')
      }
      info.publicKey = key
    }
    if (m.protocolVersion !== undefined) info.protocolVersion = m.protocolVersion
    if (m.agentVersion !== undefined) info.agentVersion = m.agentVersion
    if (m.observedAddr !== undefined) info.observedAddr = m.observedAddr
    if (m.signedPeerRecord !== undefined) {
      try {
        const record = this.config.local.openPeerRecord?.(m.signedPeerRecord) ?? openPeerRecord(m.signedPeerRecord)
        if (record.peerId.equals(this.config.remotePeer)) {
          info.signedPeerRecord = record
          // Signed addresses are authenticated: prefer them (rust-libp2p and js-libp2p do).
          info.listenAddrs = record.addresses
        }
      } catch {
        // An invalid record is ignored; the unsigned fields still count.
      }
    }
    return info
  }
}

function sameSet (a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true
  if (a.length !== b.length) return false
  const set = new Set(a)
  return b.every(p => set.has(p))
}

/** Resolves when the remote has closed its side (or the stream ended), or after `graceMs`. */
async function remoteClosed (stream: Stream, graceMs: number): Promise<void> {
  if (stream.remoteWriteStatus === 'closed' || stream.status !== 'open') return
  await new Promise<void>(resolve => {
    const done = (): void => {
      clearTimeout(timer)
      stream.off('remoteCloseWrite', done)
      stream.off('close', done)
      resolve()
    }
    const timer = setTimeout(done, graceMs)
    stream.on('remoteCloseWrite', done)
    stream.on('close', done)
  })
}
