/**
 * Kademlia test networks over the in-memory transport: N swarms, each with a Kademlia behaviour,
 * and helpers that run an operation to its last event (with a timeout, so a missing event fails).
 */
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { generateKeyPair, peerIdFromPrivateKey } from '../../../src/identity/index.ts'
import { Swarm, type SwarmConfig } from '../../../src/core/swarm/swarm.ts'
import { memory, MemoryNetwork } from '../../../src/transports/memory/index.ts'
import { Kademlia, type KademliaInit } from '../../../src/protocols/kad/behaviour.ts'
import type { KadEvent, QueryId } from '../../../src/protocols/kad/types.ts'

export type KadSwarm = Swarm<Kademlia>
export type Progress = Extract<KadEvent, { type: 'outboundQueryProgressed' }>

let nextName = 0

export async function createKadSwarm (network: MemoryNetwork, init: Omit<KademliaInit, 'peerId'> = {}, config: SwarmConfig = {}): Promise<KadSwarm> {
  const privateKey = generateKeyPair()
  const peerId = peerIdFromPrivateKey(privateKey)
  const swarm = new Swarm({ privateKey, peerId, transports: [memory({ network })], behaviour: new Kademlia({ peerId, ...init }), config })
  await swarm.listen(multiaddr(`/memory/kad-${process.pid}-${nextName++}`))
  return swarm
}

export async function createKadSwarms (n: number, init: (i: number) => Omit<KademliaInit, 'peerId'>, config: SwarmConfig = {}): Promise<{ network: MemoryNetwork, swarms: KadSwarm[] }> {
  const network = new MemoryNetwork()
  const swarms: KadSwarm[] = []
  for (let i = 0; i < n; i++) swarms.push(await createKadSwarm(network, init(i), config))
  emulateIdentify(swarms)
  return { network, swarms }
}

/**
 * What identify does for kad in a real node, done by the test: when a connection is up, each side
 * learns the other's listen address and, if the other is a kad server, adds it to its routing
 * table (Rust's `add_address` after identify reports the protocol). There is no identify
 * protocol in the tree yet; without it, a node learns only the peers it dialled itself.
 */
export function emulateIdentify (swarms: readonly KadSwarm[]): void {
  const byId = new Map(swarms.map(s => [s.localPeerId.toString(), s]))
  for (const s of swarms) {
    s.on('connectionEstablished', (e: { peerId: { toString: () => string } }) => {
      const other = byId.get(e.peerId.toString())
      if (other === undefined || other.behaviour.mode !== 'server') return
      s.behaviour.addAddress(other.localPeerId, listenAddr(other))
    })
  }
}

export function listenAddr (s: KadSwarm): Multiaddr {
  const a = s.listenAddresses()[0]
  if (a === undefined) throw new Error('not listening')
  return a
}

/** Resolves with every event of query `id` once its last one arrives; rejects after `timeoutMs`. */
export async function settle (swarm: KadSwarm, id: QueryId, timeoutMs = 20_000): Promise<Progress[]> {
  return await new Promise((resolve, reject) => {
    const events: Progress[] = []
    const listener = (e: { event: KadEvent }): void => {
      const ev = e.event
      if (ev.type !== 'outboundQueryProgressed' || ev.id !== id) return
      events.push(ev)
      if (ev.step.last) { cleanup(); resolve(events) }
    }
    const timer = setTimeout(() => { cleanup(); reject(new Error(`query ${id} did not finish within ${timeoutMs} ms`)) }, timeoutMs)
    const cleanup = (): void => { clearTimeout(timer); swarm.off('behaviour', listener as never) }
    swarm.on('behaviour', listener as never)
  })
}

/** Starts an operation and waits for its last event (registering the listener first). */
export async function run (swarm: KadSwarm, start: (k: Kademlia) => QueryId, timeoutMs?: number): Promise<Progress[]> {
  let id = -1
  const events: Progress[] = []
  const done = new Promise<Progress[]>((resolve, reject) => {
    const listener = (e: { event: KadEvent }): void => {
      const ev = e.event
      if (ev.type !== 'outboundQueryProgressed' || ev.id !== id) return
      events.push(ev)
      if (ev.step.last) { cleanup(); resolve(events) }
    }
    const timer = setTimeout(() => { cleanup(); reject(new Error(`query ${id} did not finish within ${timeoutMs ?? 20_000} ms`)) }, timeoutMs ?? 20_000)
    const cleanup = (): void => { clearTimeout(timer); swarm.off('behaviour', listener as never) }
    swarm.on('behaviour', listener as never)
  })
  id = start(swarm.behaviour)
  return await done
}

export function last (events: Progress[]): Progress['result'] {
  const e = events[events.length - 1]
  if (e === undefined) throw new Error('no events')
  return e.result
}
