/**
 * One worker process of side-by-side-procs.bench.ts: hosts some of the network's nodes (all of one
 * kind, ours or js) and runs what the coordinator asks over the fork IPC channel. Every request
 * carries an id that its reply repeats (rust-libp2p's QueryId style); a failure replies `error`.
 * Not meant to be run by hand.
 */
import { ourNode, jsNode, type BenchNode } from './nodes.ts'

type Request =
  | { id: number, cmd: 'start', kind: 'ours' | 'js', count: number }
  | { id: number, cmd: 'connect', node: number, peers: Array<{ peerId: string, addr: string }> }
  | { id: number, cmd: 'selfLookup', node: number }
  | { id: number, cmd: 'watch', key: string | undefined }
  | { id: number, cmd: 'watched' }
  | { id: number, cmd: 'lookup', node: number, target: string }
  | { id: number, cmd: 'stats' }
  | { id: number, cmd: 'stop' }

const nodes: BenchNode[] = []
const rssMiB = (): number => Math.round(process.memoryUsage.rss() / 2 ** 20)
const peakRssMiB = (): number => Math.round(process.resourceUsage().maxRSS / 1024)
const at = (i: number): BenchNode => {
  const n = nodes[i]
  if (n === undefined) throw new Error(`no node ${i} in this worker`)
  return n
}

async function handle (req: Request): Promise<Record<string, unknown>> {
  switch (req.cmd) {
    case 'start':
      for (let i = 0; i < req.count; i++) nodes.push(req.kind === 'ours' ? await ourNode() : await jsNode())
      return { nodes: nodes.map(n => ({ peerId: n.peerId, addr: n.addr })), rssMiB: rssMiB() }
    case 'connect': await at(req.node).connect(req.peers); return {}
    case 'selfLookup': return { rssMiB: rssMiB(), failed: await at(req.node).selfLookup() }
    case 'watch': for (const n of nodes) n.watch(req.key); return {}
    case 'watched': return { count: nodes.reduce((a, n) => a + n.watched(), 0) }
    case 'lookup': return { ...(await at(req.node).lookup(req.target)) }
    case 'stats': return { rssMiB: rssMiB(), peakRssMiB: peakRssMiB() }
    case 'stop':
      await Promise.all(nodes.map(async n => { await n.stop() }))
      return { peakRssMiB: peakRssMiB() }
  }
}

process.on('message', (req: Request) => {
  handle(req).then(
    reply => { process.send?.({ id: req.id, ...reply }, () => { if (req.cmd === 'stop') process.exit(0) }) },
    (err: unknown) => { process.send?.({ id: req.id, error: String((err as Error)?.stack ?? err) }) }
  )
})
process.on('disconnect', () => process.exit(0))
