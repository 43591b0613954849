/**
 * A one-shot Swarm for the debugging CLI commands (`ping`, `identify`): picks the transport from
 * the target multiaddr, builds the Swarm with the given behaviour, dials the target and resolves
 * once connected (or rejects with the dial error).
 */
import type { Multiaddr } from '@multiformats/multiaddr'
import type { NetworkBehaviour } from '../core/behaviour.ts'
import { InvalidArgumentError } from '../core/errors.ts'
import type { PrivateKey } from '../identity/types.ts'
import type { PeerId } from '../identity/peer-id.ts'
import { SwarmBuilder } from '../core/swarm/builder.ts'
import type { Swarm } from '../core/swarm/swarm.ts'
import type { TransportFactory } from '../core/transport.ts'
import { CODE_MEMORY, CODE_QUIC_V1, CODE_TCP } from '../utils/multiaddr.ts'

/** The transport registry name for a multiaddr. */
export function transportFor (addr: Multiaddr): string {
  const codes = addr.getComponents().map(c => c.code)
  if (codes.includes(CODE_QUIC_V1)) return 'quic-v1'
  if (codes.includes(CODE_TCP)) return 'tcp'
  if (codes.includes(CODE_MEMORY)) return 'memory'
  throw new InvalidArgumentError(`no transport for ${addr.toString()} (tcp, quic-v1 and memory are supported)`)
}

export interface OneShotOptions {
  /** Use this transport instead of the one picked from the address (tests pass a memory network). */
  transport?: TransportFactory
  timeoutMs: number
}

export async function connectOnce<B extends NetworkBehaviour<any, any>> (target: Multiaddr, behaviour: (key: PrivateKey) => B, options: OneShotOptions): Promise<{ swarm: Swarm<B>, peerId: PeerId }> {
  let builder = SwarmBuilder.withNewIdentity()
  if (options.transport !== undefined) builder = builder.withTransport(options.transport)
  else {
    const name = transportFor(target)
    builder = name === 'tcp' ? builder.withTcp() : name === 'quic-v1' ? builder.withQuic() : builder.withMemory()
  }
  const swarm = await builder.withBehaviour(behaviour).withSwarmConfig({ idleConnectionTimeout: options.timeoutMs * 10 }).build()
  try {
    const peerId = await new Promise<PeerId>((resolve, reject) => {
      const timer = setTimeout(() => { cleanup(); reject(new Error(`could not connect within ${options.timeoutMs} ms`)) }, options.timeoutMs)
      const onEstablished = (e: { peerId: PeerId }): void => { cleanup(); resolve(e.peerId) }
      const onError = (e: { error: Error }): void => { cleanup(); reject(e.error) }
      const cleanup = (): void => {
        clearTimeout(timer)
        swarm.off('connectionEstablished', onEstablished)
        swarm.off('outgoingConnectionError', onError)
      }
      swarm.on('connectionEstablished', onEstablished)
      swarm.on('outgoingConnectionError', onError)
      try {
        swarm.dial(target)
      } catch (err) {
        cleanup()
        reject(err)
      }
    })
    return { swarm, peerId }
  } catch (err) {
    await swarm.close()
    throw err
  }
}
