/**
 * Swarm test helpers: N swarms over one isolated in-memory network, connecting them, and waiting
 * for an event with a timeout (so a missing event fails the test instead of hanging it).
 */
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { generateKeyPair, peerIdFromPrivateKey, type PrivateKey } from '../../src/identity/index.ts'
import type { NetworkBehaviour, BehaviourEvent } from '../../src/core/behaviour.ts'
import { Swarm, type SwarmConfig } from '../../src/core/swarm/swarm.ts'
import type { SwarmEvent } from '../../src/core/swarm/events.ts'
import { memory, MemoryNetwork } from '../../src/transports/memory/index.ts'

let nextName = 0

export interface TestSwarmOptions {
  config?: SwarmConfig
  network?: MemoryNetwork
  /** Listen on a fresh /memory/ address (default true). */
  listen?: boolean
}

/** `behaviour` may be a function of the swarm's key (identify needs it). */
export async function createSwarm<B extends NetworkBehaviour<any, any>> (behaviour: B | ((key: PrivateKey) => B), options: TestSwarmOptions = {}): Promise<Swarm<B>> {
  const privateKey = generateKeyPair()
  const swarm = new Swarm({
    privateKey,
    peerId: peerIdFromPrivateKey(privateKey),
    transports: [memory({ network: options.network ?? new MemoryNetwork() })],
    behaviour: typeof behaviour === 'function' ? behaviour(privateKey) : behaviour,
    config: options.config
  })
  if (options.listen !== false) await swarm.listen(multiaddr(`/memory/swarm-test-${process.pid}-${nextName++}`))
  return swarm
}

/** N swarms on one network; `make(i)` builds the i-th behaviour. */
export async function createSwarms<B extends NetworkBehaviour<any, any>> (n: number, make: (i: number, key: PrivateKey) => B, options: Omit<TestSwarmOptions, 'network'> = {}): Promise<Array<Swarm<B>>> {
  const network = new MemoryNetwork()
  const out: Array<Swarm<B>> = []
  for (let i = 0; i < n; i++) out.push(await createSwarm((key: PrivateKey) => make(i, key), { ...options, network }))
  return out
}

/** Resolves with the first event matching `predicate`; rejects after `timeoutMs`. */
export async function waitForEvent<B extends NetworkBehaviour<any, any>> (
  swarm: Swarm<B>,
  predicate: (event: SwarmEvent<BehaviourEvent<B>>) => boolean,
  timeoutMs = 5000
): Promise<SwarmEvent<BehaviourEvent<B>>> {
  return await new Promise((resolve, reject) => {
    const listener = (event: SwarmEvent<BehaviourEvent<B>>): void => {
      let matched = false
      try { matched = predicate(event) } catch (err) { cleanup(); reject(err); return }
      if (!matched) return
      cleanup()
      resolve(event)
    }
    const timer = setTimeout(() => { cleanup(); reject(new Error(`no matching swarm event within ${timeoutMs} ms`)) }, timeoutMs)
    const cleanup = (): void => { clearTimeout(timer); swarm.off('*', listener) }
    swarm.on('*', listener)
  })
}

/** Waits for an event of one type (and optional predicate). */
export async function waitFor<B extends NetworkBehaviour<any, any>, T extends SwarmEvent['type']> (
  swarm: Swarm<B>, type: T, predicate: (event: Extract<SwarmEvent<BehaviourEvent<B>>, { type: T }>) => boolean = () => true, timeoutMs = 5000
): Promise<Extract<SwarmEvent<BehaviourEvent<B>>, { type: T }>> {
  return await waitForEvent(swarm, e => e.type === type && predicate(e as Extract<SwarmEvent<BehaviourEvent<B>>, { type: T }>), timeoutMs) as Extract<SwarmEvent<BehaviourEvent<B>>, { type: T }>
}

/** The address to dial a swarm at, with `/p2p/`. */
export function addressOf (swarm: Swarm<any>): Multiaddr {
  const addr = swarm.listenAddresses()[0]
  if (addr === undefined) throw new Error('swarm is not listening')
  return addr.encapsulate(`/p2p/${swarm.localPeerId.toString()}`)
}

/** Dials b from a and waits until both sides report the connection. */
export async function connect (a: Swarm<any>, b: Swarm<any>, timeoutMs = 5000): Promise<void> {
  const onA = waitFor(a, 'connectionEstablished', e => e.peerId.equals(b.localPeerId), timeoutMs)
  const onB = waitFor(b, 'connectionEstablished', e => e.peerId.equals(a.localPeerId), timeoutMs)
  a.dial(addressOf(b))
  await Promise.all([onA, onB])
}

export async function closeAll (swarms: ReadonlyArray<Swarm<any>>): Promise<void> {
  await Promise.all(swarms.map(async s => { await s.close() }))
}
