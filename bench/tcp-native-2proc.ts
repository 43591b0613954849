/**
 * Rough two-process figures for the native TCP transport (client here, server in a child process),
 * the shape of the perf benchmark but without js-libp2p, for quick checks while developing:
 *   node --import tsx bench/tcp-native-2proc.ts [--mib 1024] [--setups 300] [--rtt 3000]
 *     [--security noise|tls|noise,tls]   (TcpOptions.security of both processes; default the transport's)
 * JSON lines: upload and download on one stream (Gbit/s, CPU-s/GiB of both processes), 8-byte
 * round trip p50/p99, sequential connection setup p50/p99, server peak RSS.
 */
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { multiaddr } from '@multiformats/multiaddr'
import type { Connection } from '../src/core/transport.ts'
import type { Stream } from '../src/core/stream.ts'
import { generateKeyPair, peerIdFromPrivateKey } from '../src/identity/index.ts'
import { StaticProtocolTable } from '../src/utils/protocol-table.ts'
import { tcp, type TcpTransport } from '../src/transports/tcp/index.ts'

const args = process.argv.slice(2)
const arg = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] as string : dflt
}

const securityArg = arg('security', '')
const security = securityArg === '' ? {} : { security: securityArg.split(',') as Array<'noise' | 'tls'> }

function makeTransport (): { transport: TcpTransport, peer: string } {
  const privateKey = generateKeyPair('Ed25519')
  const protocols = new StaticProtocolTable(['/sink/1.0.0', '/source/1.0.0', '/echo/1.0.0'])
  const peerId = peerIdFromPrivateKey(privateKey)
  return { transport: tcp(security)({ privateKey, peerId, protocols }) as TcpTransport, peer: peerId.toString() }
}

async function server (): Promise<void> {
  const { transport, peer } = makeTransport()
  const listener = await transport.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
  let peakRss = 0
  let peakSlabs = 0
  const timer = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss())
    peakSlabs = Math.max(peakSlabs, transport.slabsLive())
  }, 10)
  const chunk = new Uint8Array(256 * 1024).fill(2)
  listener.on('connection', (c: Connection) => {
    c.on('stream', (s: Stream) => {
      if (s.protocol === '/sink/1.0.0') {
        let n = 0
        s.on('data', (d: Uint8Array) => { n += d.byteLength })
        s.on('remoteCloseWrite', () => { s.send(new TextEncoder().encode(String(n))); void s.closeWrite() })
      } else if (s.protocol === '/source/1.0.0') {
        s.once('data', (d: Uint8Array) => {
          const total = Number(new DataView(d.buffer, d.byteOffset, 8).getBigUint64(0))
          void (async () => {
            for (let sent = 0; sent < total; sent += chunk.byteLength) {
              if (!s.send(chunk)) await s.onDrain()
            }
            await s.closeWrite()
          })()
        })
      } else {
        s.on('data', (d: Uint8Array) => { s.send(d) })
        s.on('remoteCloseWrite', () => { void s.closeWrite() })
      }
    })
  })
  process.send?.({ addr: `${listener.addrs()[0]?.toString()}/p2p/${peer}` })
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd === 'stats') {
      const cpu = process.cpuUsage()
      process.send?.({ peakRssMiB: peakRss / 2 ** 20, peakSlabs, cpuSeconds: (cpu.user + cpu.system) / 1e6 })
    } else if (m.cmd === 'exit') {
      clearInterval(timer)
      void transport.close().then(() => process.exit(0))
    }
  })
}

function pct (xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] as number
}

async function client (): Promise<void> {
  const MIB = Number(arg('mib', '1024'))
  // Compiled (.js, e.g. tsc --outDir): no tsx in the server, so its RSS is the stack's own.
  const execArgv = import.meta.url.endsWith('.ts') ? ['--import', 'tsx'] : []
  const child = fork(fileURLToPath(import.meta.url), ['--server', ...(securityArg === '' ? [] : ['--security', securityArg])], { execArgv })
  const ask = async <T>(cmd?: string): Promise<T> => await new Promise<T>(resolve => {
    child.once('message', (m) => { resolve(m as T) })
    if (cmd !== undefined) child.send({ cmd })
  })
  const { addr } = await ask<{ addr: string }>()
  const { transport } = makeTransport()
  const conn = await transport.dial(multiaddr(addr))
  console.log(JSON.stringify({ figure: 'encryption', encryption: conn.encryption, security: securityArg === '' ? 'default' : securityArg }))
  const total = MIB * 1024 * 1024
  const serverCpu = async (): Promise<number> => (await ask<{ cpuSeconds: number }>('stats')).cpuSeconds
  const cpuNow = (): number => { const c = process.cpuUsage(); return (c.user + c.system) / 1e6 }

  { // upload
    const s = await conn.openStream('/sink/1.0.0')
    const chunk = new Uint8Array(256 * 1024).fill(1)
    const c0 = cpuNow(); const s0 = await serverCpu(); const t0 = process.hrtime.bigint()
    for (let sent = 0; sent < total; sent += chunk.byteLength) if (!s.send(chunk)) await s.onDrain()
    await s.closeWrite()
    let reply = ''
    for await (const d of s) reply += new TextDecoder().decode(d)
    const secs = Number(process.hrtime.bigint() - t0) / 1e9
    const cpu = cpuNow() - c0 + (await serverCpu()) - s0
    if (Number(reply) !== total) throw new Error(`server counted ${reply}`)
    console.log(JSON.stringify({ figure: 'upload', mib: MIB, gbitPerSec: +(total * 8 / secs / 1e9).toFixed(2), cpuSecondsPerGiB: +(cpu / (total / 2 ** 30)).toFixed(2) }))
  }
  { // download
    const s = await conn.openStream('/source/1.0.0')
    const req = new Uint8Array(8)
    new DataView(req.buffer).setBigUint64(0, BigInt(total))
    const c0 = cpuNow(); const s0 = await serverCpu(); const t0 = process.hrtime.bigint()
    s.send(req)
    let n = 0
    for await (const d of s) n += d.byteLength
    const secs = Number(process.hrtime.bigint() - t0) / 1e9
    const cpu = cpuNow() - c0 + (await serverCpu()) - s0
    if (n !== total) throw new Error(`received ${n}`)
    console.log(JSON.stringify({ figure: 'download', mib: MIB, gbitPerSec: +(total * 8 / secs / 1e9).toFixed(2), cpuSecondsPerGiB: +(cpu / (total / 2 ** 30)).toFixed(2) }))
  }
  { // 8-byte round trip
    const rounds = Number(arg('rtt', '3000'))
    const s = await conn.openStream('/echo/1.0.0')
    const msg = new Uint8Array(8)
    let wake: (() => void) | undefined
    s.on('data', () => { wake?.() })
    const samples: number[] = []
    for (let i = 0; i < rounds; i++) {
      const got = new Promise<void>(resolve => { wake = resolve })
      const t0 = process.hrtime.bigint()
      s.send(msg)
      await got
      samples.push(Number(process.hrtime.bigint() - t0) / 1000)
    }
    s.reset()
    const warm = samples.slice(Math.floor(rounds / 10))
    console.log(JSON.stringify({ figure: 'rtt-8-bytes', p50us: +pct(warm, 0.5).toFixed(1), p99us: +pct(warm, 0.99).toFixed(1) }))
  }
  { // sequential connection setup
    const n = Number(arg('setups', '300'))
    const samples: number[] = []
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint()
      const c = await transport.dial(multiaddr(addr))
      const s = await c.openStream('/echo/1.0.0')
      const got = new Promise<void>(resolve => { s.once('data', () => { resolve() }) })
      s.send(Uint8Array.of(1))
      await got
      samples.push(Number(process.hrtime.bigint() - t0) / 1e6)
      c.abort(new Error('done'))
    }
    const warm = samples.slice(Math.floor(n / 10))
    console.log(JSON.stringify({ figure: 'connection-setup', p50ms: +pct(warm, 0.5).toFixed(3), p99ms: +pct(warm, 0.99).toFixed(3), connections: n }))
  }
  const stats = await ask<{ peakRssMiB: number, peakSlabs: number }>('stats')
  console.log(JSON.stringify({ figure: 'server-peak-rss', mib: +stats.peakRssMiB.toFixed(1), peakSlabs: stats.peakSlabs }))
  child.send({ cmd: 'exit' })
  await transport.close()
}

if (args.includes('--server')) await server()
else await client()
