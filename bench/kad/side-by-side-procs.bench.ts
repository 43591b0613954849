/**
 * Lookups on a network of our nodes and on a network of js-libp2p 3 @libp2p/kad-dht nodes of the
 * same size, each network split over the same number of worker processes and joined over loopback
 * TCP, side by side in one run (issue 5: "the same lookups against a network of @libp2p/kad-dht
 * nodes of the same size (200)"). One process cannot hold 200 js nodes: their set-up did not end in
 * 580 s on one event loop (lookup.md), so node i lives in worker i mod P (its bootstrap peers, node 0
 * and node i-1, are then in other processes).
 *   node --import tsx bench/kad/side-by-side-procs.bench.ts [nodes=200] [procs=8] [lookups=60] [side=both|ours|js] [setupLimitS=900]
 * Set-up: start every node; each node i > 0 learns node 0 and node i-1 (ours: addAddress; js: dials
 * them); 2 s for identify; then each node's bootstrap lookup (ours: bootstrap(); js: getClosestPeers
 * of itself), PROCS at a time. Progress lines go to stderr; a set-up that passes setupLimitS is
 * abandoned and reported as such; a bootstrap lookup that fails is counted (`bootstrapFailed`) and
 * the set-up goes on. Then LOOKUPS lookups one at a time: getClosestPeers of node
 * rand(N) from node rand(N), the same LCG and seed as side-by-side.bench.ts, so both sides look up
 * the same indices. Per lookup: `sent` = requests the originator sent (ours: query stats; js:
 * SEND_QUERY events), `wire` = FIND_NODE requests for that key that arrived at any node (counted
 * by every worker's receiving side, 100 ms after the lookup ended, so late requests count too),
 * latency = the originator's wall clock around the lookup, `failed` = lookups that ended with an
 * error (both sides give up after 60 s: ours' queryTimeout, js through an AbortSignal). Both use α = 3, k = 20 (bench/kad/nodes.ts).
 * Prints one JSON line per side and, with side=both, a Markdown table of the two
 * (KAD_BENCH_VERBOSE=1 adds one stderr line per lookup).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { PeerId } from '../../src/identity/peer-id.ts'
import { median, p90 } from './nodes.ts'

const N = Number(process.argv[2] ?? 200)
const PROCS = Number(process.argv[3] ?? 8)
const LOOKUPS = Number(process.argv[4] ?? 60)
const SIDE = process.argv[5] ?? 'both'
const SETUP_LIMIT_S = Number(process.argv[6] ?? 900)
if (!['both', 'ours', 'js'].includes(SIDE)) throw new Error(`side must be both, ours or js, not ${SIDE}`)
if (!(N >= 2 && PROCS >= 1 && PROCS <= N && LOOKUPS >= 1)) throw new Error('need nodes >= 2, 1 <= procs <= nodes, lookups >= 1')
/** Time for identify between freshly connected nodes before the bootstrap lookups (as side-by-side.bench.ts gives js). */
const IDENTIFY_SETTLE_MS = 2_000
/** Requests for a lookup's key that arrive this long after it ended still count as its messages. */
const LATE_REQUEST_MS = 100
/** Bootstrap lookups in flight at once: one per worker, so no event loop runs two. */
const SETUP_CONCURRENCY = PROCS
/** KAD_BENCH_VERBOSE=1: one stderr line per lookup. */
const VERBOSE = process.env.KAD_BENCH_VERBOSE === '1'
const WORKER = fileURLToPath(new URL('./side-by-side-worker.ts', import.meta.url))

class Worker {
  private nextId = 0
  private readonly pending = new Map<number, { resolve: (r: any) => void, reject: (e: Error) => void }>()
  readonly child: ChildProcess
  constructor () {
    this.child = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.child.on('message', (m: any) => {
      const p = this.pending.get(m.id)
      if (p === undefined) return
      this.pending.delete(m.id)
      if (m.error !== undefined) p.reject(new Error(`worker: ${m.error}`)); else p.resolve(m)
    })
    this.child.on('exit', code => {
      for (const p of this.pending.values()) p.reject(new Error(`worker exited with ${code}`))
      this.pending.clear()
    })
  }

  async call (req: Record<string, unknown>): Promise<any> {
    const id = this.nextId++
    return await new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      this.child.send({ id, ...req })
    })
  }
}

let seed = 7
function rand (n: number): number { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n }

/** Run `f(i)` for i in [from, to) with at most `limit` in flight, in index order. */
async function pool (from: number, to: number, limit: number, f: (i: number) => Promise<void>): Promise<void> {
  let next = from
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < to) { const i = next++; await f(i) }
  }))
}

interface SideResult { side: string, [k: string]: unknown }

async function runSide (kind: 'ours' | 'js'): Promise<SideResult> {
  const label = kind === 'ours' ? 'libp2p-native' : '@libp2p/kad-dht'
  const t0 = performance.now()
  const secs = (): string => ((performance.now() - t0) / 1000).toFixed(1)
  const workers = Array.from({ length: PROCS }, () => new Worker())
  const rss = new Map<number, number>()
  const progress = (what: string): void => {
    const total = [...rss.values()].reduce((a, b) => a + b, 0)
    process.stderr.write(`# ${label} ${secs()} s: ${what}, rss ${total} MiB in ${PROCS} processes\n`)
  }
  let stage = 'start'
  let bootstrapFailed = 0
  let deadline: NodeJS.Timeout | undefined
  const overLimit = new Promise<never>((_resolve, reject) => { deadline = setTimeout(() => reject(new Error(`set-up not finished in ${SETUP_LIMIT_S} s (at: ${stage})`)), SETUP_LIMIT_S * 1000) })
  const nodes: Array<{ w: Worker, local: number, peerId: string, addr: string }> = []
  const stopAll = async (): Promise<number[]> => await Promise.all(workers.map(async w => {
    try { return (await w.call({ cmd: 'stop' })).peakRssMiB as number } catch { w.child.kill(); return 0 }
  }))
  try {
    await Promise.race([overLimit, (async () => {
      const started = await Promise.all(workers.map(async (w, wi) => {
        const count = Math.floor((N - 1 - wi) / PROCS) + 1
        const r = await w.call({ cmd: 'start', kind, count })
        rss.set(wi, r.rssMiB)
        return r.nodes as Array<{ peerId: string, addr: string }>
      }))
      for (let i = 0; i < N; i++) {
        const wi = i % PROCS
        const local = Math.floor(i / PROCS)
        const n = started[wi]?.[local]
        if (n === undefined) throw new Error(`worker ${wi} has no node ${local}`)
        nodes.push({ w: workers[wi] as Worker, local, ...n })
      }
      progress(`${N} nodes started`)
      stage = 'connect'
      await pool(1, N, SETUP_CONCURRENCY, async i => {
        const n = nodes[i] as typeof nodes[number]
        const peers = [nodes[0], nodes[i - 1]].filter((p, j, a) => a.indexOf(p) === j).map(p => ({ peerId: p!.peerId, addr: p!.addr }))
        await n.w.call({ cmd: 'connect', node: n.local, peers })
      })
      await new Promise(resolve => setTimeout(resolve, IDENTIFY_SETTLE_MS))
      progress('bootstrap peers known (js: dialled)')
      stage = 'bootstrap lookups'
      let done = 0
      await pool(1, N, SETUP_CONCURRENCY, async i => {
        const n = nodes[i] as typeof nodes[number]
        const r = await n.w.call({ cmd: 'selfLookup', node: n.local })
        rss.set(workers.indexOf(n.w), r.rssMiB)
        if (r.failed !== undefined) { bootstrapFailed++; progress(`bootstrap lookup of node ${i} failed: ${String(r.failed)}`) }
        if (++done % 20 === 0) { stage = `${done} bootstrap lookups`; progress(stage) }
      })
    })()])
  } catch (err) {
    clearTimeout(deadline)
    progress(`abandoned: ${(err as Error).message}`)
    const peaks = await stopAll()
    return { side: label, nodes: N, procs: PROCS, setupS: null, setupLimitS: SETUP_LIMIT_S, reached: stage, peakRssMiBSum: peaks.reduce((a, b) => a + b, 0), error: (err as Error).message }
  }
  clearTimeout(deadline)
  const setupS = +secs()
  progress('set-up done')

  seed = 7
  const sent: number[] = []
  const wire: number[] = []
  const ms: number[] = []
  let found = 0
  let failed = 0
  for (let q = 0; q < LOOKUPS; q++) {
    const from = nodes[rand(N)] as typeof nodes[number]
    const target = nodes[rand(N)] as typeof nodes[number]
    const key = Buffer.from(PeerId.parse(target.peerId).bytes).toString('hex')
    await Promise.all(workers.map(async w => await w.call({ cmd: 'watch', key })))
    const r = await from.w.call({ cmd: 'lookup', node: from.local, target: target.peerId })
    await new Promise(resolve => setTimeout(resolve, LATE_REQUEST_MS))
    const counts = await Promise.all(workers.map(async w => (await w.call({ cmd: 'watched' })).count as number))
    await Promise.all(workers.map(async w => await w.call({ cmd: 'watch', key: undefined })))
    sent.push(r.sent)
    wire.push(counts.reduce((a, b) => a + b, 0))
    ms.push(r.ms)
    if (r.found === true) found++
    if (r.error !== undefined) failed++
    if (VERBOSE) process.stderr.write(`# ${label} lookup ${q}: ${JSON.stringify({ ...r, wire: wire.at(-1), ms: +r.ms.toFixed(1), id: undefined })}\n`)
  }
  const peaks = await stopAll()
  return {
    side: label,
    nodes: N,
    procs: PROCS,
    lookups: LOOKUPS,
    found,
    failed,
    medianMessages: median(sent),
    p90Messages: p90(sent),
    medianWire: median(wire),
    p90Wire: p90(wire),
    medianMs: +median(ms).toFixed(1),
    p90Ms: +p90(ms).toFixed(1),
    setupS,
    bootstrapFailed,
    peakRssMiBSum: peaks.reduce((a, b) => a + b, 0),
    peakRssMiBMax: Math.max(...peaks)
  }
}

const results: SideResult[] = []
for (const kind of ['ours', 'js'] as const) {
  if (SIDE !== 'both' && SIDE !== kind) continue
  const r = await runSide(kind)
  console.log(JSON.stringify(r))
  results.push(r)
}
if (results.length === 2) {
  const cell = (r: SideResult, a: string, b: string, unit = ''): string => r[a] === undefined ? '—' : `${String(r[a])}${unit} / ${String(r[b])}${unit}`
  console.log(`\n${N} nodes in ${PROCS} processes per side, loopback TCP, ${LOOKUPS} lookups\n`)
  console.log('| side | found | messages sent (median / p90) | FIND_NODE received (median / p90) | latency (median / p90) | set-up | peak RSS (sum / largest process) |')
  console.log('| --- | --- | --- | --- | --- | --- | --- |')
  for (const r of results) {
    const setup = r.setupS === null ? `not finished in ${String(r.setupLimitS)} s` : `${String(r.setupS)} s${r.bootstrapFailed !== 0 ? ` (${String(r.bootstrapFailed)} bootstrap lookups failed)` : ''}`
    console.log(`| ${r.side} | ${r.found === undefined ? '—' : `${String(r.found)}/${LOOKUPS}${r.failed !== 0 ? ` (${String(r.failed)} failed)` : ''}`} | ${cell(r, 'medianMessages', 'p90Messages')} | ${cell(r, 'medianWire', 'p90Wire')} | ${cell(r, 'medianMs', 'p90Ms', ' ms')} | ${setup} | ${String(r.peakRssMiBSum)} / ${r.peakRssMiBMax === undefined ? '—' : String(r.peakRssMiBMax)} MiB |`)
  }
}
