// Reads the compare.ts JSON files that bench/allocator/run.sh wrote (<allocator>-<round>.json) and
// prints one Markdown table: per scenario and allocator, the median of the rounds, the min-max range,
// and the median relative to the first allocator (system).
//   node bench/allocator/table.mjs <results dir> system mimalloc jemalloc
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const [dir, ...allocators] = process.argv.slice(2)
if (dir === undefined || allocators.length === 0) {
  console.error('usage: node bench/allocator/table.mjs <results dir> <allocator>...')
  process.exit(2)
}

/** scenario -> { unit, better, values: allocator -> number[] } */
const scenarios = new Map()
for (const a of allocators) {
  const files = readdirSync(dir).filter(f => f.startsWith(`${a}-`) && f.endsWith('.json'))
  if (files.length === 0) throw new Error(`no results for ${a} in ${dir}`)
  for (const f of files) {
    const { rows } = JSON.parse(readFileSync(join(dir, f), 'utf8'))
    for (const row of rows) {
      const v = row.values['libp2p-native']
      if (v === undefined) continue
      let s = scenarios.get(row.scenario)
      if (s === undefined) { s = { unit: row.unit, better: row.better, values: new Map() }; scenarios.set(row.scenario, s) }
      if (!s.values.has(a)) s.values.set(a, [])
      s.values.get(a).push(v)
    }
  }
}

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}
const fmt = (v) => v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)

const base = allocators[0]
let out = `| scenario | ${allocators.map(a => `${a} (median, min-max)`).join(' | ')} | ${allocators.slice(1).map(a => `${a} vs ${base}`).join(' | ')} |\n`
out += `|---|${allocators.map(() => '---').join('|')}|${allocators.slice(1).map(() => '---').join('|')}|\n`
for (const [name, s] of scenarios) {
  const cells = allocators.map(a => {
    const xs = s.values.get(a) ?? []
    if (xs.length === 0) return '—'
    return `${fmt(median(xs))} ${s.unit} (${fmt(Math.min(...xs))}-${fmt(Math.max(...xs))}, n=${xs.length})`
  })
  const b = s.values.get(base)
  const ratios = allocators.slice(1).map(a => {
    const xs = s.values.get(a)
    if (xs === undefined || b === undefined) return '—'
    // Written so that > 1.00 always means "better than the base allocator".
    const r = s.better === 'higher' ? median(xs) / median(b) : median(b) / median(xs)
    return `${r.toFixed(2)}×`
  })
  out += `| ${name} (${s.better} is better) | ${cells.join(' | ')} | ${ratios.join(' | ')} |\n`
}
process.stdout.write(out)
