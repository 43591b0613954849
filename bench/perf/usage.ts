/**
 * Process-wide CPU (all threads, native ones included) and peak RSS, as the bench peers report them.
 * CPU is counted from `markBaseline()` (called once the peer is set up: listening, or about to
 * dial), so module loading and TypeScript transpilation at start-up are not charged to the transfer.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'

export interface Usage {
  type: 'usage'
  cpuUserSeconds: number
  cpuSystemSeconds: number
  maxRssBytes: number
  /** CPU seconds (user + system) per thread name since the baseline: js-main (the JS thread), l2n-io-0 (native I/O), node (V8/libuv helpers). Linux only. */
  threadCpuSeconds?: Record<string, number>
}

let baseline: NodeJS.CpuUsage = { user: 0, system: 0 }
let threadBaseline = new Map<string, { name: string, ticks: number }>()

export function markBaseline (): void {
  baseline = process.cpuUsage()
  threadBaseline = threadTicks()
}

export function usage (): Usage {
  const cpu = process.cpuUsage(baseline)
  const out: Usage = { type: 'usage', cpuUserSeconds: cpu.user / 1e6, cpuSystemSeconds: cpu.system / 1e6, maxRssBytes: process.resourceUsage().maxRSS * 1024 }
  const now = threadTicks()
  if (now.size > 0) {
    const byName: Record<string, number> = {}
    for (const [tid, t] of now) {
      const seconds = (t.ticks - (threadBaseline.get(tid)?.ticks ?? 0)) / CLOCK_TICKS_PER_SECOND
      if (seconds > 0) byName[t.name] = (byName[t.name] ?? 0) + seconds
    }
    out.threadCpuSeconds = byName
  }
  return out
}

/** USER_HZ: the unit of utime/stime in /proc/<pid>/task/<tid>/stat; 100 on every Linux ABI Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100

/** utime + stime of every thread of this process, by thread id (empty where /proc is missing). */
function threadTicks (): Map<string, { name: string, ticks: number }> {
  const out = new Map<string, { name: string, ticks: number }>()
  let tids: string[]
  try { tids = readdirSync('/proc/self/task') } catch { return out }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
      // Fields after the parenthesised name, which may itself contain spaces or parentheses.
      const close = stat.lastIndexOf(')')
      // The main thread (tid = pid) runs JS; V8's and libuv's helpers are also named "node".
      const name = tid === String(process.pid) ? 'js-main' : stat.slice(stat.indexOf('(') + 1, close)
      const rest = stat.slice(close + 2).split(' ')
      out.set(tid, { name, ticks: Number(rest[11]) + Number(rest[12]) })  // fields 14 and 15 of proc(5)
    } catch { /* the thread ended */ }
  }
  return out
}

export function printLine (value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`)
}

export function argValue (args: string[], name: string, fallback?: string): string {
  const i = args.indexOf(`--${name}`)
  if (i >= 0 && args[i + 1] !== undefined) return args[i + 1] as string
  if (fallback !== undefined) return fallback
  throw new Error(`missing --${name}`)
}

export function percentile (sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number
}

/**
 * How to start a bench peer: from compiled JavaScript (`npm run build:ts` writes dist/) when it is
 * there and newer than every TypeScript source, as a user of the built package runs it (and as
 * bin/libp2p-native.js does); else from the sources through tsx. tsx's loader and the transpiled
 * module cache cost ~35 MiB of RSS in each peer (measured: an idle native server 62 MiB compiled,
 * 96 MiB through tsx), which would otherwise be charged to the stack under test.
 * `L2N_BENCH_FROM_SOURCE=1` forces tsx; `L2N_BENCH_DIST=<dir>` names another tsc output dir, used as
 * is (an A/B snapshot of older sources is older than them by design).
 */
export function peerCommand (root: string, tsPeer: string): { argv: string[], compiled: boolean, why: string } {
  const rel = relative(root, tsPeer).replace(/\.ts$/, '.js')
  const distDir = process.env.L2N_BENCH_DIST ?? 'dist'
  const compiled = join(resolve(root, distDir), rel)
  const source = { argv: ['--import', 'tsx', tsPeer], compiled: false }
  if (process.env.L2N_BENCH_FROM_SOURCE === '1') return { ...source, why: 'L2N_BENCH_FROM_SOURCE=1' }
  if (!existsSync(compiled)) return { ...source, why: `${relative(root, compiled)} missing (npm run build:ts)` }
  // A named tsc output (an A/B snapshot of older sources) is what the caller asked for: used as is.
  if (resolve(root, distDir) !== resolve(root, 'dist')) return { argv: [compiled], compiled: true, why: `${distDir}/ (a snapshot, used as is)` }
  const builtAt = statSync(compiled).mtimeMs
  const newer = newestSource(root, ['src', 'bench/perf', 'test/helpers'])  // what the peers import
  if (newer.mtimeMs > builtAt) return { ...source, why: `dist/ is older than ${relative(root, newer.path)} (npm run build:ts)` }
  return { argv: [compiled], compiled: true, why: 'dist/ up to date' }
}

function newestSource (root: string, dirs: string[]): { path: string, mtimeMs: number } {
  let best = { path: '', mtimeMs: 0 }
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, entry.name)
      if (entry.isDirectory()) walk(p)
      else if (entry.name.endsWith('.ts')) {
        const m = statSync(p).mtimeMs
        if (m > best.mtimeMs) best = { path: p, mtimeMs: m }
      }
    }
  }
  for (const d of dirs) if (existsSync(join(root, d))) walk(join(root, d))
  return best
}
