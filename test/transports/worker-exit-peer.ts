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
 *   pair       two workers at once: a client worker dials a server worker, echoes, and process.exit()s
 *              with the connection live; the server (same addon, its own env) then dials itself and
 *              echoes again, so another env's teardown must leave it working, and closes and returns
 * Usage: node --import tsx worker-exit-peer.ts [rounds] [scenario,...] [tcp,quic] [threads,...]
 * (defaults: 1 round of every scenario, both transports, threads 1 and 0). Each worker runs after the
 * previous one has exited, so each worker's exit (but the pair's client's) is the last reference of
 * the addon going. Prints
 * one line per worker, `ok <transport> <threads> <scenario>`, then `done <n> workers, addon still
 * mapped` (the addon pins itself in the process: native/binding/addon.cpp PinAddonInProcess).
 */
import { readFileSync } from 'node:fs'
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'

const ECHO = '/echo/1.0.0'
const SCENARIOS = ['exit', 'close', 'close-exit', 'terminate', 'pair'] as const
type Scenario = typeof SCENARIOS[number]
interface Job { transport: 'tcp' | 'quic', threads: number, scenario: Scenario, role?: 'server' | 'client', addr?: string }

/** Echoed once before the scenario's ending: enough for several slabs and window updates. */
const ECHO_BYTES = 256 * 1024
/** How long a terminate worker keeps its echo busy before the main thread ends it (ms). */
const TERMINATE_AFTER_MS = 30

async function runWorker (job: Job): Promise<void> {
  // Imported here, in the worker only: the main thread must never load the addon.
  const { multiaddr } = await import('@multiformats/multiaddr')
  const { makeContext } = await import('../helpers/node-context.ts')
  const { tcp } = await import('../../src/transports/tcp/index.ts')
  const { quic } = await import('../../src/transports/quic/index.ts')
  const { echo } = await import('./tcp/helpers.ts')
  type Transport = ReturnType<ReturnType<typeof tcp>>
  type Connection = Awaited<ReturnType<Transport['dial']>>
  type Stream = Awaited<ReturnType<Connection['openStream']>>
  const make = (): Transport => {
    const context = makeContext([ECHO])
    return job.transport === 'tcp' ? tcp({ ioThreads: job.threads })(context) : quic({ ioThreads: job.threads })(context)
  }
  // Echoes ECHO_BYTES over a new stream of conn and checks them; returns the stream, still open.
  const echoOnce = async (conn: Connection): Promise<Stream> => {
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
    return s
  }
  const listenAddr = job.transport === 'tcp' ? '/ip4/127.0.0.1/tcp/0' : '/ip4/127.0.0.1/udp/0/quic-v1'

  if (job.role === 'client') {
    const client = make()
    await echoOnce(await client.dial(multiaddr(job.addr as string)))
    parentPort?.postMessage('echoed')
    process.exit(0)
  }
  const server = make()
  const l = await server.listen(multiaddr(listenAddr))
  l.on('connection', (c: Connection) => { c.on('stream', (s: Stream) => { echo(s) }) })
  if (job.role === 'server') {
    parentPort?.postMessage(String(l.addrs()[0]))
    // The client worker has exited (with its connection to us live) when the main thread says so.
    await new Promise<void>(resolve => { parentPort?.once('message', () => { resolve() }) })
    const self = make()
    const s = await echoOnce(await self.dial(l.addrs()[0] as Parameters<Transport['dial']>[0]))
    await s.closeWrite()
    await self.close()
    await l.close()
    await server.close()
    parentPort?.postMessage('echoed')
    return
  }
  const client = make()
  const conn = await client.dial(l.addrs()[0] as Parameters<Transport['dial']>[0])
  const s = await echoOnce(conn)

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

const tsx = new URL('../../node_modules/tsx/dist/esm/api/index.mjs', import.meta.url).href

/** A worker running this file with `job`; `messages` gets what it posts. */
function startWorker (job: Job, messages: (m: string) => void): { worker: Worker, exited: Promise<number> } {
  const worker = new Worker(`import(${JSON.stringify(tsx)}).then(async ({ register }) => { register(); await import(${JSON.stringify(import.meta.url)}) })`,
    { eval: true, workerData: job })
  const exited = new Promise<number>((resolve, reject) => {
    worker.once('error', reject)
    worker.once('exit', resolve)
  })
  worker.on('message', messages)
  return { worker, exited }
}

async function runPair (job: Job): Promise<void> {
  let serverEchoed = false
  let gotAddr: (addr: string) => void = () => {}
  const addr = new Promise<string>(resolve => { gotAddr = resolve })
  const server = startWorker({ ...job, role: 'server' }, (m: string) => { if (m === 'echoed') serverEchoed = true; else gotAddr(m) })
  let clientEchoed = false
  const client = startWorker({ ...job, role: 'client', addr: await addr }, () => { clientEchoed = true })
  const clientCode = await client.exited
  server.worker.postMessage('client gone')
  const serverCode = await server.exited
  if (!clientEchoed || clientCode !== 0 || !serverEchoed || serverCode !== 0) {
    throw new Error(`${job.transport} threads ${job.threads} pair: client exit ${clientCode} echoed ${String(clientEchoed)}, server exit ${serverCode} echoed ${String(serverEchoed)}`)
  }
}

async function runJob (job: Job): Promise<void> {
  if (job.scenario === 'pair') {
    await runPair(job)
    console.log(`ok ${job.transport} ${job.threads} ${job.scenario}`)
    return
  }
  let echoed = false
  const { worker, exited } = startWorker(job, (m: string) => {
    echoed = true
    if (m === 'busy') setTimeout(() => { void worker.terminate() }, TERMINATE_AFTER_MS)
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
          n += scenario === 'pair' ? 2 : 1
        }
      }
    }
  }
  console.log(`done ${n} workers, addon ${addonMapped() ? 'still mapped' : 'unloaded'}`)
} else {
  await runWorker(workerData as Job)
}
