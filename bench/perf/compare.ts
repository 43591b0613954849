/**
 * Side-by-side perf benchmark: libp2p-native vs js-libp2p 3 (and a raw pump), each as a server and
 * a client process on loopback, in one run. Prints every figure with its ratio.
 *
 *   node --import tsx bench/perf/compare.ts [--transport tcp|quic] [--gib 1] [--quick]
 *     [--only native,native-inline,js,raw] [--scenarios down,up,multi,connect,rtt] [--json out.json]
 *
 * --transport tcp (default, issue 2): ours TCP + Noise + Yamux, js-libp2p TCP + Noise + Yamux, raw
 * = bench/perf/raw_pump.c (encrypted TCP; fills the download, CPU per GiB and RSS rows).
 * --transport quic (issue 4): ours /quic-v1 (ngtcp2 + GnuTLS), js-libp2p + @chainsafe/libp2p-quic
 * 2.1.1, raw = bench/native/quic_pump.cpp (ngtcp2 + GnuTLS without libp2p; one process holding
 * both ends, sending client to server: it fills the download and upload rows with one run each,
 * and its CPU is both ends' as in our "both" rows).
 *
 * Scenarios (issue 2, item 10; issue 4, deliver 8): one-stream download and upload of 1 GiB,
 * 8 streams of 128 MiB, 300 sequential connection setups (dial, handshake, first stream, 1-byte
 * round trip), 8-byte round trips on an open stream, CPU seconds per GiB (both processes), peak
 * RSS of the server and of either side during the 1 GiB transfers.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { existsSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { argValue, peerCommand } from './usage.ts'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..')
const args = process.argv.slice(2)
const quick = args.includes('--quick')
const GiB = 1024 ** 3
const MiB = 1024 ** 2
const bulk = Math.round(Number(argValue(args, 'gib', quick ? '0.25' : '1')) * GiB)
const multi = quick ? 32 * MiB : 128 * MiB
const connectCount = quick ? 50 : 300
const rttCount = quick ? 500 : 2000
const only = new Set(argValue(args, 'only', 'native,js,raw').split(','))
const scenarios = new Set(argValue(args, 'scenarios', 'down,up,multi,connect,rtt').split(','))
const transport = argValue(args, 'transport', 'tcp')
if (transport !== 'tcp' && transport !== 'quic') throw new Error(`--transport must be tcp or quic, got ${transport}`)
/** Given to every peer process (bench/perf/peer-protocol.md). */
const peerArgs = ['--transport', transport]

interface Stack { name: string, key: string, peer: string, env?: Record<string, string> }
const STACKS: Stack[] = [
  { name: 'libp2p-native', key: 'native', peer: join(here, 'native-peer.ts') },
  // --only native-inline: our peers with the I/O loop on the JS thread (ioThreads 0, native-core.md)
  { name: 'libp2p-native-inline', key: 'native-inline', peer: join(here, 'native-peer.ts'), env: { LIBP2P_NATIVE_THREADS: '0' } },
  { name: 'js-libp2p', key: 'js', peer: join(here, 'js-peer.ts') },
].filter(s => only.has(s.key))

type Line = Record<string, unknown> & { type: string }

function startPeer (peer: string, peerArgs: string[], env?: Record<string, string>): { child: ChildProcess, lines: AsyncIterator<Line> } {
  const child = spawn(process.execPath, [...peerCommand(root, peer).argv, ...peerArgs], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } })
  const rl = createInterface({ input: child.stdout! })
  const lines = (async function * () {
    for await (const line of rl) {
      try { yield JSON.parse(line) as Line } catch { /* not ours */ }
    }
  })()
  return { child, lines }
}

async function nextOfType (lines: AsyncIterator<Line>, type: string): Promise<Line> {
  while (true) {
    const { value, done } = await lines.next()
    if (done === true) throw new Error(`peer exited before printing ${type}`)
    if (value.type === type) return value
  }
}

interface RunResult { result: Line, clientUsage: Line, serverUsage: Line }

async function run (stack: Stack, clientArgs: string[]): Promise<RunResult> {
  const server = startPeer(stack.peer, ['--role', 'server', ...peerArgs], stack.env)
  let client: ReturnType<typeof startPeer> | undefined
  try {
    const listening = await nextOfType(server.lines, 'listening')
    const addr = (listening.addrs as string[])[0] as string
    client = startPeer(stack.peer, ['--role', 'client', '--addr', addr, ...peerArgs, ...clientArgs], stack.env)
    const result = await nextOfType(client.lines, 'result')
    const clientUsage = await nextOfType(client.lines, 'usage')
    server.child.kill('SIGTERM')
    const serverUsage = await nextOfType(server.lines, 'usage')
    return { result, clientUsage, serverUsage }
  } finally {
    // A failed run must not leave peers behind (they would skew every later figure).
    if (client !== undefined && client.child.exitCode === null) client.child.kill('SIGKILL')
    if (server.child.exitCode === null) server.child.kill('SIGKILL')
  }
}

const cpu = (u: Line): number => (u.cpuUserSeconds as number) + (u.cpuSystemSeconds as number)
const peakRss = (r: RunResult): number => Math.max(r.clientUsage.maxRssBytes as number, r.serverUsage.maxRssBytes as number)
const gbit = (bytes: number, seconds: number): number => bytes * 8 / seconds / 1e9
/** The JS main threads' share of "CPU per GiB" (bench/perf/usage.ts threadCpuSeconds; Linux only). */
function recordJsThread (which: 'download' | 'upload', stack: string, r: RunResult): void {
  const js = (u: Line): number | undefined => (u.threadCpuSeconds as Record<string, number> | undefined)?.['js-main']
  const c = js(r.clientUsage)
  const s = js(r.serverUsage)
  if (c !== undefined && s !== undefined) record(`  of which JS main threads (${which})`, 's/GiB', 'lower', stack, (c + s) / (bulk / GiB))
}

interface Row { scenario: string, unit: string, better: 'higher' | 'lower', values: Record<string, number> }
const rows: Row[] = []
function record (scenario: string, unit: string, better: 'higher' | 'lower', stack: string, value: number): void {
  let row = rows.find(r => r.scenario === scenario)
  if (row === undefined) { row = { scenario, unit, better, values: {} }; rows.push(row) }
  row.values[stack] = value
  process.stderr.write(`  ${stack.padEnd(14)} ${scenario.padEnd(34)} ${value.toFixed(3)} ${unit}\n`)
}

for (const stack of STACKS) {
  if (!existsSync(stack.peer)) { process.stderr.write(`skip ${stack.name}: ${stack.peer} missing\n`); continue }
  process.stderr.write(`== ${stack.name} (peers from ${peerCommand(root, stack.peer).compiled ? 'compiled dist/' : `TypeScript via tsx: ${peerCommand(root, stack.peer).why}`})\n`)
  if (scenarios.has('down')) {
    const down = await run(stack, ['--mode', 'perf', '--upload', '0', '--download', String(bulk)])
    record('download 1 stream', 'Gbit/s', 'higher', stack.name, gbit(bulk, down.result.seconds as number))
    record('CPU per GiB (download, both)', 's/GiB', 'lower', stack.name, (cpu(down.clientUsage) + cpu(down.serverUsage)) / (bulk / GiB))
    recordJsThread('download', stack.name, down)
    record('server peak RSS (download)', 'MiB', 'lower', stack.name, (down.serverUsage.maxRssBytes as number) / MiB)
    record('peak RSS, either side (download)', 'MiB', 'lower', stack.name, peakRss(down) / MiB)
  }
  if (scenarios.has('up')) {
    const up = await run(stack, ['--mode', 'perf', '--upload', String(bulk), '--download', '0'])
    record('upload 1 stream', 'Gbit/s', 'higher', stack.name, gbit(bulk, up.result.seconds as number))
    record('CPU per GiB (upload, both)', 's/GiB', 'lower', stack.name, (cpu(up.clientUsage) + cpu(up.serverUsage)) / (bulk / GiB))
    recordJsThread('upload', stack.name, up)
    record('peak RSS, either side (upload)', 'MiB', 'lower', stack.name, peakRss(up) / MiB)
  }
  if (scenarios.has('multi')) {
    const eight = await run(stack, ['--mode', 'perf', '--upload', '0', '--download', String(multi), '--streams', '8'])
    record(`8 streams x ${multi / MiB} MiB`, 'Gbit/s', 'higher', stack.name, gbit(multi * 8, eight.result.seconds as number))
  }
  if (scenarios.has('connect')) {
    const conn = await run(stack, ['--mode', 'connect', '--count', String(connectCount)])
    record(`connection setup p50 (${connectCount})`, 'ms', 'lower', stack.name, conn.result.p50Ms as number)
  }
  if (scenarios.has('rtt')) {
    const rtt = await run(stack, ['--mode', 'rtt', '--count', String(rttCount), '--size', '8'])
    record('8-byte round trip p50', 'µs', 'lower', stack.name, rtt.result.p50Us as number)
  }
}

/** The raw baseline of each transport: how to build and run it, and which rows one run fills. */
interface RawPump { name: string, build: string[], binary: string, args: string[], runs: Array<'down' | 'up'> }
const RAW: Record<'tcp' | 'quic', RawPump> = {
  tcp: { name: 'raw C pump', build: [join(here, 'build-raw-pump.sh')], binary: join(root, 'build-bench', 'raw_pump'), args: [String(bulk)], runs: ['down'] },
  // Port 0: the pump's server takes any free port, so concurrent runs cannot collide.
  quic: { name: 'raw ngtcp2 pump', build: [join(root, 'bench', 'native', 'build-quic-pump.sh'), '--pump-only'], binary: join(root, 'build-bench', 'quic_pump'), args: [String(Math.round(bulk / MiB)), '0'], runs: ['down', 'up'] },
}
const raw = RAW[transport]
const rawRuns = raw.runs.filter(r => scenarios.has(r))
if (only.has('raw') && rawRuns.length > 0) {
  const build = spawnSync('bash', raw.build, { cwd: root, stdio: 'inherit' })
  if (build.status === 0 && existsSync(raw.binary)) {
    process.stderr.write(`== ${raw.name}\n`)
    for (const which of rawRuns) {
      const out = spawnSync(raw.binary, raw.args, { encoding: 'utf8' })
      const line = JSON.parse(out.stdout.trim().split('\n').pop() as string) as { bytes?: number, seconds: number, cpu_user_s?: number, cpu_system_s?: number, max_rss_bytes?: number }
      const bytes = line.bytes ?? bulk
      record(which === 'down' ? 'download 1 stream' : 'upload 1 stream', 'Gbit/s', 'higher', raw.name, gbit(bytes, line.seconds))
      if (line.cpu_user_s !== undefined && line.cpu_system_s !== undefined) {
        record(`CPU per GiB (${which === 'down' ? 'download' : 'upload'}, both)`, 's/GiB', 'lower', raw.name, (line.cpu_user_s + line.cpu_system_s) / (bytes / GiB))
      }
      if (line.max_rss_bytes !== undefined) record(`peak RSS, either side (${which === 'down' ? 'download' : 'upload'})`, 'MiB', 'lower', raw.name, line.max_rss_bytes / MiB)
    }
  }
}

// Table with ratios native / js (and native / raw).
const jsName = transport === 'quic' ? 'js-libp2p + chainsafe quic' : 'js-libp2p'
const inline = STACKS.some(s => s.key === 'native-inline')
process.stdout.write(`\ntransport: ${transport}\n| scenario | libp2p-native |${inline ? ' native-inline | inline vs native |' : ''} ${jsName} | native vs js | ${raw.name} | native / raw |\n|---|---|${inline ? '---|---|' : ''}---|---|---|---|\n`)
for (const row of rows) {
  const n = row.values['libp2p-native']
  const ni = row.values['libp2p-native-inline']
  const j = row.values['js-libp2p']
  const r = row.values[raw.name]
  const fmt = (v: number | undefined): string => v === undefined ? '—' : `${v.toFixed(2)} ${row.unit}`
  let ratio = '—'
  if (n !== undefined && j !== undefined) ratio = row.better === 'higher' ? `${(n / j).toFixed(2)}×` : `${(j / n).toFixed(2)}× better`
  // As a share of the raw pump's figure: for "lower is better" rows, raw / native (100% = as lean).
  const rawRatio = n !== undefined && r !== undefined ? `${(100 * (row.better === 'higher' ? n / r : r / n)).toFixed(0)}%` : '—'
  let inlineCols = ''
  if (inline) {
    const vs = n !== undefined && ni !== undefined ? (row.better === 'higher' ? `${(ni / n).toFixed(2)}×` : `${(n / ni).toFixed(2)}× better`) : '—'
    inlineCols = ` ${fmt(ni)} | ${vs} |`
  }
  process.stdout.write(`| ${row.scenario} | ${fmt(n)} |${inlineCols} ${fmt(j)} | ${ratio} | ${fmt(r)} | ${rawRatio} |\n`)
}
const jsonOut = args.includes('--json') ? argValue(args, 'json') : undefined
if (jsonOut !== undefined) writeFileSync(jsonOut, JSON.stringify({ date: new Date().toISOString(), transport, bulk, rows }, null, 2))
