/**
 * The QUIC issue's target "QUIC and TCP in one process with no loss on either (both perf figures
 * within 10% of each one alone)": one process pair on loopback, a server listening on TCP and QUIC
 * (this file, spawned with `--server`) and a client holding one connection of each. Each round
 * runs a perf download over TCP alone, over QUIC alone, then over both at once; rounds alternate
 * so all three see the same machine state.
 *
 *   node --import tsx bench/swarm/tcp-quic-together.ts [bytes=134217728] [rounds=3] [--paced <tcpGbps>,<quicGbps>]
 *
 * Prints a JSON line per run and a summary with the medians and the ratios together/alone per
 * transport (the target: both ≥ 0.9), plus two whole-run figures that tell CPU-bound sharing
 * apart from interference: the aggregate (sum of both rates together over the better one alone)
 * and sequentialOverTogether (time to download both one after the other, alone, over the wall
 * time of both at once: ≥ 1 means running them together loses nothing overall).
 * A rate "together" is bytes over that download's own time, so the one that finishes first
 * leaves the other some time alone at the end.
 *
 * Unpaced, each transfer alone already uses both cores (two processes, an I/O thread and a JS
 * thread each), so "together" can only split the CPU. `--paced 4,2` asks the other question: with
 * each transport offered a fixed rate (the client uploads on the perf stream at that many Gbit/s,
 * in 256 KiB sends) whose sum the machine can carry, does either one lose rate when the other runs
 * in the same process? Then the ratios together/alone are the interference alone.
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Connection, Listener, TransportContext } from '../../src/core/transport.ts'
import { generateKeyPair, peerIdFromPrivateKey } from '../../src/identity/index.ts'
import { StaticProtocolTable } from '../../src/utils/protocol-table.ts'
import { splitPeerId, withPeerId } from '../../src/utils/multiaddr.ts'
import { handlePerfStream, readToEnd, runPerf } from '../../src/protocols/perf/protocol.ts'
import { PERF_HEADER_LENGTH, PERF_PROTOCOL, PERF_SEND_BUFFER_SIZE } from '../../src/protocols/perf/constants.ts'
import { tcp } from '../../src/transports/tcp/index.ts'
import { quic } from '../../src/transports/quic/index.ts'

function context (serve: boolean): TransportContext {
  const privateKey = generateKeyPair('Ed25519')
  return { privateKey, peerId: peerIdFromPrivateKey(privateKey), protocols: new StaticProtocolTable(serve ? [PERF_PROTOCOL] : []) }
}

if (process.argv.includes('--server')) {
  const ctx = context(true)
  const transports = [tcp()(ctx), quic()(ctx)]
  const listeners: Listener[] = [
    await (transports[0] as ReturnType<ReturnType<typeof tcp>>).listen(multiaddr('/ip4/127.0.0.1/tcp/0')),
    await (transports[1] as ReturnType<ReturnType<typeof quic>>).listen(multiaddr('/ip4/127.0.0.1/udp/0/quic-v1'))
  ]
  for (const l of listeners) {
    l.on('connection', (c: Connection) => {
      c.on('stream', s => { void handlePerfStream(s).catch(err => { s.reset(err instanceof Error ? err : undefined) }) })
    })
  }
  console.log(JSON.stringify({ type: 'listening', addrs: listeners.flatMap(l => l.addrs()).map(a => withPeerId(a, ctx.peerId).toString()) }))
  process.on('SIGTERM', () => { void Promise.all(transports.map(async t => { await t.close() })).finally(() => process.exit(0)) })
} else {
  const positional = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && all[i - 1] !== '--paced')
  const bytes = Number(positional[0] ?? 128 * 1024 * 1024)
  const rounds = Number(positional[1] ?? 3)
  const pacedAt = process.argv.indexOf('--paced')
  const paced = pacedAt < 0 ? undefined : (process.argv[pacedAt + 1] ?? '').split(',').map(Number)
  if (paced !== undefined && (paced.length !== 2 || paced.some(r => !(r > 0)))) throw new Error('--paced wants <tcpGbps>,<quicGbps>, both > 0')
  const server = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--server'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const addrs = await new Promise<string[]>((resolve, reject) => {
    server.once('exit', code => { reject(new Error(`server exited with ${String(code)}`)) })
    createInterface({ input: server.stdout }).on('line', line => {
      const m = JSON.parse(line) as { type: string, addrs: string[] }
      if (m.type === 'listening') resolve(m.addrs)
    })
  })
  const ctx = context(false)
  const tcpT = tcp()(ctx)
  const quicT = quic()(ctx)
  const dial = async (t: typeof tcpT | typeof quicT, pick: string): Promise<Connection> => {
    const addr = multiaddr(addrs.find(a => a.includes(pick)) as string) as Multiaddr
    return await t.dial(addr, { expectedPeer: splitPeerId(addr).peerId })
  }
  try {
    const conns = { tcp: await dial(tcpT, '/tcp/'), quic: await dial(quicT, '/quic-v1') }
    const gbps = (seconds: number): number => bytes * 8 / seconds / 1e9
    const download = async (c: Connection): Promise<number> => {
      if (paced === undefined) return gbps((await runPerf(c, { uploadBytes: 0, downloadBytes: bytes })).timeSeconds)
      return gbps(await pacedUpload(c, bytes, c === conns.tcp ? paced[0] as number : paced[1] as number))
    }
    const runs: Record<'tcpAlone' | 'quicAlone' | 'tcpTogether' | 'quicTogether' | 'wall', number[]> = { tcpAlone: [], quicAlone: [], tcpTogether: [], quicTogether: [], wall: [] }
    // One warm-up download each: congestion windows and buffers open before anything is timed.
    await download(conns.tcp)
    await download(conns.quic)
    for (let i = 0; i < rounds; i++) {
      runs.tcpAlone.push(await download(conns.tcp))
      runs.quicAlone.push(await download(conns.quic))
      const start = performance.now()
      const [t, q] = await Promise.all([download(conns.tcp), download(conns.quic)])
      const wallSeconds = (performance.now() - start) / 1000
      runs.tcpTogether.push(t)
      runs.quicTogether.push(q)
      // Same bytes one after the other (alone) over the wall time of both at once: ≥ 1 means
      // running both in one process costs nothing overall; < 1 is interference.
      runs.wall.push((bytes * 8 / 1e9 / (runs.tcpAlone[i] as number) + bytes * 8 / 1e9 / (runs.quicAlone[i] as number)) / wallSeconds)
      console.log(JSON.stringify({ round: i, tcpAloneGbps: runs.tcpAlone[i], quicAloneGbps: runs.quicAlone[i], tcpTogetherGbps: t, quicTogetherGbps: q, wallSeconds, sequentialOverTogether: runs.wall[i] }))
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
    const m = { tcpAlone: median(runs.tcpAlone), quicAlone: median(runs.quicAlone), tcpTogether: median(runs.tcpTogether), quicTogether: median(runs.quicTogether) }
    const sequentialOverTogether = median(runs.wall)
    console.log(JSON.stringify({
      summary: true,
      bytesPerDownload: bytes,
      ...(paced === undefined ? {} : { pacedGbps: { tcp: paced[0], quic: paced[1] } }),
      rounds,
      ...Object.fromEntries(Object.entries(m).map(([k, v]) => [`${k}Gbps`, Number(v.toFixed(3))])),
      tcpRatio: Number((m.tcpTogether / m.tcpAlone).toFixed(3)),
      quicRatio: Number((m.quicTogether / m.quicAlone).toFixed(3)),
      aggregateRatio: Number(((m.tcpTogether + m.quicTogether) / Math.max(m.tcpAlone, m.quicAlone)).toFixed(3)),
      sequentialOverTogether: Number(sequentialOverTogether.toFixed(3))
    }))
    await Promise.all([conns.tcp.close(), conns.quic.close()])
  } finally {
    await Promise.all([tcpT.close(), quicT.close()])
    server.kill('SIGTERM')
  }
}

/**
 * A perf-protocol upload of `bytes` offered at `rateGbps`: 256 KiB sends whenever the bytes sent
 * fall behind the rate's schedule, a 1 ms timer otherwise, backpressure respected. Resolves with the
 * seconds from stream open to the server's end of stream (it echoes nothing: download size 0).
 */
async function pacedUpload (connection: Connection, bytes: number, rateGbps: number): Promise<number> {
  const bytesPerMs = rateGbps * 1e9 / 8 / 1000
  const chunk = new Uint8Array(PERF_SEND_BUFFER_SIZE)
  const start = performance.now()
  const stream = await connection.openStream(PERF_PROTOCOL)
  if (!stream.send(new Uint8Array(PERF_HEADER_LENGTH))) await stream.onDrain()  // download size 0
  let sent = 0
  while (sent < bytes) {
    if (sent >= (performance.now() - start) * bytesPerMs) {
      await new Promise(resolve => setTimeout(resolve, 1))
      continue
    }
    const n = Math.min(chunk.byteLength, bytes - sent)
    const ok = stream.send(n === chunk.byteLength ? chunk : chunk.subarray(0, n))
    sent += n
    if (!ok) await stream.onDrain()
  }
  await stream.closeWrite()
  await readToEnd(stream, () => {})
  return (performance.now() - start) / 1000
}
