/**
 * SwarmBuilder, in the spirit of rust-libp2p's: identity, transports, behaviour, options, build.
 *
 *   const swarm = await SwarmBuilder.withNewIdentity()
 *     .withTcp()
 *     .withQuic()
 *     .withBehaviour(key => combine({ ping: new PingBehaviour(), identify: new IdentifyBehaviour({ privateKey: key }) }))
 *     .withSwarmConfig({ idleConnectionTimeout: 60_000 })
 *     .build()
 *
 * Native transports are imported lazily at `build()` (through the CLI's transport registry), so
 * a program that only uses the memory transport never loads the native addon, and a transport not
 * in this build fails at `build()` with TransportUnavailableError.
 */
import { generateKeyPair, peerIdFromPrivateKey } from '../../identity/index.ts'
import type { PrivateKey } from '../../identity/types.ts'
import type { NetworkBehaviour } from '../behaviour.ts'
import { InvalidArgumentError } from '../errors.ts'
import type { Transport, TransportFactory } from '../transport.ts'
import { loadTransport } from '../../cli/transports.ts'
import { Swarm, type SwarmConfig } from './swarm.ts'

type TransportSpec =
  | { kind: 'lazy', name: string, options: Record<string, unknown> }
  | { kind: 'ready', transport: Transport | TransportFactory }

export class SwarmBuilder<B extends NetworkBehaviour<any, any> | undefined = undefined> {
  private readonly key: PrivateKey
  private readonly transports: TransportSpec[]
  private readonly behaviour: B | ((key: PrivateKey) => NonNullable<B>) | undefined
  private readonly config: SwarmConfig

  private constructor (key: PrivateKey, transports: TransportSpec[], behaviour: B | ((key: PrivateKey) => NonNullable<B>) | undefined, config: SwarmConfig) {
    this.key = key
    this.transports = transports
    this.behaviour = behaviour
    this.config = config
  }

  /** A fresh Ed25519 identity. */
  static withNewIdentity (): SwarmBuilder {
    return new SwarmBuilder(generateKeyPair(), [], undefined, {})
  }

  /** An existing key (e.g. from `loadOrCreateKeyFile`). */
  static withExistingIdentity (privateKey: PrivateKey): SwarmBuilder {
    return new SwarmBuilder(privateKey, [], undefined, {})
  }

  get privateKey (): PrivateKey { return this.key }
  get peerId (): ReturnType<typeof peerIdFromPrivateKey> { return peerIdFromPrivateKey(this.key) }

  /** TCP + Noise + Yamux over the native core (src/transports/tcp). */
  withTcp (options: Record<string, unknown> = {}): SwarmBuilder<B> {
    return this.with({ kind: 'lazy', name: 'tcp', options })
  }

  /** QUIC v1 over the native core (src/transports/quic), when present in this build. */
  withQuic (options: Record<string, unknown> = {}): SwarmBuilder<B> {
    return this.with({ kind: 'lazy', name: 'quic-v1', options })
  }

  /** The in-memory transport (tests, examples in one process). */
  withMemory (options: Record<string, unknown> = {}): SwarmBuilder<B> {
    return this.with({ kind: 'lazy', name: 'memory', options })
  }

  /** Any transport, e.g. a user's own. */
  withTransport (transport: Transport | TransportFactory): SwarmBuilder<B> {
    return this.with({ kind: 'ready', transport })
  }

  /** The behaviour, or a function of the node's key that builds it (identify needs the key). */
  withBehaviour<NB extends NetworkBehaviour<any, any>> (behaviour: NB | ((key: PrivateKey) => NB)): SwarmBuilder<NB> {
    return new SwarmBuilder<NB>(this.key, this.transports, behaviour, this.config)
  }

  withSwarmConfig (config: SwarmConfig): SwarmBuilder<B> {
    return new SwarmBuilder<B>(this.key, this.transports, this.behaviour, { ...this.config, ...config })
  }

  async build (this: SwarmBuilder<NetworkBehaviour<any, any>>): Promise<Swarm<NonNullable<B>>> {
    if (this.behaviour === undefined) throw new InvalidArgumentError('SwarmBuilder: withBehaviour() is required')
    if (this.transports.length === 0) throw new InvalidArgumentError('SwarmBuilder: add at least one transport')
    const transports: Array<Transport | TransportFactory> = []
    for (const spec of this.transports) {
      transports.push(spec.kind === 'ready' ? spec.transport : await loadTransport(spec.name, spec.options))
    }
    const behaviour = typeof this.behaviour === 'function' ? this.behaviour(this.key) : this.behaviour
    return new Swarm({
      privateKey: this.key,
      peerId: peerIdFromPrivateKey(this.key),
      transports,
      behaviour: behaviour as NonNullable<B>,
      config: this.config
    }) as Swarm<NonNullable<B>>
  }

  private with (spec: TransportSpec): SwarmBuilder<B> {
    return new SwarmBuilder<B>(this.key, [...this.transports, spec], this.behaviour, this.config)
  }
}
