/**
 * Lookups on a network of our nodes and on a network of js-libp2p @libp2p/kad-dht nodes of the
 * same size, side by side in one process over loopback TCP: messages and wall-clock latency per
 * lookup (getClosestPeers of a random node, from a random node). Both use α = 3, k = 20 (js's
 * defaults; ours configured to match) on a private protocol prefix. Prints one JSON line per side.
 *   node --import tsx bench/kad/side-by-side.bench.ts [nodes=30] [lookups=60] [side=both|ours|js]
 * `side` runs one network per process (at 200 nodes each, two networks in one process would share
 * one event loop and heap). Each line also gives the set-up time and the process's peak RSS.
 * Each node bootstraps from node 0 and its predecessor; tables then fill from identify and
 * lookups. Needs the native addon. The nodes are in nodes.ts; side-by-side-procs.bench.ts runs the
 * same lookups with each network split over several processes (the only way to 200 js nodes).
 */
import { ourNode, jsNode, median, p90, type BenchNode } from './nodes.ts'

const N = Number(process.argv[2] ?? 30)
const LOOKUPS = Number(process.argv[3] ?? 60)
const SIDE = process.argv[4] ?? 'both'
if (!['both', 'ours', 'js'].includes(SIDE)) throw new Error(`side must be both, ours or js, not ${SIDE}`)
/** Time for identify between freshly connected nodes before the bootstrap lookups. */
const IDENTIFY_SETTLE_MS = 2_000
/** Set-up progress on stderr, so a run that does not finish still shows how far it got. */
const progress = (side: string, t0: number, what: string): void => { process.stderr.write(`# ${side} ${((performance.now() - t0) / 1000).toFixed(1)} s: ${what}, rss ${Math.round(process.memoryUsage.rss() / 2 ** 20)} MiB\n`) }
/** Set-up time (node start, bootstrap) and peak RSS so far, printed with each side's figures. */
const cost = (setupMs: number) => ({ setupS: +(setupMs / 1000).toFixed(1), peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) })
let seed = 7
function rand (n: number): number { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n }

async function run (side: string, make: () => Promise<BenchNode>): Promise<void> {
  const t0 = performance.now()
  const nodes: BenchNode[] = []
  for (let i = 0; i < N; i++) nodes.push(await make())
  const at = (i: number): BenchNode => nodes[i] as BenchNode
  progress(side, t0, `${N} nodes started`)
  for (let i = 1; i < N; i++) await at(i).connect([...new Set([at(0), at(i - 1)])])
  await new Promise(resolve => setTimeout(resolve, IDENTIFY_SETTLE_MS))
  progress(side, t0, 'bootstrap peers known (js: dialled)')
  for (let i = 1; i < N; i++) {
    if (i % 20 === 0) progress(side, t0, `${i} bootstrap lookups`)
    await at(i).selfLookup()
  }
  const setup = performance.now() - t0
  const msgs: number[] = []
  const ms: number[] = []
  let found = 0
  for (let q = 0; q < LOOKUPS; q++) {
    const from = at(rand(N))
    const target = at(rand(N))
    const r = await from.lookup(target.peerId)
    ms.push(r.ms)
    msgs.push(r.sent)
    if (r.found) found++
  }
  console.log(JSON.stringify({ side, nodes: N, lookups: LOOKUPS, found, medianMessages: median(msgs), p90Messages: p90(msgs), medianMs: +median(ms).toFixed(1), p90Ms: +p90(ms).toFixed(1), ...cost(setup) }))
  await Promise.all(nodes.map(async n => { await n.stop() }))
}

if (SIDE !== 'js') await run('libp2p-native', ourNode)
seed = 7
if (SIDE !== 'ours') await run('@libp2p/kad-dht', jsNode)
