/**
 * `npm run bench:micro`: runs every micro-benchmark of bench/micro/ one after the other (each in its
 * own process, so one bench's garbage and JIT state do not weigh on the next), shows their output,
 * then prints one summary table from the `{"bench": ...}` JSON lines they print.
 *   node --import tsx bench/micro/run.ts [timeMs per task, default 200]
 * About 15 s in all at the default budget on this 2-core machine.
 */
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadavg } from 'node:os'
import { fmtNs, type Row } from './report.ts'

const here = dirname(fileURLToPath(import.meta.url))
const timeMs = process.argv[2] ?? '200'
/** In run order: pure-JS codecs first, then the boundary (which starts native I/O threads). */
const BENCHES = ['codecs.bench.ts', 'boundary.bench.ts', 'identity.bench.ts']

interface Summary { bench: string, rows?: Row[], meanUs?: Record<string, number> }
const summaries: Summary[] = []
const loadBefore = loadavg()
for (const file of BENCHES) {
  console.log(`\n===== ${file}`)
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, file), timeMs], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  process.stdout.write(r.stdout)
  if (r.status !== 0) { console.error(`${file} failed (exit ${r.status})`); process.exitCode = 1; continue }
  for (const line of r.stdout.split('\n')) if (line.startsWith('{"bench"')) summaries.push(JSON.parse(line) as Summary)
}

console.log(`\n===== summary (medians; js/ours above 1 means we are faster; load average ${loadBefore.map(x => x.toFixed(2)).join(' ')} at start, ${loadavg().map(x => x.toFixed(2)).join(' ')} at end)`)
console.log('| bench | case | ours | js-libp2p | js/ours |\n|---|---|---|---|---|')
for (const s of summaries) {
  for (const row of s.rows ?? []) {
    console.log(`| ${s.bench} | ${row.case}${row.note !== undefined ? ` (${row.note})` : ''} | ${fmtNs(row.oursNs)} | ${fmtNs(row.jsNs)} | ${row.ratio !== undefined ? `${row.ratio.toFixed(2)}×` : '—'} |`)
  }
  // identity.bench.ts predates report.ts: it prints means in µs per task.
  for (const [name, us] of Object.entries(s.meanUs ?? {})) console.log(`| ${s.bench} | ${name} (mean) | ${fmtNs(us * 1000)} | — | — |`)
}
