/**
 * A/B of connection setup between two addon builds, in alternating back-to-back rounds: the
 * compare.ts "connect" scenario (300 sequential setups: dial, handshake, first stream, 1-byte round
 * trip) with each build's peers, reporting per round the setup p50 and the CPU per setup of both
 * processes (client + server, all threads, from the peers' usage lines), the figure that a loaded
 * machine disturbs least.
 *
 *   node --import tsx bench/perf/setup-ab.ts --a <addon.node> --b <addon.node> [--rounds 3]
 *     [--transport quic|tcp] [--count 300] [--threads 1|0] [--a-dist <dir>] [--b-dist <dir>]
 *     [--a-env NAME=VALUE,...] [--b-env NAME=VALUE,...]
 *
 * Peers run from L2N_BENCH_DIST (or dist/), as compare.ts's, or from --a-dist / --b-dist (tsc
 * output dirs, to compare TypeScript changes). --a-env / --b-env set environment variables for one
 * side's peers (one build with a switch on and off, e.g. --a <x> --b <x> --b-env
 * LIBP2P_NATIVE_GNUTLS_NETTLE=1). Run it under the bench lock.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { argValue, peerCommand } from './usage.ts'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..')
const args = process.argv.slice(2)
const builds = { A: argValue(args, 'a'), B: argValue(args, 'b') }
const dists = { A: argValue(args, 'a-dist', process.env.L2N_BENCH_DIST ?? 'dist'), B: argValue(args, 'b-dist', process.env.L2N_BENCH_DIST ?? 'dist') }
const parseEnv = (v: string | undefined): Record<string, string> =>
  Object.fromEntries((v ?? '').split(',').filter(kv => kv.includes('=')).map(kv => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]))
const envs = { A: parseEnv(argValue(args, 'a-env', '')), B: parseEnv(argValue(args, 'b-env', '')) }
const rounds = Number(argValue(args, 'rounds', '3'))
const transport = argValue(args, 'transport', 'quic')
const count = argValue(args, 'count', '300')
const threads = argValue(args, 'threads', '1')
const peer = join(here, 'native-peer.ts')

type Line = Record<string, unknown> & { type: string }

function start (role: string, extra: string[], addon: string, env: Record<string, string>): { lines: AsyncIterator<Line>, child: ChildProcess } {
  const child = spawn(process.execPath, [...peerCommand(root, peer).argv, '--role', role, '--transport', transport, ...extra], {
    cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env, LIBP2P_NATIVE_ADDON: addon, LIBP2P_NATIVE_THREADS: threads }
  })
  const rl = createInterface({ input: child.stdout })
  const lines = (async function * () {
    for await (const l of rl) { try { yield JSON.parse(l) as Line } catch { /* not ours */ } }
  })()
  return { lines, child }
}

async function next (lines: AsyncIterator<Line>, type: string): Promise<Line> {
  while (true) {
    const { value, done } = await lines.next()
    if (done === true) throw new Error(`peer exited before ${type}`)
    if (value.type === type) return value
  }
}

const cpuUs = (u: Line): number => ((u.cpuUserSeconds as number) + (u.cpuSystemSeconds as number)) * 1e6

interface Round { p50: number, cpu: number, clientCpu: number, serverCpu: number }

async function once (addon: string, dist: string, env: Record<string, string>): Promise<Round> {
  process.env.L2N_BENCH_DIST = dist  // read by peerCommand
  const server = start('server', [], addon, env)
  let client: ReturnType<typeof start> | undefined
  try {
    const addr = ((await next(server.lines, 'listening')).addrs as string[])[0] as string
    client = start('client', ['--addr', addr, '--mode', 'connect', '--count', count], addon, env)
    const result = await next(client.lines, 'result')
    const cu = await next(client.lines, 'usage')
    server.child.kill('SIGTERM')  // the server prints its usage line on SIGTERM (as in compare.ts)
    const su = await next(server.lines, 'usage')
    const n = Number(count)
    return { p50: (result.p50Ms as number) * 1000, cpu: (cpuUs(cu) + cpuUs(su)) / n, clientCpu: cpuUs(cu) / n, serverCpu: cpuUs(su) / n }
  } finally {
    if (client !== undefined && client.child.exitCode === null) client.child.kill('SIGKILL')
    if (server.child.exitCode === null) server.child.kill('SIGKILL')
  }
}

if (builds.A === undefined || builds.B === undefined) throw new Error('usage: setup-ab.ts --a <addon.node> --b <addon.node>')
for (const k of ['A', 'B'] as const) {
  process.env.L2N_BENCH_DIST = dists[k]
  const how = peerCommand(root, peer)
  // A stale tsc dir silently runs the current sources instead: say which code each side runs.
  const envText = Object.entries(envs[k]).map(([n, v]) => ` ${n}=${v}`).join('')
  console.log(`${k}: addon ${builds[k]}${envText}, peers ${how.compiled ? `from ${dists[k]}` : `from TypeScript sources (${how.why})`}`)
}
const results: Record<string, Round[]> = { A: [], B: [] }
for (let r = 0; r < rounds; r++) {
  for (const k of (r % 2 === 0 ? ['A', 'B'] : ['B', 'A']) as Array<'A' | 'B'>) {
    const x = await once(builds[k] as string, dists[k], envs[k])
    results[k]?.push(x)
    console.log(`round ${r + 1} ${k}: setup p50 ${x.p50.toFixed(0)} us, CPU per setup ${x.cpu.toFixed(0)} us (client ${x.clientCpu.toFixed(0)}, server ${x.serverCpu.toFixed(0)})`)
  }
}
const med = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? NaN }
for (const k of ['A', 'B'] as const) {
  const rs = results[k] ?? []
  console.log(`${k} ${builds[k]} (${dists[k]}): median of rounds: p50 ${med(rs.map(x => x.p50)).toFixed(0)} us, CPU per setup ${med(rs.map(x => x.cpu)).toFixed(0)} us`)
}
