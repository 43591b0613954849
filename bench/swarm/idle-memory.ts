/**
 * Idle connections between two processes (the Swarm issue's target: 10,000 established idle
 * connections on loopback, under 20 KiB per connection on each side, JS heap plus native memory,
 * and an event-loop delay p99 under 10 ms while they are held):
 *
 *   npm run build:ts   # or: npx tsc -p tsconfig.json --outDir <dir> and L2N_BENCH_DIST=<dir>
 *   node --import tsx bench/swarm/idle-memory.ts [connections=10000] [holdSeconds=30] [dialerPeers=1]
 *
 * (LIBP2P_NATIVE_ADDON=<dir>/Release/libp2p_native.node to use another build of the addon.)
 *
 * The two peers run from compiled JavaScript when dist/ is up to date (bench/perf/usage.ts's
 * peerCommand; the setup line says which and why), as users run the package: tsx transpiles with
 * esbuild's keepNames, which wraps every named closure in `__name(...)` and so turns each one into
 * a dictionary-mode function with its own ~256-byte property table; a handful of closures per
 * connection made the JS heap ~1 KiB per connection larger under tsx than compiled.
 *
 * This process only coordinates: it forks a listener process and a dialer process, each a full
 * Swarm over the native TCP transport with the behaviours a user combines for such a node, ping
 * (default 15 s interval) and identify, and no others. `dialerPeers` > 1 spreads the dials over
 * that many Swarms (identities) in the dialer process, so the listener holds connections of
 * distinct peers rather than 10,000 of one peer; the dialer's figures then include those Swarms.
 *
 * Bench config, not defaults: `idleConnectionTimeout` is raised to an hour, because the Swarm
 * closes a connection whose handlers do not keep it alive after 10 s (ping keeps it alive only
 * while a ping is in flight, as in rust-libp2p); a node that wants to hold idle connections
 * configures exactly this. No connection limits are combined (ConnectionLimits is opt-in and
 * unlimited by default). Native TCP: one I/O thread per host (its default), 16,384 connections
 * per thread at most (native/io/limits.h). `ulimit -n` must exceed the connections (each side
 * holds one fd per connection).
 *
 * Per side, after set-up (identify done on every connection in both directions, first pings done)
 * and again at the end of the hold, each after a forced GC, the deltas from a baseline taken after
 * the Swarm is built and listening, divided by the number of connections:
 * - `heap`: V8 `heapUsed` (the JS objects of the Swarm, handlers, streams, transport records);
 * - `malloc`: bytes in use in glibc malloc (mallinfo2 uordblks + hblkhd, from the addon's
 *   `memoryStats()`): every C/C++ allocation of the process, i.e. the native engines (Noise,
 *   Yamux, multistream state), the native output buffers, Node's own per-handle data and the
 *   backing stores of ArrayBuffers, and not the V8 heap (V8 maps its own pages), so
 *   `heap + malloc` counts nothing twice. It does not count allocator fragmentation nor kernel
 *   socket buffers (kernel memory, not the process's);
 *   With the addon built for mimalloc (the default) the l2n::mem buffers are outside glibc malloc
 *   and are added to `malloc` here, so the figure means the same for every build;
 * - `buffers`: the part of `malloc` held through native/include/l2n/alloc.h (output buffers; the
 *   receive slabs are per thread, not per connection), to show where native memory goes;
 * - `rss`: the resident-set delta, a cross-check that includes V8's whole pages and fragmentation
 *   but only the pages actually touched.
 * `totalKiB` = (heap + malloc) / 1024 per connection: the figure the target bounds.
 * `eventLoopDelayP99Ms`: perf_hooks.monitorEventLoopDelay (1 ms resolution) over the hold, no GC
 * forced inside it; `gcMaxMs`/`gcTotalMs`: V8's GC pauses over the hold (PerformanceObserver 'gc'),
 * to tell a collector pause from the Swarm's own work in `eventLoopDelayMaxMs`. `setupMs`: first dial to the last identify on the dialer side, with at most
 * DIAL_WINDOW dials in flight.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { SwarmBuilder } from '../../src/core/swarm/builder.ts'
import { combine } from '../../src/core/combine.ts'
import { PingBehaviour } from '../../src/protocols/ping/index.ts'
import { IdentifyBehaviour } from '../../src/protocols/identify/index.ts'
import { loadAddon } from '../../src/native/index.ts'
import { peerCommand } from '../perf/usage.ts'

/** Dials in flight at once: enough to keep both event loops busy, few enough that the listener's
 * accept queue (backlog) never overflows into SYN retransmits, which would measure TCP's 1 s
 * retransmit timer instead of our set-up. */
const DIAL_WINDOW = 256
/** Idle timeout of the bench's Swarms (see the header): longer than any hold. */
const HOLD_IDLE_TIMEOUT_MS = 3_600_000

type Role = 'listener' | 'dialer'
interface Sample { heap: number, malloc: number, buffers: number, rss: number }
type ToChild = { type: 'dial', addr: string } | { type: 'measure' } | { type: 'hold', ms: number } | { type: 'exit' }
type FromChild =
  | { type: 'listening', addr: string }
  | { type: 'ready', role: Role, identified: number, established: number, failed: number, setupMs: number }
  | { type: 'measured', role: Role, sample: Sample }
  | { type: 'held', role: Role, eventLoopDelayP99Ms: number, eventLoopDelayMaxMs: number, gcMaxMs: number, gcTotalMs: number, pings: number, pingFailures: number, established: number, sample: Sample }

const gc = (globalThis as { gc?: () => void }).gc

function sample (): Sample {
  gc?.(); gc?.()
  const stats = (loadAddon() as unknown as { memoryStats?: () => { malloc: number, buffers: number } }).memoryStats
  if (stats === undefined) throw new Error('this build of the addon has no memoryStats(); rebuild it')
  const m = stats()
  if (m.malloc < 0) throw new Error('memoryStats().malloc unavailable (not glibc malloc): build with LIBP2P_NATIVE_ALLOCATOR=system')
  // With mimalloc (the default build) the l2n::mem buffers live outside glibc malloc: add them, so
  // `malloc` stays "all native allocations" whichever allocator the addon was built with.
  const allocator = (loadAddon() as unknown as { allocator?: string }).allocator ?? 'system'
  const native = allocator === 'system' ? m.malloc : m.malloc + m.buffers
  return { heap: process.memoryUsage().heapUsed, malloc: native, buffers: m.buffers, rss: process.memoryUsage().rss }
}

async function node () {
  return await SwarmBuilder.withNewIdentity()
    .withTcp()
    .withBehaviour(key => combine({ ping: new PingBehaviour(), identify: new IdentifyBehaviour({ privateKey: key }) }))
    .withSwarmConfig({ idleConnectionTimeout: HOLD_IDLE_TIMEOUT_MS })
    .build()
}
type Node = Awaited<ReturnType<typeof node>>

async function child (role: Role): Promise<void> {
  if (gc === undefined) throw new Error('peer started without --expose-gc')
  const send = (m: FromChild): void => { process.send?.(m) }
  const n = Number(process.env.IDLE_BENCH_N)
  const peers = Number(process.env.IDLE_BENCH_PEERS)
  const swarms: Node[] = []
  for (let i = 0; i < (role === 'dialer' ? peers : 1); i++) swarms.push(await node())
  let identified = 0
  let established = 0
  let failed = 0
  let pings = 0
  let pingFailures = 0
  for (const s of swarms) {
    s.on('behaviour', e => {
      const ev = e.event
      if (ev.behaviour === 'identify' && ev.event.type === 'received') identified++
      else if (ev.behaviour === 'ping') { if (ev.event.result.type === 'success') pings++; else pingFailures++ }
    })
    s.on('connectionEstablished', () => { established++ })
    s.on('outgoingConnectionError', () => { failed++ })
  }
  const first = swarms[0] as Node
  if (role === 'listener') {
    await first.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
    send({ type: 'listening', addr: (first.listenAddresses()[0] as Multiaddr).encapsulate(`/p2p/${first.localPeerId.toString()}`).toString() })
  }
  const base = sample()
  const waitFor = async (done: () => boolean): Promise<void> => { while (!done()) await new Promise(resolve => setTimeout(resolve, 20)) }
  process.on('message', (m: ToChild) => {
    void (async () => {
      if (m.type === 'dial') {
        const t0 = performance.now()
        const target = multiaddr(m.addr)
        for (let i = 0; i < n; i++) {
          await waitFor(() => i - established - failed < DIAL_WINDOW)
          ;(swarms[i % swarms.length] as Node).dial({ addresses: [target], condition: 'always' })
        }
        await waitFor(() => identified + failed >= n)
        send({ type: 'ready', role, identified, established, failed, setupMs: performance.now() - t0 })
      } else if (m.type === 'measure') {
        // Listener: wait for its side of every identify exchange (and so every connection) first.
        if (role === 'listener') await waitFor(() => identified >= n)
        send({ type: 'measured', role, sample: delta(sample(), base) })
      } else if (m.type === 'hold') {
        const pings0 = pings
        const failures0 = pingFailures
        const delay = monitorEventLoopDelay({ resolution: 1 })
        // GC pauses over the hold, to tell a collector pause from the Swarm's own work in the max.
        let gcMaxMs = 0
        let gcTotalMs = 0
        const gcs = new PerformanceObserver(list => {
          for (const e of list.getEntries()) { gcTotalMs += e.duration; gcMaxMs = Math.max(gcMaxMs, e.duration) }
        })
        gcs.observe({ entryTypes: ['gc'] })
        delay.enable()
        await new Promise(resolve => setTimeout(resolve, m.ms))
        delay.disable()
        gcs.disconnect()
        send({
          type: 'held',
          role,
          eventLoopDelayP99Ms: delay.percentile(99) / 1e6,
          eventLoopDelayMaxMs: delay.max / 1e6,
          gcMaxMs,
          gcTotalMs,
          pings: pings - pings0,
          pingFailures: pingFailures - failures0,
          established: swarms.reduce((sum, s) => sum + s.numEstablished, 0),
          sample: delta(sample(), base)
        })
      } else {
        for (const s of swarms) await s.close()
        process.exit(0)
      }
    })().catch(err => { console.error(role, err); process.exit(1) })
  })
}

function delta (a: Sample, b: Sample): Sample {
  return { heap: a.heap - b.heap, malloc: a.malloc - b.malloc, buffers: a.buffers - b.buffers, rss: a.rss - b.rss }
}

function perConnection (s: Sample, n: number): Record<string, number> {
  const r = (x: number): number => Math.round(x / n)
  return { heap: r(s.heap), malloc: r(s.malloc), buffers: r(s.buffers), rss: r(s.rss), totalKiB: Math.round((s.heap + s.malloc) / n / 1024 * 10) / 10 }
}

async function coordinate (): Promise<void> {
  const n = Number(process.argv[2] ?? 10_000)
  const holdMs = Number(process.argv[3] ?? 30) * 1000
  const peers = Number(process.argv[4] ?? 1)
  const script = fileURLToPath(import.meta.url)
  const root = fileURLToPath(new URL('../..', import.meta.url))
  // Already compiled (run as dist/bench/swarm/idle-memory.js): the peers run this same file.
  const peer = script.endsWith('.js') ? { argv: [script], compiled: true, why: 'coordinator compiled' } : peerCommand(root, script)
  const spawnRole = (role: Role): ChildProcess => fork(peer.argv[peer.argv.length - 1] as string, [], {
    execArgv: ['--expose-gc', ...peer.argv.slice(0, -1)],
    env: { ...process.env, IDLE_BENCH_ROLE: role, IDLE_BENCH_N: String(n), IDLE_BENCH_PEERS: String(peers) }
  })
  const listener = spawnRole('listener')
  const dialer = spawnRole('dialer')
  const next = async (c: ChildProcess, type: FromChild['type']): Promise<FromChild> => await new Promise((resolve, reject) => {
    const onMsg = (m: FromChild): void => { if (m.type === type) { c.off('message', onMsg); c.off('exit', onExit); resolve(m) } }
    const onExit = (code: number | null): void => { reject(new Error(`child exited (${code}) while waiting for '${type}'`)) }
    c.on('message', onMsg)
    c.once('exit', onExit)
  })
  try {
    const listening = await next(listener, 'listening') as Extract<FromChild, { type: 'listening' }>
    dialer.send({ type: 'dial', addr: listening.addr } satisfies ToChild)
    const ready = await next(dialer, 'ready') as Extract<FromChild, { type: 'ready' }>
    console.log(JSON.stringify({ phase: 'setup', peersRunFrom: peer.compiled ? 'compiled' : 'tsx', why: peer.why, connections: n, dialerPeers: peers, established: ready.established, failed: ready.failed, setupMs: Math.round(ready.setupMs) }))
    if (ready.failed > 0) throw new Error(`${ready.failed} dials failed`)
    const measured = await Promise.all([listener, dialer].map(async c => {
      const p = next(c, 'measured')
      c.send({ type: 'measure' } satisfies ToChild)
      return await p as Extract<FromChild, { type: 'measured' }>
    }))
    for (const m of measured) console.log(JSON.stringify({ phase: 'afterSetup', side: m.role, bytesPerConnection: perConnection(m.sample, n) }))
    const held = await Promise.all([listener, dialer].map(async c => {
      const p = next(c, 'held')
      c.send({ type: 'hold', ms: holdMs } satisfies ToChild)
      return await p as Extract<FromChild, { type: 'held' }>
    }))
    for (const h of held) {
      console.log(JSON.stringify({
        phase: 'afterHold',
        side: h.role,
        holdSeconds: holdMs / 1000,
        established: h.established,
        pings: h.pings,
        pingFailures: h.pingFailures,
        eventLoopDelayP99Ms: Math.round(h.eventLoopDelayP99Ms * 100) / 100,
        eventLoopDelayMaxMs: Math.round(h.eventLoopDelayMaxMs * 100) / 100,
        gcMaxMs: Math.round(h.gcMaxMs * 100) / 100,
        gcTotalMs: Math.round(h.gcTotalMs),
        bytesPerConnection: perConnection(h.sample, n)
      }))
    }
    const kib = (h: Extract<FromChild, { type: 'held' }>): number => Math.round((h.sample.heap + h.sample.malloc) / n / 1024 * 10) / 10
    // With dialerPeers > 1 the dialer also holds that many Swarms and native hosts (each with its
    // own slab pool): the listener's figure is then the one to judge.
    const worst = Math.max(...held.map(kib))
    const p99 = Math.max(...held.map(h => h.eventLoopDelayP99Ms))
    console.log(JSON.stringify({
      summary: true,
      connections: n,
      setupMs: Math.round(ready.setupMs),
      kibPerConnection: Object.fromEntries(held.map(h => [h.role, kib(h)])),
      worstSideKiBPerConnection: worst,
      memoryTargetMet: worst < 20,
      worstEventLoopDelayP99Ms: Math.round(p99 * 100) / 100,
      delayTargetMet: p99 < 10,
      allHeld: held.every(h => h.established === n)
    }))
  } finally {
    for (const c of [dialer, listener]) {
      if (c.exitCode === null) {
        c.send({ type: 'exit' } satisfies ToChild)
        await new Promise(resolve => { const t = setTimeout(() => { c.kill(); resolve(undefined) }, 20_000); c.once('exit', () => { clearTimeout(t); resolve(undefined) }) })
      }
    }
  }
}

const role = process.env.IDLE_BENCH_ROLE as Role | undefined
if (role === 'listener' || role === 'dialer') await child(role)
else await coordinate()
