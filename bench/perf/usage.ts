/** Process-wide CPU (all threads, native ones included) and peak RSS, as the bench peers report them. */
export interface Usage { type: 'usage', cpuUserSeconds: number, cpuSystemSeconds: number, maxRssBytes: number }

export function usage (): Usage {
  const r = process.resourceUsage()
  return { type: 'usage', cpuUserSeconds: r.userCPUTime / 1e6, cpuSystemSeconds: r.systemCPUTime / 1e6, maxRssBytes: r.maxRSS * 1024 }
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
