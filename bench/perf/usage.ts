/**
 * Process-wide CPU (all threads, native ones included) and peak RSS, as the bench peers report them.
 * CPU is counted from `markBaseline()` (called once the peer is set up: listening, or about to
 * dial), so module loading and TypeScript transpilation at start-up are not charged to the transfer.
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'

export interface Usage { type: 'usage', cpuUserSeconds: number, cpuSystemSeconds: number, maxRssBytes: number }

let baseline: NodeJS.CpuUsage = { user: 0, system: 0 }

export function markBaseline (): void {
  baseline = process.cpuUsage()
}

export function usage (): Usage {
  const cpu = process.cpuUsage(baseline)
  return { type: 'usage', cpuUserSeconds: cpu.user / 1e6, cpuSystemSeconds: cpu.system / 1e6, maxRssBytes: process.resourceUsage().maxRSS * 1024 }
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
 * `L2N_BENCH_FROM_SOURCE=1` forces tsx; `L2N_BENCH_DIST=<dir>` names another tsc output dir.
 */
export function peerCommand (root: string, tsPeer: string): { argv: string[], compiled: boolean, why: string } {
  const rel = relative(root, tsPeer).replace(/\.ts$/, '.js')
  const compiled = join(resolve(root, process.env.L2N_BENCH_DIST ?? 'dist'), rel)
  const source = { argv: ['--import', 'tsx', tsPeer], compiled: false }
  if (process.env.L2N_BENCH_FROM_SOURCE === '1') return { ...source, why: 'L2N_BENCH_FROM_SOURCE=1' }
  if (!existsSync(compiled)) return { ...source, why: `${relative(root, compiled)} missing (npm run build:ts)` }
  const builtAt = statSync(compiled).mtimeMs
  const newer = newestSource(root, ['src', 'bench', 'test/helpers'])
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
