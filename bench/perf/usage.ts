/**
 * Process-wide CPU (all threads, native ones included) and peak RSS, as the bench peers report them.
 * CPU is counted from `markBaseline()` (called once the peer is set up: listening, or about to
 * dial), so module loading and TypeScript transpilation at start-up are not charged to the transfer.
 */
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
