/**
 * Shared by the micro-benchmarks: runs a tinybench Bench whose tasks are named `<case> | ours` and
 * `<case> | js-libp2p`, prints tinybench's table, then one line per case with both medians and the
 * ratio (js-libp2p time / our time: above 1 means we are faster), and finally one JSON line
 * (`{"bench": name, "rows": [...]}`) that bench/micro/run.ts collects into its summary table.
 * Medians (p50), not means: on a shared machine a few descheduled samples move the mean by 30% or
 * more (tinybench's own ± figures), the median far less.
 */
import { Bench } from 'tinybench'

/** Time budget per task in ms: short because two cores are shared (helper rules); argv[2] overrides. */
export const TIME_MS = Number(process.argv[2] ?? 200)
/** Warm-up per task: enough for V8 to optimise these small functions. */
export const WARMUP_MS = 50

export const OURS = 'ours'
export const JS = 'js-libp2p'

export interface Row { case: string, oursNs?: number, jsNs?: number, ratio?: number, note?: string }

export function newBench (): Bench {
  return new Bench({ time: TIME_MS, warmupTime: WARMUP_MS })
}

function medianNs (bench: Bench, name: string): number | undefined {
  const task = bench.tasks.find(t => t.name === name)
  const r = task?.result as { latency?: { p50?: number } } | undefined
  const ms = r?.latency?.p50
  return ms === undefined ? undefined : ms * 1e6
}

export function fmtNs (ns: number | undefined): string {
  if (ns === undefined) return '—'
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`
  return `${ns.toFixed(0)} ns`
}

/** Runs the bench and reports every `<case> | ours` / `<case> | js-libp2p` pair (or a lone task). */
export async function runAndReport (name: string, bench: Bench, notes: Record<string, string> = {}): Promise<Row[]> {
  await bench.run()
  console.table(bench.table())
  const cases: string[] = []
  for (const t of bench.tasks) {
    const c = t.name.split(' | ')[0] as string
    if (!cases.includes(c)) cases.push(c)
  }
  const rows: Row[] = cases.map(c => {
    const oursNs = medianNs(bench, `${c} | ${OURS}`) ?? medianNs(bench, c)
    const jsNs = medianNs(bench, `${c} | ${JS}`)
    const row: Row = { case: c }
    if (oursNs !== undefined) row.oursNs = +oursNs.toFixed(1)
    if (jsNs !== undefined) row.jsNs = +jsNs.toFixed(1)
    if (oursNs !== undefined && jsNs !== undefined) row.ratio = +(jsNs / oursNs).toFixed(2)
    if (notes[c] !== undefined) row.note = notes[c]
    return row
  })
  printRows(rows)
  console.log(JSON.stringify({ bench: name, timeMs: TIME_MS, rows }))
  return rows
}

export function printRows (rows: Row[]): void {
  const w = Math.max(...rows.map(r => r.case.length), 4)
  console.log(`${'case'.padEnd(w)}  ${'ours'.padStart(10)}  ${'js-libp2p'.padStart(10)}  js/ours`)
  for (const r of rows) {
    const ratio = r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}×`
    console.log(`${r.case.padEnd(w)}  ${fmtNs(r.oursNs).padStart(10)}  ${fmtNs(r.jsNs).padStart(10)}  ${ratio}${r.note !== undefined ? `  (${r.note})` : ''}`)
  }
}
