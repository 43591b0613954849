/**
 * `libp2p-native ping <multiaddr>`: pings a peer through a Swarm, like `ping(8)`:
 *
 *   PING 12D3KooW… (/ip4/127.0.0.1/tcp/4001)
 *   32 bytes from 12D3KooW…: seq=1 time=0.42 ms
 *   …
 *   --- 12D3KooW… ping statistics ---
 *   3 pings, 3 answered, 0% lost; rtt min/avg/max = 0.38/0.41/0.42 ms
 *
 * Exit code 0 when at least one ping was answered, 1 otherwise, 2 on bad usage.
 */
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import { InvalidArgumentError } from '../core/errors.ts'
import type { TransportFactory } from '../core/transport.ts'
import { PingBehaviour, PING_LENGTH } from '../protocols/ping/index.ts'
import { parseMultiaddr } from '../utils/multiaddr.ts'
import { connectOnce } from './swarm-node.ts'

export const USAGE = `usage: libp2p-native ping <multiaddr> [--count N] [--interval ms] [--timeout ms]
`
/** Defaults of ping(8): 1 s between pings; we stop after 4 unless told otherwise. */
export const DEFAULT_COUNT = 4
export const DEFAULT_INTERVAL_MS = 1000
export const DEFAULT_TIMEOUT_MS = 10_000

export interface CliIO { stdout: { write: (s: string) => unknown }, stderr: { write: (s: string) => unknown } }
const processIO: CliIO = { stdout: process.stdout, stderr: process.stderr }

function positiveInt (name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new InvalidArgumentError(`--${name} must be a positive integer, got "${text}"`)
  return Number(text)
}

export async function main (argv: string[], io: CliIO = processIO, transport?: TransportFactory): Promise<number> {
  let target, count, interval, timeout
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { count: { type: 'string', short: 'c' }, interval: { type: 'string', short: 'i' }, timeout: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true
    })
    if (values.help === true) { io.stdout.write(USAGE); return 0 }
    if (positionals.length !== 1) throw new InvalidArgumentError('one multiaddr is required')
    target = parseMultiaddr(positionals[0] as string)
    count = positiveInt('count', values.count, DEFAULT_COUNT)
    interval = positiveInt('interval', values.interval, DEFAULT_INTERVAL_MS)
    timeout = positiveInt('timeout', values.timeout, DEFAULT_TIMEOUT_MS)
  } catch (err) {
    io.stderr.write(`libp2p-native ping: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  let node
  try {
    node = await connectOnce(target, () => new PingBehaviour({ intervalMs: interval, timeoutMs: timeout, maxFailures: 0, keepAlive: true }), { transport, timeoutMs: timeout })
  } catch (err) {
    io.stderr.write(`libp2p-native ping: ${(err as Error).message}\n`)
    return 1
  }
  const { swarm, peerId } = node
  const peer = peerId.toString()
  io.stdout.write(`PING ${peer} (${target.toString()})\n`)
  const rtts: number[] = []
  let seq = 0
  await new Promise<void>(resolve => {
    const done = (): void => { swarm.off('behaviour', onPing); swarm.off('connectionClosed', onClosed); resolve() }
    const onPing = (e: { event: { peerId: { equals: (p: typeof peerId) => boolean }, result: { type: string, rttMs?: number, error?: Error } } }): void => {
      if (!e.event.peerId.equals(peerId)) return
      seq++
      const r = e.event.result
      if (r.type === 'success' && r.rttMs !== undefined) {
        rtts.push(r.rttMs)
        io.stdout.write(`${PING_LENGTH} bytes from ${peer}: seq=${seq} time=${r.rttMs.toFixed(2)} ms\n`)
      } else if (r.type === 'unsupported') {
        io.stderr.write(`${peer} does not support ping\n`)
        done()
        return
      } else {
        io.stdout.write(`from ${peer}: seq=${seq} ${r.error?.message ?? 'failed'}\n`)
      }
      if (seq >= count) done()
    }
    const onClosed = (): void => { if (!swarm.isConnected(peerId)) { io.stderr.write('connection closed\n'); done() } }
    swarm.on('behaviour', onPing)
    swarm.on('connectionClosed', onClosed)
  })
  await swarm.close()
  const lost = seq === 0 ? 100 : Math.round(100 * (seq - rtts.length) / seq)
  io.stdout.write(`--- ${peer} ping statistics ---\n${seq} pings, ${rtts.length} answered, ${lost}% lost`)
  if (rtts.length > 0) {
    const avg = rtts.reduce((a, b) => a + b, 0) / rtts.length
    io.stdout.write(`; rtt min/avg/max = ${Math.min(...rtts).toFixed(2)}/${avg.toFixed(2)}/${Math.max(...rtts).toFixed(2)} ms`)
  }
  io.stdout.write('\n')
  return rtts.length > 0 ? 0 : 1
}

// Also runs directly (`node --import tsx src/cli/ping.ts …`); bin/libp2p-native.js lists it.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const code = await main(process.argv.slice(2))
  process.stdout.write('', () => process.exit(code))
}
