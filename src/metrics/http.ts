/**
 * The `/metrics` endpoint: node:http, one route, GET (and HEAD) only, OpenMetrics text
 * (`application/openmetrics-text; version=1.0.0; charset=utf-8`). Bounded: requests carry no body
 * we read, the server holds at most MAX_METRICS_CONNECTIONS sockets, a request must arrive within
 * METRICS_REQUEST_TIMEOUT_MS, and scrapes run one at a time (a second scrape during one waits for
 * its result instead of computing the gauges again).
 *
 *   const server = await serveMetrics(registry, { port: 9464, host: '127.0.0.1' })
 *   // curl http://127.0.0.1:9464/metrics
 *   await server.close()
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { openMetricsContentType, type Registry, type RegistryContentType } from 'prom-client'
import { InvalidArgumentError } from '../core/errors.ts'

export const METRICS_PATH = '/metrics'
/** Prometheus scrapes from one or two servers; 16 leaves room for curl and a dashboard probe. */
export const MAX_METRICS_CONNECTIONS = 16
/** Prometheus' default scrape timeout is 10 s; a request line and headers arrive well within it. */
export const METRICS_REQUEST_TIMEOUT_MS = 10_000
/** Node's default header limit is 16 KiB; a scrape request needs a few hundred bytes. */
export const MAX_METRICS_HEADER_BYTES = 8 * 1024

export interface ServeMetricsOptions {
  /** TCP port; 0 picks a free one (see `MetricsServer.port`). */
  port: number
  /** Bind address; default 127.0.0.1 (metrics are not meant for the open internet). */
  host?: string
}

/**
 * Parses `--metrics` values: `host:port`, `[ipv6]:port`, or `:port` / `port` (host 127.0.0.1).
 * Port 0 picks a free port.
 */
export function parseMetricsAddress (text: string): { host: string, port: number } {
  const bad = (): InvalidArgumentError => new InvalidArgumentError(`metrics address must be host:port, [ipv6]:port, :port or port, got "${text}"`)
  const t = text.trim()
  let host = ''
  let portText = t
  if (t.startsWith('[')) {
    const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(t)
    if (m === null) throw bad()
    host = m[1] as string
    portText = m[2] as string
  } else if (t.includes(':')) {
    const i = t.lastIndexOf(':')
    host = t.slice(0, i)
    portText = t.slice(i + 1)
    if (host.includes(':')) throw bad()
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw bad()
  return { host: host === '' ? '127.0.0.1' : host, port: Number(portText) }
}

export interface MetricsServer {
  readonly server: Server
  readonly host: string
  readonly port: number
  /** `http://host:port/metrics` */
  readonly url: string
  close(): Promise<void>
}

/**
 * Serves `registry` at GET /metrics. Switches the registry to the OpenMetrics content type
 * (prom-client's `setContentType(openMetricsContentType)`): counters are then exposed with their
 * `_total` suffix and the body ends with `# EOF`.
 */
export async function serveMetrics (registry: Registry<RegistryContentType>, options: ServeMetricsOptions): Promise<MetricsServer> {
  const { port } = options
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`metrics port must be an integer from 0 to 65535, got ${String(port)}`)
  const host = options.host ?? '127.0.0.1'
  registry.setContentType(openMetricsContentType)
  let inFlight: Promise<string> | undefined
  const scrape = async (): Promise<string> => {
    inFlight ??= registry.metrics().finally(() => { inFlight = undefined })
    return await inFlight
  }
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '').split('?')[0]
    if (path !== METRICS_PATH) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: the only route is GET /metrics\n')
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n')
      return
    }
    scrape().then(body => {
      res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(body) })
      res.end(req.method === 'HEAD' ? undefined : body)
    }, (err: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`metrics collection failed: ${err instanceof Error ? err.message : String(err)}\n`)
    })
  }
  const server = createServer({ maxHeaderSize: MAX_METRICS_HEADER_BYTES, requestTimeout: METRICS_REQUEST_TIMEOUT_MS }, handle)
  server.maxConnections = MAX_METRICS_CONNECTIONS
  server.headersTimeout = METRICS_REQUEST_TIMEOUT_MS
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => { server.off('error', reject); resolve() })
  })
  const bound = (server.address() as AddressInfo).port
  const urlHost = host.includes(':') ? `[${host}]` : host
  return {
    server,
    host,
    port: bound,
    url: `http://${urlHost}:${bound}${METRICS_PATH}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
    }
  }
}
