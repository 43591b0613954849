/**
 * `libp2p-native node`: runs a Kademlia DHT server node until SIGINT/SIGTERM. Its identity key
 * (`identity.key`) and its records and provider entries (`kad-store.mdb`, lmdb) live in the data
 * directory, so a restart keeps its peer id and what it stored (records expire on time).
 * Prints JSON lines: one `listening` line (peer id and addresses), then routing-table changes,
 * mode switches and, unless `--quiet`, inbound requests; `stopped` at the end.
 *
 *   libp2p-native node --data-dir ./dht-node --listen /ip4/0.0.0.0/tcp/4001 [--bootstrap <addr/p2p/id>]…
 *
 * Options: --mode server|client|auto|auto-server (default server: this command is for reachable
 * nodes), --lan, --protocol-prefix /name, --accept-unknown-namespaces (store records under any
 * key, as rust-libp2p does; by default only namespaces with a validator, `/pk/`, as Go), --quiet,
 * --store lmdb|journal|level (default lmdb, chosen in bench/kad/store.md). Exit code 0 after a clean stop, 1 on a start
 * failure, 2 on bad usage.
 */
import { parseArgs } from 'node:util'
import { join } from 'node:path'
import { mkdirSync } from 'node:fs'
import type { Multiaddr } from '@multiformats/multiaddr'
import { InvalidArgumentError } from '../core/errors.ts'
import type { TransportFactory } from '../core/transport.ts'
import { SwarmBuilder } from '../core/swarm/builder.ts'
import { combine } from '../core/combine.ts'
import { loadOrCreateKeyFile, peerIdFromPrivateKey } from '../identity/index.ts'
import { IdentifyBehaviour } from '../protocols/identify/index.ts'
import { PingBehaviour } from '../protocols/ping/index.ts'
import { Kademlia } from '../protocols/kad/behaviour.ts'
import { createKadConfig, type KadConfig, type KadMode } from '../protocols/kad/config.ts'
import type { RecordStore } from '../protocols/kad/store/types.ts'
import { DEFAULT_PERSISTENT_STORE, PERSISTENT_STORE_KINDS, openPersistentStore, type PersistentStoreKind } from '../protocols/kad/store/persistent.ts'
import type { KadEvent } from '../protocols/kad/types.ts'
import { parseMultiaddr, splitPeerId } from '../utils/multiaddr.ts'
import { transportFor } from './swarm-node.ts'

export const USAGE = `usage: libp2p-native node --data-dir DIR [--listen MULTIADDR]… [--bootstrap MULTIADDR/p2p/ID]…
       [--mode server|client|auto|auto-server] [--lan] [--protocol-prefix /name] [--accept-unknown-namespaces] [--quiet]
       [--kad-config JSON]   any KadConfig fields, e.g. '{"replicationInterval":60000}' (docs/kad-parameters.md)
       [--store lmdb|journal|level]   the record store in DIR (default lmdb)
`
/** Kubo's default swarm address: all interfaces, TCP 4001. */
export const DEFAULT_LISTEN = '/ip4/0.0.0.0/tcp/4001'
export const IDENTITY_FILE = 'identity.key'

export interface CliIO { stdout: { write: (s: string) => unknown }, stderr: { write: (s: string) => unknown } }
const processIO: CliIO = { stdout: process.stdout, stderr: process.stderr }

export interface NodeOptions {
  /** Use this transport instead of the one picked from the listen address (tests). */
  transport?: TransportFactory
  /** Stops the node (tests); otherwise SIGINT/SIGTERM do. */
  signal?: AbortSignal
  /** Called once the node listens (tests). */
  onReady?: (info: { peerId: string, addrs: string[] }) => void
}

export async function main (argv: string[], io: CliIO = processIO, options: NodeOptions = {}): Promise<number> {
  let dataDir: string, listen: Multiaddr[], bootstrap: Multiaddr[], quiet: boolean, acceptUnknownNamespaces: boolean
  let storeKind: PersistentStoreKind = DEFAULT_PERSISTENT_STORE
  const config: Partial<KadConfig> = { mode: 'server' }
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: {
        'data-dir': { type: 'string', short: 'd' },
        listen: { type: 'string', short: 'l', multiple: true },
        bootstrap: { type: 'string', short: 'b', multiple: true },
        mode: { type: 'string' },
        lan: { type: 'boolean' },
        'protocol-prefix': { type: 'string' },
        quiet: { type: 'boolean' },
        'accept-unknown-namespaces': { type: 'boolean' },
        'kad-config': { type: 'string' },
        store: { type: 'string' },
        help: { type: 'boolean', short: 'h' }
      },
      allowPositionals: false,
      strict: true
    })
    void positionals
    if (values.help === true) { io.stdout.write(USAGE); return 0 }
    if (values['data-dir'] === undefined) throw new InvalidArgumentError('--data-dir is required')
    dataDir = values['data-dir']
    listen = (values.listen ?? [DEFAULT_LISTEN]).map(parseMultiaddr)
    bootstrap = (values.bootstrap ?? []).map(parseMultiaddr)
    for (const b of bootstrap) if (splitPeerId(b).peerId === undefined) throw new InvalidArgumentError(`bootstrap address needs /p2p/<peer-id>: ${b.toString()}`)
    if (values.mode !== undefined) {
      if (!['server', 'client', 'auto', 'auto-server'].includes(values.mode)) throw new InvalidArgumentError(`--mode must be server, client, auto or auto-server, got "${values.mode}"`)
      config.mode = values.mode as KadMode
    }
    if (values.lan === true) config.protocolExtension = '/lan'
    if (values['protocol-prefix'] !== undefined) config.protocolPrefix = values['protocol-prefix']
    quiet = values.quiet === true
    if (values['kad-config'] !== undefined) {
      let extra: unknown
      try { extra = JSON.parse(values['kad-config']) } catch { throw new InvalidArgumentError('--kad-config must be a JSON object') }
      if (extra === null || typeof extra !== 'object' || Array.isArray(extra)) throw new InvalidArgumentError('--kad-config must be a JSON object')
      Object.assign(config, extra)
    }
    // Validate now, so a bad combination is a usage error with the validator's message.
    createKadConfig(config)
    acceptUnknownNamespaces = values['accept-unknown-namespaces'] === true
    if (values.store !== undefined) {
      if (!(PERSISTENT_STORE_KINDS as readonly string[]).includes(values.store)) throw new InvalidArgumentError(`--store must be ${PERSISTENT_STORE_KINDS.join(', ')}, got "${values.store}"`)
      storeKind = values.store as PersistentStoreKind
    }
  } catch (err) {
    io.stderr.write(`libp2p-native node: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  const print = (o: unknown): void => { io.stdout.write(`${JSON.stringify(o)}\n`) }

  let swarm
  let kad: Kademlia | undefined
  let store: RecordStore | undefined
  try {
    mkdirSync(dataDir, { recursive: true })
    const key = await loadOrCreateKeyFile(join(dataDir, IDENTITY_FILE))
    // lmdb and the journal open synchronously inside Kademlia; classic-level only asynchronously.
    if (storeKind === 'level') store = await openPersistentStore(dataDir, { kind: 'level' })
    let builder = SwarmBuilder.withExistingIdentity(key)
    if (options.transport !== undefined) builder = builder.withTransport(options.transport)
    else {
      for (const name of new Set(listen.map(transportFor))) builder = name === 'tcp' ? builder.withTcp() : name === 'quic-v1' ? builder.withQuic() : builder.withMemory()
    }
    swarm = await builder.withBehaviour(k => combine({
      identify: new IdentifyBehaviour({ privateKey: k }),
      ping: new PingBehaviour({ intervalMs: 60_000 }),
      kad: new Kademlia({ peerId: peerIdFromPrivateKey(k), config, dataDir, store, storeKind: storeKind === 'level' ? undefined : storeKind, acceptUnknownNamespaces })
    })).withSwarmConfig({ idleConnectionTimeout: 60_000 }).build()
    kad = swarm.behaviour.members.kad
    for (const addr of listen) await swarm.listen(addr)
  } catch (err) {
    io.stderr.write(`libp2p-native node: ${(err as Error).message}\n`)
    await swarm?.close()
    await (kad?.store ?? store)?.close()
    return 1
  }
  const peerId = swarm.localPeerId.toString()
  const addrs = swarm.listenAddresses().map(a => `${a.toString()}/p2p/${peerId}`)
  print({ type: 'listening', peerId, addrs, mode: kad.mode, protocols: kad.protocolIds, stored: kad.store.stats() })
  options.onReady?.({ peerId, addrs })

  swarm.on('behaviour', (e) => {
    if (e.event.behaviour !== 'kad') return
    const ev: KadEvent = e.event.event
    switch (ev.type) {
      case 'routingUpdated': print({ type: 'routingUpdated', peer: ev.peer.toString(), bucket: ev.bucket, evicted: ev.evicted?.toString(), tableSize: kad?.table.size }); return
      case 'modeChanged': print({ type: 'modeChanged', mode: ev.mode }); return
      case 'unroutablePeer': print({ type: 'unroutablePeer', peer: ev.peer.toString(), reason: ev.reason }); return
      case 'inboundRequest': if (!quiet) print({ type: 'inboundRequest', peer: ev.peer.toString(), request: ev.request.type }); return
      case 'outboundQueryProgressed':
        if (ev.step.last && ev.result.type === 'bootstrap') print({ type: 'bootstrapped', id: ev.id, tableSize: kad?.table.size, error: ev.result.error })
    }
  })
  for (const b of bootstrap) {
    const { addr, peerId: id } = splitPeerId(b)
    if (id !== undefined) kad.addAddress(id, addr)
  }
  if (bootstrap.length > 0) kad.bootstrap()

  await new Promise<void>(resolve => {
    const stop = (): void => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      options.signal?.removeEventListener('abort', stop)
      resolve()
    }
    if (options.signal !== undefined) {
      if (options.signal.aborted) { resolve(); return }
      options.signal.addEventListener('abort', stop)
    } else {
      process.on('SIGINT', stop)
      process.on('SIGTERM', stop)
    }
  })
  await swarm.close()
  await kad.store.close()
  print({ type: 'stopped', peerId })
  return 0
}
