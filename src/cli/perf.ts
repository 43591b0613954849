/**
 * `libp2p-native perf`: the perf binary contract of libp2p's test-plans.
 *
 *   server: libp2p-native perf --run-server [--server-address <listen addr>] [--transport tcp|quic-v1|memory]
 *                              [--metrics <host:port>]
 *   client: libp2p-native perf --server-address <ip:port|[ip6]:port|multiaddr> --transport tcp
 *                              --upload-bytes N --download-bytes N
 *
 * The server prints its listen multiaddrs (with /p2p/) on stdout, one a line, when ready, and
 * serves /perf/1.0.0 and /ipfs/ping/1.0.0 until SIGINT/SIGTERM. The client prints JSON lines on
 * stdout (one "intermediary" report a second, then a "final" one), logs on stderr, and, when
 * stdout is a terminal, a live progress line on stderr.
 *
 * It uses bare connections (transport + protocol table + stream handlers), no Swarm, so its
 * figures are the transport's. `--transport memory` runs against an in-process server on the
 * process-wide memory network (started on demand), to measure the stack without a network.
 *
 * `--metrics <host:port>` serves GET /metrics (OpenMetrics, src/metrics) on the server: connection
 * counts, upgrade durations, bytes by transport and, over TCP, by protocol from the native
 * counters, under the same names as a Swarm's, so docs/grafana/libp2p-native.json charts both.
 * The metrics URL is logged on stderr; stdout keeps only the listen addresses.
 */
import { parseArgs } from 'node:util'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Connection, Listener, Transport, TransportContext } from '../core/transport.ts'
import { InvalidArgumentError } from '../core/errors.ts'
import { generateKeyPair, loadOrCreateKeyFile, peerIdFromPrivateKey, type PrivateKey } from '../identity/index.ts'
import { logger } from '../log/index.ts'
import { parseMultiaddr, parseServerAddress, withPeerId, type IpTransport } from '../utils/multiaddr.ts'
import { StaticProtocolTable } from '../utils/protocol-table.ts'
import { PERF_PROTOCOL } from '../protocols/perf/constants.ts'
import { handlePerfStream, runPerf, type PerfReport, type PerfTotals } from '../protocols/perf/protocol.ts'
import { PING_PROTOCOL } from '../protocols/ping/constants.ts'
import { handlePingStream } from '../protocols/ping/protocol.ts'
import { loadTransport } from './transports.ts'
import { Registry, type RegistryContentType } from 'prom-client'
import { ConnectionMetrics } from '../metrics/swarm.ts'
import { parseMetricsAddress, serveMetrics, type MetricsServer } from '../metrics/http.ts'

const log = logger('cli:perf')

export const USAGE = `usage:
  libp2p-native perf --run-server [--server-address <addr>] [--transport tcp|quic-v1|memory] [--key-file <path>]
                     [--metrics <host:port>]
  libp2p-native perf --server-address <ip:port|[ip6]:port|multiaddr> [--transport tcp|quic-v1|memory]
                     --upload-bytes <N> --download-bytes <N>
`

/** Where a server listens when --server-address is not given. */
export const DEFAULT_LISTEN: Readonly<Record<string, string>> = {
  tcp: '/ip4/127.0.0.1/tcp/0',
  'quic-v1': '/ip4/127.0.0.1/udp/0/quic-v1',
  memory: '/memory/perf'
}

export interface PerfCliOptions {
  runServer: boolean
  serverAddress: string | undefined
  transport: string
  uploadBytes: number
  downloadBytes: number
  keyFile: string | undefined
  /** Server only: where to serve GET /metrics (absent: no metrics endpoint). */
  metrics?: { host: string, port: number }
}

export interface CliIO {
  stdout: { write: (s: string) => unknown }
  stderr: { write: (s: string) => unknown }
  /** Show the live progress line (stdout is a terminal). */
  live: boolean
}

function parseCount (name: string, text: string | undefined): number {
  if (text === undefined) return 0
  if (!/^\d+$/.test(text)) throw new InvalidArgumentError(`--${name} must be a non-negative integer, got "${text}"`)
  const n = Number(text)
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`--${name} is too large (max ${Number.MAX_SAFE_INTEGER})`)
  return n
}

export function parsePerfArgs (argv: string[]): PerfCliOptions {
  let values
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'run-server': { type: 'boolean', default: false },
        'server-address': { type: 'string' },
        transport: { type: 'string', default: 'tcp' },
        'upload-bytes': { type: 'string' },
        'download-bytes': { type: 'string' },
        'key-file': { type: 'string' },
        metrics: { type: 'string' }
      },
      strict: true,
      allowPositionals: false
    }))
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message)
  }
  const opts: PerfCliOptions = {
    runServer: values['run-server'] === true,
    serverAddress: values['server-address'],
    transport: values.transport ?? 'tcp',
    uploadBytes: parseCount('upload-bytes', values['upload-bytes']),
    downloadBytes: parseCount('download-bytes', values['download-bytes']),
    keyFile: values['key-file'],
    ...(values.metrics !== undefined ? { metrics: parseMetricsAddress(values.metrics) } : {})
  }
  if (opts.metrics !== undefined && !opts.runServer) throw new InvalidArgumentError('--metrics is a server option (with --run-server)')
  if (!opts.runServer && opts.serverAddress === undefined && opts.transport !== 'memory') {
    throw new InvalidArgumentError('a client needs --server-address')
  }
  return opts
}

function addressFor (opts: PerfCliOptions): { addr: Multiaddr, peerId: ReturnType<typeof parseServerAddress>['peerId'] } {
  const text = opts.serverAddress ?? DEFAULT_LISTEN[opts.transport]
  if (text === undefined) throw new InvalidArgumentError(`no default address for transport "${opts.transport}"`)
  if (opts.transport === 'memory' && !text.startsWith('/')) throw new InvalidArgumentError('the memory transport needs a /memory/<name> address')
  const ipTransport: IpTransport = opts.transport === 'quic-v1' ? 'quic-v1' : 'tcp'
  return parseServerAddress(text, ipTransport)
}

async function makeNode (opts: PerfCliOptions, key?: PrivateKey): Promise<{ transport: Transport, context: TransportContext }> {
  const privateKey = key ?? (opts.keyFile !== undefined ? await loadOrCreateKeyFile(opts.keyFile) : generateKeyPair('Ed25519'))
  const context: TransportContext = {
    privateKey,
    peerId: peerIdFromPrivateKey(privateKey),
    protocols: new StaticProtocolTable(opts.runServer ? [PERF_PROTOCOL, PING_PROTOCOL] : [])
  }
  const factory = await loadTransport(opts.transport)
  return { transport: factory(context), context }
}

function serve (connection: Connection): void {
  connection.on('stream', (stream) => {
    const done = stream.protocol === PERF_PROTOCOL ? handlePerfStream(stream) : stream.protocol === PING_PROTOCOL ? handlePingStream(stream) : undefined
    if (done === undefined) {
      stream.reset()
      return
    }
    done.then(
      (r) => { if (r !== undefined && log.enabled.debug) log.debug('perf stream done', { ...r, peer: connection.remotePeer.toString() }) },
      (err) => { log.warn('stream failed', { protocol: stream.protocol, peer: connection.remotePeer.toString(), err }) }
    )
  })
}

export interface PerfServer {
  /** Listen addresses with /p2p/. */
  addrs: Multiaddr[]
  /** `http://host:port/metrics` when started with `--metrics`. */
  metricsUrl?: string
  close: () => Promise<void>
}

export async function runServer (opts: PerfCliOptions, io: CliIO): Promise<PerfServer> {
  const { transport, context } = await makeNode({ ...opts, runServer: true })
  const { addr } = addressFor(opts)
  let listener: Listener
  try {
    listener = await transport.listen(addr)
  } catch (err) {
    await transport.close()
    throw err
  }
  listener.on('connection', serve)
  listener.on('error', (err) => { log.warn('inbound connection failed', { err }) })
  let metricsServer: MetricsServer | undefined
  if (opts.metrics !== undefined) {
    try {
      metricsServer = await serveConnectionMetrics(transport, listener, opts.metrics)
    } catch (err) {
      await transport.close()
      throw err
    }
    io.stderr.write(`metrics: ${metricsServer.url}\n`)
  }
  const addrs = listener.addrs().map(a => withPeerId(a, context.peerId))
  for (const a of addrs) io.stdout.write(`${a.toString()}\n`)
  log.info('perf server ready', { peerId: context.peerId.toString(), addrs: addrs.map(String), metrics: metricsServer?.url })
  return {
    addrs,
    ...(metricsServer !== undefined ? { metricsUrl: metricsServer.url } : {}),
    close: async () => {
      await metricsServer?.close()
      await transport.close()
    }
  }
}

/**
 * Metrics of a bare-connection server: ConnectionMetrics fed from the listener's and the
 * connections' events (no Swarm here), per-protocol bytes from the transport's native counters.
 */
async function serveConnectionMetrics (transport: Transport, listener: Listener, at: { host: string, port: number }): Promise<MetricsServer> {
  const registry = new Registry<RegistryContentType>()
  const open = new Set<Connection>()
  const metrics = new ConnectionMetrics({
    connections: () => open,
    pendingDials: () => 0,
    listenAddresses: () => listener.addrs().length
  }, { registry, protocolCounters: [transport] })
  listener.on('connection', (connection) => {
    open.add(connection)
    metrics.opened(connection, connection, connection.direction, connection.transport)
    // 'close' carries an error unless the close was local and graceful.
    connection.once('close', (err) => {
      open.delete(connection)
      metrics.closed(connection, connection.direction, err === undefined ? 'local' : 'remote')
    })
  })
  listener.on('error', (err) => { metrics.incomingFailed(err) })
  return await serveMetrics(registry, at)
}

function formatBytes (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let u = 0
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++ }
  return `${v.toFixed(u === 0 ? 0 : 2)} ${units[u] as string}`
}

function formatRate (bytes: number, seconds: number): string {
  if (seconds <= 0) return '-'
  const bits = (bytes * 8) / seconds
  return bits >= 1e9 ? `${(bits / 1e9).toFixed(2)} Gbit/s` : `${(bits / 1e6).toFixed(1)} Mbit/s`
}

/** The live line: totals and average rates so far. */
export function progressLine (t: PerfTotals, opts: PerfCliOptions): string {
  return `perf ${t.elapsedSeconds.toFixed(1)}s  up ${formatBytes(t.uploadBytes)}/${formatBytes(opts.uploadBytes)} ${formatRate(t.uploadBytes, t.elapsedSeconds)}` +
    `  down ${formatBytes(t.downloadBytes)}/${formatBytes(opts.downloadBytes)} ${formatRate(t.downloadBytes, t.elapsedSeconds)}`
}

export async function runClient (opts: PerfCliOptions, io: CliIO): Promise<PerfReport> {
  const { addr, peerId } = addressFor(opts)
  let localServer: PerfServer | undefined
  if (opts.transport === 'memory') {
    const { defaultMemoryNetwork } = await import('../transports/memory/index.ts')
    const name = addr.getComponents()[0]?.value ?? ''
    if (defaultMemoryNetwork.lookup(name) === undefined) {
      log.info('starting an in-process memory perf server', { addr: addr.toString() })
      localServer = await runServer({ ...opts, runServer: true, serverAddress: addr.toString() }, { ...io, stdout: { write: () => true } })
    }
  }
  const { transport } = await makeNode({ ...opts, runServer: false })
  let liveShown = false
  const clearLive = (): void => {
    if (liveShown) { io.stderr.write('\r\x1b[K'); liveShown = false }
  }
  const emit = (report: PerfReport): void => {
    clearLive()
    io.stdout.write(`${JSON.stringify(report)}\n`)
  }
  try {
    const connection = await transport.dial(addr, peerId === undefined ? {} : { expectedPeer: peerId })
    log.info('connected', { peer: connection.remotePeer.toString(), addr: addr.toString() })
    const final = await runPerf(connection, {
      uploadBytes: opts.uploadBytes,
      downloadBytes: opts.downloadBytes,
      onProgress: emit,
      onTotals: io.live ? (t) => { io.stderr.write(`\r\x1b[K${progressLine(t, opts)}`); liveShown = true } : undefined
    })
    emit(final)
    await connection.close()
    return final
  } finally {
    clearLive()
    await transport.close()
    await localServer?.close()
  }
}

const processIO: CliIO = {
  stdout: process.stdout,
  stderr: process.stderr,
  live: process.stdout.isTTY === true
}

/** Entry point; resolves with the process exit code (the server resolves on SIGINT/SIGTERM). */
export async function main (argv: string[], io: CliIO = processIO): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(USAGE)
    return 0
  }
  let opts: PerfCliOptions
  try {
    opts = parsePerfArgs(argv)
    if (opts.serverAddress !== undefined && opts.serverAddress.startsWith('/')) parseMultiaddr(opts.serverAddress)
  } catch (err) {
    io.stderr.write(`libp2p-native perf: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  try {
    if (opts.runServer) {
      const server = await runServer(opts, io)
      await new Promise<void>(resolve => {
        process.once('SIGINT', resolve)
        process.once('SIGTERM', resolve)
      })
      await server.close()
      return 0
    }
    await runClient(opts, io)
    return 0
  } catch (err) {
    io.stderr.write(`libp2p-native perf: ${(err as Error).message}\n`)
    if (log.enabled.debug) log.debug('perf failed', { err, stack: (err as Error).stack })
    return 1
  }
}
