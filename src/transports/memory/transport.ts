/**
 * The in-memory transport: `/memory/<name>` addresses, resolved in a MemoryNetwork (one per
 * process by default; tests make their own to stay isolated). A dial finds the listener by name,
 * authenticates the listener's PeerId against the expected one (from `/p2p/` or the dial options)
 * and builds both connection sides at once.
 */
import { EventEmitter } from 'node:events'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Connection, DialOptions, Listener, Transport, TransportContext, TransportFactory } from '../../core/transport.ts'
import { AbortError, DialError, InvalidArgumentError, Libp2pError, PeerIdMismatchError } from '../../core/errors.ts'
import { logger, type Logger } from '../../log/index.ts'
import { splitPeerId, CODE_MEMORY } from '../../utils/multiaddr.ts'
import { MemoryConnection, DEFAULT_LIMITS, type MemoryConnectionLimits } from './connection.ts'

export interface MemoryNetworkOptions {
  /** One-way delay in ms applied to every connection made in this network (default 0). */
  latencyMs?: number
}

/** A namespace of `/memory/<name>` listeners. */
export class MemoryNetwork {
  readonly latencyMs: number
  private readonly listeners = new Map<string, MemoryListener>()

  constructor (options: MemoryNetworkOptions = {}) {
    this.latencyMs = options.latencyMs ?? 0
  }

  /** @internal */
  bind (name: string, listener: MemoryListener): void {
    if (this.listeners.has(name)) throw new Libp2pError('ERR_ADDRESS_IN_USE', `/memory/${name} is already listened on`)
    this.listeners.set(name, listener)
  }

  /** @internal */
  unbind (name: string, listener: MemoryListener): void {
    if (this.listeners.get(name) === listener) this.listeners.delete(name)
  }

  /** @internal */
  lookup (name: string): MemoryListener | undefined {
    return this.listeners.get(name)
  }

  /** Names currently listened on (for debugging and tests). */
  names (): string[] {
    return [...this.listeners.keys()]
  }
}

/** The process-wide network used when no other is given. */
export const defaultMemoryNetwork = new MemoryNetwork()

export interface MemoryTransportOptions {
  network?: MemoryNetwork
  /** One-way delay in ms for connections this transport dials; defaults to the network's. */
  latencyMs?: number
  /** Open streams per connection (default MAX_STREAMS_PER_CONNECTION). */
  maxStreams?: number
  /** Stream write buffer high-water mark in bytes (default WRITE_HIGH_WATER_MARK). */
  writeHighWaterMark?: number
  /** Stream read buffer high-water mark in bytes (default the Stream default). */
  readHighWaterMark?: number
  /** How long a graceful connection close waits for open streams (default CLOSE_TIMEOUT_MS). */
  closeTimeoutMs?: number
}

/** Factory for the Swarm and the CLI: `memory({ network })`. */
export function memory (options: MemoryTransportOptions = {}): TransportFactory {
  return (context) => new MemoryTransport(context, options)
}

function memoryName (addr: Multiaddr): string | undefined {
  const components = splitPeerId(addr).addr.getComponents()
  const first = components[0]
  if (components.length !== 1 || first === undefined || first.code !== CODE_MEMORY || first.value === undefined || first.value === '') return undefined
  return first.value
}

let nextConnectionId = 1
let nextEphemeral = 1

export class MemoryTransport implements Transport {
  readonly name = 'memory'
  readonly context: TransportContext
  readonly network: MemoryNetwork
  private readonly limits: MemoryConnectionLimits
  private readonly log: Logger
  private readonly listeners = new Set<MemoryListener>()
  private readonly connections = new Set<MemoryConnection>()

  constructor (context: TransportContext, options: MemoryTransportOptions = {}) {
    this.context = context
    this.network = options.network ?? defaultMemoryNetwork
    this.limits = {
      latencyMs: options.latencyMs ?? this.network.latencyMs,
      maxStreams: options.maxStreams ?? DEFAULT_LIMITS.maxStreams,
      writeHighWaterMark: options.writeHighWaterMark ?? DEFAULT_LIMITS.writeHighWaterMark,
      readHighWaterMark: options.readHighWaterMark ?? DEFAULT_LIMITS.readHighWaterMark,
      closeTimeoutMs: options.closeTimeoutMs ?? DEFAULT_LIMITS.closeTimeoutMs
    }
    this.log = logger('transport:memory')
  }

  canDial (addr: Multiaddr): boolean {
    return memoryName(addr) !== undefined
  }

  canListen (addr: Multiaddr): boolean {
    return memoryName(addr) !== undefined && splitPeerId(addr).peerId === undefined
  }

  async listen (addr: Multiaddr): Promise<Listener> {
    const name = memoryName(addr)
    if (name === undefined) throw new InvalidArgumentError(`not a /memory/<name> address: ${addr.toString()}`)
    const { peerId } = splitPeerId(addr)
    if (peerId !== undefined && !peerId.equals(this.context.peerId)) throw new InvalidArgumentError(`cannot listen on another peer's address ${addr.toString()}`)
    const listener = new MemoryListener(this, name)
    this.network.bind(name, listener)
    this.listeners.add(listener)
    listener.once('close', () => { this.listeners.delete(listener) })
    this.log.debug('listening', { addr: listener.addrs()[0] })
    return listener
  }

  async dial (addr: Multiaddr, options: DialOptions = {}): Promise<Connection> {
    const name = memoryName(addr)
    if (name === undefined) throw new InvalidArgumentError(`not a /memory/<name> address: ${addr.toString()}`)
    const split = splitPeerId(addr)
    if (options.signal?.aborted === true) throw new AbortError()
    // Connection setup (security and muxer) costs one round trip.
    await sleep(2 * this.limits.latencyMs, options.signal)
    const listener = this.network.lookup(name)
    if (listener === undefined || listener.closed) throw new DialError(`no listener at /memory/${name}`, 'ERR_CONNECTION_REFUSED')
    const remote = listener.transport
    const expected = options.expectedPeer ?? split.peerId
    if (options.expectedPeer !== undefined && split.peerId !== undefined && !options.expectedPeer.equals(split.peerId)) {
      throw new PeerIdMismatchError(options.expectedPeer.toString(), split.peerId.toString())
    }
    if (expected !== undefined && !expected.equals(remote.context.peerId)) {
      throw new PeerIdMismatchError(expected.toString(), remote.context.peerId.toString())
    }
    const id = nextConnectionId++
    const listenAddr = multiaddr(`/memory/${name}`)
    const dialerAddr = this.ownAddr()
    const outbound = new MemoryConnection({
      id: `memory-${id}-out`, context: this.context, remotePeer: remote.context.peerId, remoteAddr: listenAddr,
      localAddr: dialerAddr, direction: 'outbound', limits: this.limits, log: this.log
    })
    const inbound = new MemoryConnection({
      id: `memory-${id}-in`, context: remote.context, remotePeer: this.context.peerId, remoteAddr: dialerAddr,
      localAddr: listenAddr, direction: 'inbound', limits: { ...this.limits, ...remote.ownLimits() }, log: remote.log
    })
    outbound.peer = inbound
    inbound.peer = outbound
    this.track(outbound)
    remote.track(inbound)
    this.log.debug('connection established', { connection: outbound.id, remotePeer: remote.context.peerId.toString() })
    listener.accept(inbound)
    return outbound
  }

  async close (): Promise<void> {
    await Promise.all([...this.listeners].map(async l => { await l.close() }))
    await Promise.all([...this.connections].map(async c => { await c.close() }))
  }

  /** @internal */
  ownLimits (): Partial<MemoryConnectionLimits> {
    // The dialer's latency applies to the whole connection; the other limits are per side.
    return { maxStreams: this.limits.maxStreams, writeHighWaterMark: this.limits.writeHighWaterMark, readHighWaterMark: this.limits.readHighWaterMark, closeTimeoutMs: this.limits.closeTimeoutMs }
  }

  private track (connection: MemoryConnection): void {
    this.connections.add(connection)
    connection.once('close', () => { this.connections.delete(connection) })
  }

  /** The address the remote sees for us: our first listen address, else an ephemeral name. */
  private ownAddr (): Multiaddr {
    const first = [...this.listeners][0]
    return first !== undefined ? multiaddr(`/memory/${first.name}`) : multiaddr(`/memory/ephemeral-${nextEphemeral++}`)
  }
}

export class MemoryListener extends EventEmitter implements Listener {
  readonly transport: MemoryTransport
  readonly name: string
  closed = false

  constructor (transport: MemoryTransport, name: string) {
    super()
    this.transport = transport
    this.name = name
  }

  addrs (): Multiaddr[] {
    return this.closed ? [] : [multiaddr(`/memory/${this.name}`)]
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.transport.network.unbind(this.name, this)
    this.emit('close')
  }

  /** @internal */
  accept (connection: MemoryConnection): void {
    this.emit('connection', connection)
  }
}

async function sleep (ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0) return
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { clearTimeout(timer); reject(new AbortError()) }
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
