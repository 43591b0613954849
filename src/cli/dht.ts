/**
 * `libp2p-native dht <operation> …`: one Kademlia operation against a DHT reached through the
 * given bootstrap peers, printed as JSON lines (progress lines, then one `"type":"result"` line),
 * for people and scripts:
 *
 *   libp2p-native dht find-peer <peer-id> --bootstrap <multiaddr/p2p/…>
 *   libp2p-native dht closest-peers <key>
 *   libp2p-native dht get <key> [--quorum N]
 *   libp2p-native dht put <key> <value> [--quorum N]
 *   libp2p-native dht provide <cid|key>
 *   libp2p-native dht find-providers <cid|key> [--count N]
 *
 * Keys are UTF-8 text, or hex with `--hex`; a CID given to provide/find-providers is reduced to its
 * multihash (what the wire carries). The node runs in client mode (it answers nothing), with
 * identify and ping so servers accept it; `--lan` or `--protocol-prefix` pick the overlay.
 * Exit code: 0 success, 1 the operation failed or found nothing, 2 bad usage.
 */
import { parseArgs } from 'node:util'
import { CID } from 'multiformats/cid'
import type { Multiaddr } from '@multiformats/multiaddr'
import { InvalidArgumentError } from '../core/errors.ts'
import type { TransportFactory } from '../core/transport.ts'
import { SwarmBuilder } from '../core/swarm/builder.ts'
import { combine } from '../core/combine.ts'
import { PeerId } from '../identity/peer-id.ts'
import { peerIdFromPrivateKey } from '../identity/index.ts'
import { IdentifyBehaviour } from '../protocols/identify/index.ts'
import { PingBehaviour } from '../protocols/ping/index.ts'
import { Kademlia } from '../protocols/kad/behaviour.ts'
import type { KadConfig } from '../protocols/kad/config.ts'
import type { KadEvent, PeerInfo, QueryId } from '../protocols/kad/types.ts'
import { parseMultiaddr, splitPeerId } from '../utils/multiaddr.ts'
import { transportFor } from './swarm-node.ts'

export const USAGE = `usage: libp2p-native dht <operation> <args> --bootstrap <multiaddr/p2p/id> [--bootstrap …]
operations:
  find-peer <peer-id>             closest-peers <key>
  get <key> [--quorum N]          put <key> <value> [--quorum N]
  provide <cid|key>               find-providers <cid|key> [--count N]
options: --hex (keys are hex)  --timeout ms (default 60000)  --lan  --protocol-prefix /name
`
/** Whole-operation deadline: Rust's query timeout (60 s), which the query itself also uses. */
export const DEFAULT_TIMEOUT_MS = 60_000

export interface CliIO { stdout: { write: (s: string) => unknown }, stderr: { write: (s: string) => unknown } }
const processIO: CliIO = { stdout: process.stdout, stderr: process.stderr }

const OPERATIONS = ['find-peer', 'closest-peers', 'get', 'put', 'provide', 'find-providers'] as const
type Operation = typeof OPERATIONS[number]
const ARITY: Record<Operation, number> = { 'find-peer': 1, 'closest-peers': 1, get: 1, put: 2, provide: 1, 'find-providers': 1 }

function positiveInt (name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new InvalidArgumentError(`--${name} must be a positive integer, got "${text}"`)
  return Number(text)
}

function keyBytes (text: string, hex: boolean): Uint8Array {
  if (!hex) return new TextEncoder().encode(text)
  if (!/^([0-9a-fA-F]{2})+$/.test(text)) throw new InvalidArgumentError(`not hex: ${text}`)
  return Uint8Array.from(Buffer.from(text, 'hex'))
}

/** A CID's multihash, or the key as text/hex. */
function contentKey (text: string, hex: boolean): Uint8Array {
  if (!hex) {
    try { return CID.parse(text).multihash.bytes } catch { /* not a CID */ }
  }
  return keyBytes(text, hex)
}

function bytesJson (b: Uint8Array): { utf8?: string, base64: string } {
  const s = Buffer.from(b).toString('utf8')
  const printable = /^[\x20-\x7e]*$/.test(s)
  return printable ? { utf8: s, base64: Buffer.from(b).toString('base64') } : { base64: Buffer.from(b).toString('base64') }
}

function peerJson (p: PeerInfo): { peer: string, addrs: string[] } {
  return { peer: p.peer.toString(), addrs: p.addrs.map(a => a.toString()) }
}

export interface DhtOptions {
  /** Use this transport instead of the one picked from the bootstrap address (tests). */
  transport?: TransportFactory
}

export async function main (argv: string[], io: CliIO = processIO, options: DhtOptions = {}): Promise<number> {
  let op: Operation, args: string[], bootstrap: Multiaddr[], quorum: number, count: number | undefined, timeout: number, hex: boolean
  const kadConfig: Partial<KadConfig> = { mode: 'client', autoRefresh: false }
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: {
        bootstrap: { type: 'string', short: 'b', multiple: true },
        quorum: { type: 'string', short: 'q' },
        count: { type: 'string', short: 'n' },
        timeout: { type: 'string' },
        hex: { type: 'boolean' },
        lan: { type: 'boolean' },
        'protocol-prefix': { type: 'string' },
        help: { type: 'boolean', short: 'h' }
      },
      allowPositionals: true,
      strict: true
    })
    if (values.help === true) { io.stdout.write(USAGE); return 0 }
    const [name, ...rest] = positionals
    if (name === undefined || !(OPERATIONS as readonly string[]).includes(name)) throw new InvalidArgumentError(`unknown operation "${name ?? ''}"`)
    op = name as Operation
    if (rest.length !== ARITY[op]) throw new InvalidArgumentError(`${op} takes ${ARITY[op]} argument(s)`)
    args = rest
    bootstrap = (values.bootstrap ?? []).map(parseMultiaddr)
    if (bootstrap.length === 0) throw new InvalidArgumentError('at least one --bootstrap address is required')
    for (const b of bootstrap) if (splitPeerId(b).peerId === undefined) throw new InvalidArgumentError(`bootstrap address needs /p2p/<peer-id>: ${b.toString()}`)
    quorum = positiveInt('quorum', values.quorum, 1)
    count = values.count === undefined ? undefined : positiveInt('count', values.count, 1)
    timeout = positiveInt('timeout', values.timeout, DEFAULT_TIMEOUT_MS)
    hex = values.hex === true
    if (values.lan === true) kadConfig.protocolExtension = '/lan'
    if (values['protocol-prefix'] !== undefined) kadConfig.protocolPrefix = values['protocol-prefix']
    if (op === 'find-peer') PeerId.parse(args[0] as string)
  } catch (err) {
    io.stderr.write(`libp2p-native dht: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  kadConfig.queryTimeout = timeout

  let builder = SwarmBuilder.withNewIdentity()
  if (options.transport !== undefined) builder = builder.withTransport(options.transport)
  else {
    const name = transportFor(bootstrap[0] as Multiaddr)
    builder = name === 'tcp' ? builder.withTcp() : name === 'quic-v1' ? builder.withQuic() : builder.withMemory()
  }
  let swarm
  try {
    swarm = await builder.withBehaviour(key => combine({
      identify: new IdentifyBehaviour({ privateKey: key }),
      ping: new PingBehaviour({ intervalMs: 60_000 }),
      // The CLI node stores nothing for others; the servers' validators decide what they accept.
      kad: new Kademlia({ peerId: peerIdFromPrivateKey(key), config: kadConfig, acceptUnknownNamespaces: true })
    })).withSwarmConfig({ idleConnectionTimeout: timeout }).build()
  } catch (err) {
    io.stderr.write(`libp2p-native dht: ${(err as Error).message}\n`)
    return 1
  }
  const kad = swarm.behaviour.members.kad
  for (const b of bootstrap) {
    const { addr, peerId } = splitPeerId(b)
    if (peerId !== undefined) kad.addAddress(peerId, addr)
  }
  const print = (o: unknown): void => { io.stdout.write(`${JSON.stringify(o)}\n`) }
  try {
    const start = (k: Kademlia): QueryId => {
      const a0 = args[0] as string
      switch (op) {
        case 'find-peer': return k.getClosestPeers(PeerId.parse(a0))
        case 'closest-peers': return k.getClosestPeers(keyBytes(a0, hex))
        case 'get': return k.getRecord(keyBytes(a0, hex), { quorum })
        case 'put': return k.putRecord({ key: keyBytes(a0, hex), value: new TextEncoder().encode(args[1] as string) }, { quorum })
        case 'provide': return k.startProviding(contentKey(a0, hex))
        case 'find-providers': return k.getProviders(contentKey(a0, hex), count === undefined ? {} : { count })
      }
    }
    const events = await runQuery(swarm, kad, start, timeout + 5_000, e => {
      const r = e.result
      if (r.type === 'getRecord' && r.found !== undefined) print({ type: 'progress', id: e.id, found: { peer: r.found.peer?.toString() ?? 'local', value: bytesJson(r.found.record.value) } })
      if (r.type === 'getProviders' && r.providers.length > 0) print({ type: 'progress', id: e.id, providers: r.providers.map(peerJson) })
    })
    const lastEvent = events[events.length - 1] as Extract<KadEvent, { type: 'outboundQueryProgressed' }>
    const r = lastEvent.result
    const stats = { requests: lastEvent.stats.requests, failed: lastEvent.stats.failed, hops: lastEvent.stats.hops, ms: Math.round((lastEvent.stats.end ?? lastEvent.stats.start) - lastEvent.stats.start) }
    let ok = r.error === undefined
    const out: Record<string, unknown> = { type: 'result', operation: op, id: lastEvent.id, self: swarm.localPeerId.toString(), ...(r.error !== undefined ? { error: r.error } : {}), stats }
    switch (r.type) {
      case 'getClosestPeers': {
        if (op === 'find-peer') {
          const target = PeerId.parse(args[0] as string)
          const found = r.peers.find(p => p.peer.equals(target))
          ok = found !== undefined
          out.peer = found === undefined ? null : peerJson(found)
          if (!ok) out.error ??= 'notFound'
        } else {
          out.peers = r.peers.map(peerJson)
        }
        break
      }
      case 'getRecord': out.count = r.count; if (r.best !== undefined) out.value = bytesJson(r.best.value); break
      case 'putRecord': out.success = r.success; break
      case 'startProviding': out.success = r.success; break
      case 'getProviders': {
        const all = events.flatMap(e => e.result.type === 'getProviders' ? e.result.providers : [])
        out.providers = all.map(peerJson)
        ok = ok && all.length > 0
        if (all.length === 0) out.error ??= 'notFound'
        break
      }
      default:
    }
    print(out)
    return ok ? 0 : 1
  } catch (err) {
    io.stderr.write(`libp2p-native dht: ${(err as Error).message}\n`)
    return 1
  } finally {
    await swarm.close()
  }
}

async function runQuery (
  swarm: { on: (t: string, l: (e: any) => void) => unknown, off: (t: string, l: (e: any) => void) => unknown },
  kad: Kademlia,
  start: (k: Kademlia) => QueryId,
  timeoutMs: number,
  onProgress: (e: Extract<KadEvent, { type: 'outboundQueryProgressed' }>) => void
): Promise<Array<Extract<KadEvent, { type: 'outboundQueryProgressed' }>>> {
  let id = -1
  const events: Array<Extract<KadEvent, { type: 'outboundQueryProgressed' }>> = []
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { swarm.off('behaviour', listener); reject(new Error(`no result within ${timeoutMs} ms`)) }, timeoutMs)
    const listener = (e: { event: { behaviour: string, event: KadEvent } }): void => {
      const ev = e.event.event
      if (e.event.behaviour !== 'kad' || ev.type !== 'outboundQueryProgressed' || ev.id !== id) return
      events.push(ev)
      if (!ev.step.last) { onProgress(ev); return }
      onProgress(ev)
      clearTimeout(timer)
      swarm.off('behaviour', listener)
      resolve(events)
    }
    swarm.on('behaviour', listener)
    try {
      id = start(kad)
    } catch (err) {
      clearTimeout(timer)
      swarm.off('behaviour', listener)
      reject(err)
    }
  })
}
