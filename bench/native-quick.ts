/**
 * Quick, rough figures for a native transport (TCP or QUIC) in one process (both ends on this
 * machine's two cores, so throughput here is a lower bound of the two-process perf benchmark); the
 * same figures for both, so the two can be compared line by line:
 *   node --import tsx bench/native-quick.ts [tcp|quic] [--mib 256] [--flush microtask|immediate]
 *     [--security noise|tls|noise,tls]   (TCP only: TcpOptions.security of both ends; default the transport's)
 * Prints one JSON line per figure: one-stream upload throughput, 8-byte round trip p50/p99,
 * sequential connection setup (dial + handshake + first stream + 1-byte round trip) p50/p99, RSS.
 */
import { multiaddr } from '@multiformats/multiaddr'
import type { Connection } from '../src/core/transport.ts'
import type { Stream } from '../src/core/stream.ts'
import { generateKeyPair, peerIdFromPrivateKey } from '../src/identity/index.ts'
import { StaticProtocolTable } from '../src/utils/protocol-table.ts'
import { tcp, type TcpTransport } from '../src/transports/tcp/index.ts'
import { quic, type QuicTransport } from '../src/transports/quic/index.ts'

const args = process.argv.slice(2)
const which = args[0] !== undefined && !args[0].startsWith('--') ? args[0] : 'tcp'
if (which !== 'tcp' && which !== 'quic') throw new Error(`transport must be tcp or quic, got ${which}`)
const arg = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] as string : dflt
}
const MIB = Number(arg('mib', '256'))
const flush = arg('flush', 'microtask') as 'microtask' | 'immediate'
const RTT_ROUNDS = Number(arg('rtt', '2000'))
const SETUPS = Number(arg('setups', '200'))
const securityArg = arg('security', '')
const security = securityArg === '' ? undefined : securityArg.split(',') as Array<'noise' | 'tls'>
if (security !== undefined && which !== 'tcp') throw new Error('--security is a TCP option')

function node (opts: { flush: 'microtask' | 'immediate' }): { transport: TcpTransport | QuicTransport, peer: string } {
  const privateKey = generateKeyPair('Ed25519')
  const protocols = new StaticProtocolTable(['/sink/1.0.0', '/echo/1.0.0'])
  const factory = which === 'tcp' ? tcp({ ...opts, ...(security !== undefined ? { security } : {}) }) : quic(opts)
  const transport = factory({ privateKey, peerId: peerIdFromPrivateKey(privateKey), protocols }) as TcpTransport | QuicTransport
  return { transport, peer: peerIdFromPrivateKey(privateKey).toString() }
}

function pct (xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] as number
}

const server = node({ flush })
const client = node({ flush })
const listener = await server.transport.listen(multiaddr(which === 'tcp' ? '/ip4/127.0.0.1/tcp/0' : '/ip4/127.0.0.1/udp/0/quic-v1'))
let peakRss = 0
const rssTimer = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage.rss()) }, 20)
listener.on('connection', (c: Connection) => {
  c.on('stream', (s: Stream) => {
    if (s.protocol === '/sink/1.0.0') {
      let n = 0
      s.on('data', (d: Uint8Array) => { n += d.byteLength })
      s.on('remoteCloseWrite', () => {
        s.send(new TextEncoder().encode(String(n)))
        void s.closeWrite()
      })
    } else {
      s.on('data', (d: Uint8Array) => { s.send(d) })
      s.on('remoteCloseWrite', () => { void s.closeWrite() })
    }
  })
})
const addr = listener.addrs()[0] as ReturnType<typeof multiaddr>
const conn = await client.transport.dial(addr)

// ---- one-stream upload ----
{
  const s = await conn.openStream('/sink/1.0.0')
  const chunk = new Uint8Array(256 * 1024).fill(1)
  const total = MIB * 1024 * 1024
  const t0 = process.hrtime.bigint()
  const cpu0 = process.cpuUsage()
  for (let sent = 0; sent < total; sent += chunk.byteLength) {
    if (!s.send(chunk)) await s.onDrain()
  }
  await s.closeWrite()
  let reply = ''
  for await (const d of s) reply += new TextDecoder().decode(d)
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  const cpu = process.cpuUsage(cpu0)
  if (Number(reply) !== total) throw new Error(`sink counted ${reply}, sent ${total}`)
  console.log(JSON.stringify({ transport: server.transport.name, encryption: conn.encryption, figure: 'upload-one-stream', mib: MIB, seconds: +secs.toFixed(3), gbitPerSec: +(total * 8 / secs / 1e9).toFixed(2), cpuSecondsPerGiB: +(((cpu.user + cpu.system) / 1e6) / (total / 2 ** 30)).toFixed(2), flush }))
}

// ---- 8-byte round trip ----
{
  const s = await conn.openStream('/echo/1.0.0')
  const msg = new Uint8Array(8)
  const samples: number[] = []
  let resolve: (() => void) | undefined
  s.on('data', () => { resolve?.() })
  for (let i = 0; i < RTT_ROUNDS; i++) {
    const t0 = process.hrtime.bigint()
    const got = new Promise<void>(r => { resolve = r })
    s.send(msg)
    await got
    samples.push(Number(process.hrtime.bigint() - t0) / 1000)
  }
  s.reset()
  const warm = samples.slice(Math.floor(samples.length / 10))
  console.log(JSON.stringify({ figure: 'rtt-8-bytes', p50us: +pct(warm, 0.5).toFixed(1), p99us: +pct(warm, 0.99).toFixed(1), rounds: RTT_ROUNDS, flush }))
}

// ---- sequential connection setup ----
{
  const samples: number[] = []
  const target = multiaddr(`${addr.toString()}/p2p/${server.peer}`)
  for (let i = 0; i < SETUPS; i++) {
    const t0 = process.hrtime.bigint()
    const c = await client.transport.dial(target)
    const s = await c.openStream('/echo/1.0.0')
    const got = new Promise<void>(r => { s.once('data', () => { r() }) })
    s.send(Uint8Array.of(1))
    await got
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6)
    c.abort(new Error('done'))
  }
  const warm = samples.slice(Math.floor(samples.length / 10))
  console.log(JSON.stringify({ figure: 'connection-setup', security: securityArg === '' ? 'default' : securityArg, p50ms: +pct(warm, 0.5).toFixed(3), p99ms: +pct(warm, 0.99).toFixed(3), connections: SETUPS, flush }))
}

clearInterval(rssTimer)
console.log(JSON.stringify({ figure: 'peak-rss-both-ends', mib: +(peakRss / 2 ** 20).toFixed(1) }))
await client.transport.close()
await server.transport.close()
