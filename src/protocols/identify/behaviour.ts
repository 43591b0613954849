/**
 * Identify as a NetworkBehaviour (rust-libp2p's `identify::Behaviour`). Each connection's handler
 * exchanges Identify messages; the behaviour turns what remotes say into Swarm commands:
 *  - the address a remote observed for us → `newExternalAddrCandidate` (rust-libp2p does the same;
 *    confirming candidates is AutoNAT's or the user's job);
 *  - the remote's listen addresses (from its verified signed peer record when present) →
 *    `newExternalAddrOfPeer`, which feeds the Swarm's address book for later dials by PeerId.
 * It advertises our listen and confirmed external addresses, learnt from FromSwarm events, in the
 * message and in a signed peer record, and optionally pushes them to every connected peer when
 * they change.
 */
import type { Multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '../../identity/peer-id.ts'
import type { PrivateKey } from '../../identity/types.ts'
import type {
  ConnectionId, EstablishedInboundInfo, EstablishedOutboundInfo, FromSwarm, NetworkBehaviour, PollContext, ToSwarm
} from '../../core/behaviour.ts'
import { PollQueue } from '../../core/handler.ts'
import { PeerRecordCache, signPeerRecord, type PeerRecord } from '../../core/record/peer-record.ts'
import { logger } from '../../log/index.ts'
import {
  IDENTIFY_PROTOCOL, IDENTIFY_PUSH_PROTOCOL, DEFAULT_AGENT_VERSION, DEFAULT_IDENTIFY_INTERVAL_MS, DEFAULT_IDENTIFY_TIMEOUT_MS, DEFAULT_PROTOCOL_VERSION
} from './constants.ts'
import { IdentifyHandler, type IdentifyHandlerEvent, type IdentifyHandlerIn, type IdentifyInfo, type IdentifyLocal } from './handler.ts'

export interface IdentifyConfig {
  /** Our key: its public half is sent, and it signs our peer record. */
  privateKey: PrivateKey
  protocolVersion?: string
  agentVersion?: string
  /** Re-identify each connection this often (default 5 min). */
  intervalMs?: number
  /** Deadline of one exchange (default 5 s). */
  timeoutMs?: number
  /** Push our new addresses to connected peers when they change (default false, as rust-libp2p). */
  pushListenAddrUpdates?: boolean
  /** Do not include listen addresses, only confirmed external ones (rust's `hide_listen_addrs`). */
  hideListenAddrs?: boolean
  /** Send a signed peer record (default true). */
  signedPeerRecord?: boolean
}

export type IdentifyEvent =
  /** We identified the remote (answer to our request). */
  | { type: 'received', peerId: PeerId, connectionId: ConnectionId, info: IdentifyInfo }
  /** The remote pushed an update. */
  | { type: 'pushReceived', peerId: PeerId, connectionId: ConnectionId, info: IdentifyInfo }
  /** We answered the remote's request. */
  | { type: 'sent', peerId: PeerId, connectionId: ConnectionId }
  | { type: 'pushed', peerId: PeerId, connectionId: ConnectionId }
  | { type: 'error', peerId: PeerId, connectionId: ConnectionId, error: Error }

const log = logger('identify')
const IDENTIFY_PROTOCOLS: readonly string[] = Object.freeze([IDENTIFY_PROTOCOL, IDENTIFY_PUSH_PROTOCOL])

class LocalInfo implements IdentifyLocal {
  readonly protocolVersion: string
  readonly agentVersion: string
  readonly publicKey: Uint8Array
  readonly listen = new Map<string, Multiaddr>()
  readonly external = new Map<string, Multiaddr>()
  private readonly key: PrivateKey
  private readonly hideListen: boolean
  private readonly signRecords: boolean
  private readonly records = new PeerRecordCache()
  private cachedAddrs: Multiaddr[] | undefined
  private cachedRecord: Uint8Array | undefined
  private lastSeq = 0n

  constructor (config: IdentifyConfig) {
    this.key = config.privateKey
    this.protocolVersion = config.protocolVersion ?? DEFAULT_PROTOCOL_VERSION
    this.agentVersion = config.agentVersion ?? DEFAULT_AGENT_VERSION
    this.publicKey = config.privateKey.publicKey.toProtobuf()
    this.hideListen = config.hideListenAddrs ?? false
    this.signRecords = config.signedPeerRecord ?? true
  }

  openPeerRecord (bytes: Uint8Array): PeerRecord {
    return this.records.open(bytes)
  }

  changed (): void {
    this.cachedAddrs = undefined
    this.cachedRecord = undefined
  }

  addresses (): Multiaddr[] {
    if (this.cachedAddrs === undefined) {
      const all = new Map(this.external)
      if (!this.hideListen) for (const [k, v] of this.listen) all.set(k, v)
      this.cachedAddrs = [...all.values()]
    }
    return this.cachedAddrs
  }

  signedPeerRecord (): Uint8Array | undefined {
    if (!this.signRecords) return undefined
    if (this.cachedRecord === undefined) {
      // seq: milliseconds since the epoch (as js-libp2p and go-libp2p), strictly increasing.
      const now = BigInt(Date.now())
      this.lastSeq = now > this.lastSeq ? now : this.lastSeq + 1n
      this.cachedRecord = signPeerRecord(this.key, this.lastSeq, this.addresses())
    }
    return this.cachedRecord
  }
}

export class IdentifyBehaviour implements NetworkBehaviour<IdentifyEvent, IdentifyHandler> {
  private readonly local: LocalInfo
  private readonly intervalMs: number
  private readonly timeoutMs: number
  private readonly push: boolean
  private readonly queue = new PollQueue<ToSwarm<IdentifyEvent, IdentifyHandlerIn>>()
  /** Connected peers (peer key → id and connection count), to push to. */
  private readonly connected = new Map<string, { peerId: PeerId, connections: number }>()

  constructor (config: IdentifyConfig) {
    this.local = new LocalInfo(config)
    this.intervalMs = config.intervalMs ?? DEFAULT_IDENTIFY_INTERVAL_MS
    this.timeoutMs = config.timeoutMs ?? DEFAULT_IDENTIFY_TIMEOUT_MS
    this.push = config.pushListenAddrUpdates ?? false
  }

  /** The addresses we advertise. */
  advertisedAddresses (): Multiaddr[] {
    return this.local.addresses()
  }

  /** Push our current information to every connected peer now. */
  pushToAll (): void {
    for (const { peerId } of this.connected.values()) {
      this.queue.push({ type: 'notifyHandler', peerId, handler: 'any', event: { type: 'push' } })
    }
  }

  private handler (remotePeer: PeerId, remoteAddr: Multiaddr): IdentifyHandler {
    return new IdentifyHandler({ local: this.local, remotePeer, remoteAddr, intervalMs: this.intervalMs, timeoutMs: this.timeoutMs })
  }

  listenProtocols (): readonly string[] { return IDENTIFY_PROTOCOLS }

  handleEstablishedInboundConnection (info: EstablishedInboundInfo): IdentifyHandler {
    return this.handler(info.peerId, info.sendBackAddr)
  }

  handleEstablishedOutboundConnection (info: EstablishedOutboundInfo): IdentifyHandler {
    return this.handler(info.peerId, info.address)
  }

  onSwarmEvent (event: FromSwarm): void {
    switch (event.type) {
      case 'connectionEstablished': {
        const key = event.peerId.toString()
        const entry = this.connected.get(key)
        if (entry === undefined) this.connected.set(key, { peerId: event.peerId, connections: 1 })
        else entry.connections++
        return
      }
      case 'connectionClosed': {
        const key = event.peerId.toString()
        const entry = this.connected.get(key)
        if (entry !== undefined && --entry.connections <= 0) this.connected.delete(key)
        return
      }
      case 'newListenAddr':
        this.addressesChanged(this.local.listen, event.address, true)
        return
      case 'expiredListenAddr':
        this.addressesChanged(this.local.listen, event.address, false)
        return
      case 'externalAddrConfirmed':
        this.addressesChanged(this.local.external, event.address, true)
        return
      case 'externalAddrExpired':
        this.addressesChanged(this.local.external, event.address, false)
    }
  }

  private addressesChanged (map: Map<string, Multiaddr>, address: Multiaddr, add: boolean): void {
    const key = address.toString()
    if (add === map.has(key)) return
    if (add) map.set(key, address)
    else map.delete(key)
    this.local.changed()
    if (this.push) this.pushToAll()
  }

  onConnectionHandlerEvent (peerId: PeerId, connectionId: ConnectionId, event: IdentifyHandlerEvent): void {
    switch (event.type) {
      case 'identified':
      case 'pushReceived': {
        const { info } = event
        if (log.enabled.debug) log.debug('identified', { peer: peerId.toString(), agent: info.agentVersion, protocols: info.protocols.length, addrs: info.listenAddrs.length })
        if (event.type === 'identified' && info.observedAddr !== undefined) {
          this.queue.push({ type: 'newExternalAddrCandidate', address: info.observedAddr })
        }
        for (const address of info.listenAddrs) this.queue.push({ type: 'newExternalAddrOfPeer', peerId, address })
        this.queue.push({ type: 'generateEvent', event: { type: event.type === 'identified' ? 'received' : 'pushReceived', peerId, connectionId, info } })
        return
      }
      case 'sent':
      case 'pushed':
        this.queue.push({ type: 'generateEvent', event: { type: event.type, peerId, connectionId } })
        return
      case 'error':
        if (log.enabled.debug) log.debug('identify failed', { peer: peerId.toString(), err: event.error })
        this.queue.push({ type: 'generateEvent', event: { type: 'error', peerId, connectionId, error: event.error } })
    }
  }

  poll (cx: PollContext): ToSwarm<IdentifyEvent, IdentifyHandlerIn> | undefined {
    return this.queue.poll(cx)
  }
}
