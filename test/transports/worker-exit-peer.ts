/**
 * Child of worker-exit.test.ts (and a crash loop by hand): the addon is loaded ONLY inside
 * worker_threads Workers, never by this main thread, so when a worker's environment is torn down
 * Node unloads the addon (dlclose: Environment::~Environment closes a worker's addons) and anything
 * of ours still scheduled after that would jump into unmapped code.
 *
 * Each worker makes two transports of one kind (tcp or quic, inline or threaded), listens, dials
 * itself, echoes 256 KiB with integrity, then ends in one of these ways:
 *   exit       process.exit() inside the worker with the listener and connection still open
 *   close      closes connection, listener and transports, then returns (the worker drains and exits)
 *   close-exit closes everything, then process.exit() at once (handle closes still pending)
 *   terminate  the main thread terminate()s it in the middle of a continuous echo
 * Usage: node --import tsx worker-exit-peer.ts [rounds] [scenario,...] [tcp,quic] [threads,...]
 * (defaults: 1 round of every scenario, both transports, threads 1 and 0). Each worker runs after the
 * previous one has exited, so each worker's exit is the last reference of the addon going. Prints
 * one line per worker, `ok <transport> <threads> <scenario>`, then `done <n> workers, addon still
 * mapped` (the addon pins itself in the process: native/binding/addon.cpp PinAddonInProcess).
 */
import { readFileSync } from 'node:fs'
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'

const ECHO = '/echo/1.0.0'
const SCENARIOS = ['exit', 'close', 'close-exit', 'terminate'] as const
type Scenario = typeof SCENARIOS[number]
interface Job { transport: 'tcp' | 'quic', threads: number, scenario: Scenario }

/** Echoed once before the scenario's ending: enough for several slabs and window updates. */
const ECHO_BYTES = 256 * 1024
/** How long a terminate worker keeps its echo busy before the main thread ends it (ms). */
const TERMINATE_AFTER_MS = 30

async function runWorker (job: Job): Promise<void> {
  // Imported here, in the worker only: the main thread must never load the addon.
  const { multiaddr } = await import('@multiformats/multiaddr')
  const { generateKeyPair, peerIdFromPrivateKey } = await import('../../src/identity/index.ts')
  const { StaticProtocolTable } = await import('../../src/utils/protocol-table.ts')
  const { tcp } = await import('../../src/transports/tcp/index.ts')
  const { quic } = await import('../../src/transports/quic/index.ts')
  const { echo } = await import('./tcp/helpers.ts')
  type Transport = ReturnType<ReturnType<typeof tcp>>
  type Connection = Awaited<ReturnType<Transport['dial']>>
  type Stream = Awaited<ReturnType<Connection['openStream']>>
  const make = (): Transport => {
    const privateKey = generateKeyPair('Ed25519')
    const context = { privateKey, peerId: peerIdFromPrivateKey(privateKey), protocols: new StaticProtocolTable([ECHO]) }
    return job.transport === 'tcp' ? tcp({ ioThreads: job.threads })(context) : quic({ ioThreads: job.threads })(context)
  }
  const server = make()
  const client = make()
  const l = await server.listen(multiaddr(job.transport === 'tcp' ? '/ip4/127.0.0.1/tcp/0' : '/ip4/127.0.0.1/udp/0/quic-v1'))
  l.on('connection', (c: Connection) => { c.on('stream', (s: Stream) => { echo(s) }) })
  const conn = await client.dial(l.addrs()[0] as Parameters<Transport['dial']>[0])
  const s = await conn.openStream(ECHO)
  const payload = new Uint8Array(ECHO_BYTES)
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + 3) & 0xff
  let got = 0
  let bad = false
  const echoed = new Promise<void>((resolve) => {
    s.on('data', (c: Uint8Array) => {
      for (let i = 0; i < c.byteLength && got + i < payload.length; i++) if (c[i] !== payload[got + i]) bad = true
      got += c.byteLength
      if (got >= payload.length) resolve()
    })
  })
  if (!s.send(payload)) await s.onDrain()
  await echoed
  if (bad || got !== payload.length) throw new Error(`echo differs (${got} bytes)`)

  switch (job.scenario) {
    case 'exit':
      parentPort?.postMessage('echoed')
      process.exit(0)
      break
    case 'close':
    case 'close-exit':
      await s.closeWrite()
      await conn.close()
      await l.close()
      await client.close()
      await server.close()
      parentPort?.postMessage('echoed')
      if (job.scenario === 'close-exit') process.exit(0)
      break
    case 'terminate': {
      parentPort?.postMessage('busy')
      const chunk = new Uint8Array(64 * 1024)
      for (;;) {
        if (!s.send(chunk)) await s.onDrain()
      }
    }
  }
}

async function runJob (job: Job): Promise<void> {
  const tsx = new URL('../../node_modules/tsx/dist/esm/api/index.mjs', import.meta.url).href
  const w = new Worker(`import(${JSON.stringify(tsx)}).then(async ({ register }) => { register(); await import(${JSON.stringify(import.meta.url)}) })`,
    { eval: true, workerData: job })
  let echoed = false
  const exited = new Promise<number>((resolve, reject) => {
    w.once('error', reject)
    w.once('exit', resolve)
  })
  w.on('message', (m: string) => {
    echoed = true
    if (m === 'busy') setTimeout(() => { void w.terminate() }, TERMINATE_AFTER_MS)
  })
  const code = await exited
  const expected = job.scenario === 'terminate' ? 1 : 0  // terminate() makes the exit code 1
  if (!echoed || code !== expected) throw new Error(`${job.transport} threads ${job.threads} ${job.scenario}: exit code ${code}, echoed ${String(echoed)}`)
  console.log(`ok ${job.transport} ${job.threads} ${job.scenario}`)
}

/** Whether libp2p_native.node is mapped into this process now. */
function addonMapped (): boolean {
  return readFileSync('/proc/self/maps', 'utf8').includes('libp2p_native.node')
}

if (isMainThread) {
  if (addonMapped()) throw new Error('the main thread must not have loaded the addon')
  const rounds = Number(process.argv[2] ?? '1')
  const scenarios = (process.argv[3] ?? SCENARIOS.join(',')).split(',') as Scenario[]
  const transports = (process.argv[4] ?? 'tcp,quic').split(',') as Array<'tcp' | 'quic'>
  const threads = (process.argv[5] ?? '1,0').split(',').map(Number)
  let n = 0
  for (let r = 0; r < rounds; r++) {
    for (const transport of transports) {
      for (const t of threads) {
        for (const scenario of scenarios) {
          await runJob({ transport, threads: t, scenario })
          n++
        }
      }
    }
  }
  console.log(`done ${n} workers, addon ${addonMapped() ? 'still mapped' : 'unloaded'}`)
} else {
  await runWorker(workerData as Job)
}
