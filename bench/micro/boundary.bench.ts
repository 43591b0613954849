/**
 * The cost of a JS <-> native boundary crossing (docs/design/native-core.md, "The JS boundary").
 *   node --import tsx bench/micro/boundary.bench.ts [timeMs per task, default 200]
 *
 * JS -> native (tinybench, on the raw addon Host behind a NativeHost with one I/O thread):
 * - `unref()`: the cheapest N-API call the Host has (uv_unref on an unref'd handle), the floor;
 * - `submit`, 0 commands: argument checks and an empty dispatch, no thread woken;
 * - `submit`, 1 command: a `pause` naming a connection id that does not exist, so the I/O thread
 *   is woken (eventfd) and drops it: the fixed cost a tick pays to hand work to native;
 * - `submit`, 64 commands: the same batched, to show the per-command cost once batched;
 * - NativeHost.pause() + flush(): the public surface (queue into the word array, then submit).
 *
 * native -> JS (no timestamp crosses the binding, so measured end to end over loopback TCP in
 * this process, two NativeHosts with one I/O thread each, through the Stream API users get):
 * - 1-byte echo round trip p50: client submit -> client I/O thread -> server I/O thread -> server
 *   JS callback -> server submit -> ... -> client JS callback: four crossings plus two socket hops;
 * - batch delivery: the client sends BATCH_SENDS small messages on one stream, or one on each of
 *   BATCH_STREAMS streams, in one tick (BATCH_REPEATS times each); we count the client's submit()
 *   calls and the server's onEvents callbacks and the data records they carry.
 *   The design promises one crossing per batch: far fewer callbacks than records.
 */
import { strictEqual } from 'node:assert'
import { multiaddr } from '@multiformats/multiaddr'
import { NativeHost, type AddonHost } from '../../src/native/host.ts'
import { Op, COMMAND_WORDS, RECORD_WORDS, Ev } from '../../src/native/protocol.ts'
import { generateKeyPair, peerIdFromPrivateKey, generateNoiseStaticKeyPair, buildNoisePayload } from '../../src/identity/index.ts'
import { StaticProtocolTable } from '../../src/utils/protocol-table.ts'
import { withPeerId } from '../../src/utils/multiaddr.ts'
import { tcp } from '../../src/transports/tcp/index.ts'
import type { Connection, TransportContext } from '../../src/core/transport.ts'
import type { Stream } from '../../src/core/stream.ts'
import { newBench, runAndReport, printRows, fmtNs, TIME_MS, type Row } from './report.ts'

/** Commands in the batched submit case: a busy tick (many streams sending) queues this many. */
const BATCH_COMMANDS = 64
/** A connection id no connection has (JS ids start at 1 and this process dials only a few). */
const UNKNOWN_CONN = 0x7ffffff0
/** Echo round trips timed; the first WARMUP_RTTS are dropped (JIT, first window update). */
const RTTS = 2000
const WARMUP_RTTS = 200
/** Small sends in one tick for the batch-delivery count, and their size. */
const BATCH_SENDS = 1000
const BATCH_SEND_BYTES = 16
/** Ticks of each kind; the median time is reported (single ticks varied 5x on the shared machine). */
const BATCH_REPEATS = 15
/** Streams that each send one message in the same tick: one data record per stream expected. */
const BATCH_STREAMS = 64
const ECHO = '/bench/echo/1.0.0'

// ---- JS -> native ------------------------------------------------------------------------------
const statics = generateNoiseStaticKeyPair()
const hostKey = generateKeyPair('Ed25519')
const native = new NativeHost({
  threads: 1,
  staticSecret: statics.secretKey,
  staticPublic: statics.publicKey,
  payload: buildNoisePayload(hostKey, statics.publicKey, ['/yamux/1.0.0']),
  maxStreamWindow: 16 * 1024 * 1024,
  flush: 'microtask'
})
/** The raw addon Host behind NativeHost (a private field: this bench measures under the wrapper). */
const raw = (native as unknown as { host: AddonHost }).host

const one = new Uint32Array(COMMAND_WORDS)
one.set([Op.pause, UNKNOWN_CONN, 1, 0, 0, 0])
const many = new Uint32Array(COMMAND_WORDS * BATCH_COMMANDS)
for (let i = 0; i < BATCH_COMMANDS; i++) many.set([Op.pause, UNKNOWN_CONN, i + 1, 0, 0, 0], i * COMMAND_WORDS)
const noBuffers: Uint8Array[] = []
const check = (rc: number): void => { if (rc !== 0) throw new Error(`submit returned ${rc}`) }
check(raw.submit(one, 0, noBuffers))
check(raw.submit(one, 1, noBuffers))
// Native must reject a malformed batch, so the calls above are not no-ops that accept anything.
if (raw.submit(one, 2, noBuffers) === 0) throw new Error('submit accepted a count beyond the word array')

const bench = newBench()
bench
  .add('N-API floor: host.unref()', () => { raw.unref() })
  .add('raw submit, 0 commands', () => { check(raw.submit(one, 0, noBuffers)) })
  .add('raw submit, 1 command (wakes the I/O thread)', () => { check(raw.submit(one, 1, noBuffers)) })
  .add(`raw submit, ${BATCH_COMMANDS} commands`, () => { check(raw.submit(many, BATCH_COMMANDS, noBuffers)) })
  .add('NativeHost.pause() + flush()', () => { native.pause(UNKNOWN_CONN, 1); native.flush() })
const crossRows = await runAndReport('boundary-js-to-native', bench, {
  [`raw submit, ${BATCH_COMMANDS} commands`]: 'whole batch; divide by 64 per command'
})
native.close()

// ---- native -> JS ------------------------------------------------------------------------------
/** Per NativeHost: onEvents callbacks, records, data records (counted around the real dispatch). */
interface Crossings { callbacks: number, records: number, dataRecords: number, submits: number }
const crossings = new WeakMap<object, Crossings>()
const countsOf = (h: object): Crossings => {
  let c = crossings.get(h)
  if (c === undefined) { c = { callbacks: 0, records: 0, dataRecords: 0, submits: 0 }; crossings.set(h, c) }
  return c
}
type Dispatch = (records: Uint32Array, ...rest: unknown[]) => void
const proto = NativeHost.prototype as unknown as { dispatch: Dispatch }
const realDispatch = proto.dispatch
proto.dispatch = function (this: object, records: Uint32Array, ...rest: unknown[]) {
  const c = countsOf(this)
  c.callbacks++
  c.records += records.length / RECORD_WORDS
  for (let o = 0; o < records.length; o += RECORD_WORDS) if (records[o] === Ev.data) c.dataRecords++
  realDispatch.call(this, records, ...rest)
}
/** Counts submit() calls that carry commands (NativeHost.submitNow skips empty batches). */
const submitProto = NativeHost.prototype as unknown as { submitNow: () => void }
const realSubmitNow = submitProto.submitNow
submitProto.submitNow = function (this: { count: number }) {
  if (this.count > 0) countsOf(this).submits++
  realSubmitNow.call(this)
}
const hostOf = (t: unknown): NativeHost => {
  const h = (t as { host?: NativeHost }).host
  if (h === undefined) throw new Error('transport has no NativeHost yet')
  return h
}

function context (protocols: string[]): TransportContext {
  const privateKey = generateKeyPair('Ed25519')
  return { privateKey, peerId: peerIdFromPrivateKey(privateKey), protocols: new StaticProtocolTable(protocols) }
}
const serverCtx = context([ECHO])
const server = tcp({ ioThreads: 1 })(serverCtx)
const client = tcp({ ioThreads: 1 })(context([]))

/** Server: echoes, or in `sink` mode counts bytes without answering. */
let sinkMode = false
let sinkBytes = 0
let sinkDone: (() => void) | undefined
let sinkTarget = 0
async function serve (stream: Stream): Promise<void> {
  for await (const chunk of stream) {
    if (sinkMode) {
      sinkBytes += chunk.byteLength
      if (sinkBytes >= sinkTarget && sinkDone !== undefined) { const d = sinkDone; sinkDone = undefined; d() }
      continue
    }
    if (!stream.send(chunk)) await stream.onDrain()
  }
}
const listener = await server.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
listener.on('connection', (conn: Connection) => {
  conn.on('stream', (s: Stream) => { serve(s).catch(() => s.reset()) })
})
const addr = withPeerId(listener.addrs()[0] as ReturnType<typeof multiaddr>, serverCtx.peerId)
const conn = await client.dial(addr, { expectedPeer: serverCtx.peerId })

// 1-byte echo round trips.
const echo = await conn.openStream(ECHO)
let waiting: (() => void) | undefined
echo.on('data', () => { const w = waiting; waiting = undefined; w?.() })
const byte = new Uint8Array([42])
const rtts: number[] = []
for (let i = 0; i < RTTS; i++) {
  const t0 = performance.now()
  await new Promise<void>((resolve) => { waiting = resolve; echo.send(byte) })
  if (i >= WARMUP_RTTS) rtts.push((performance.now() - t0) * 1e6)
}
rtts.sort((a, b) => a - b)
const p50 = rtts[Math.floor(rtts.length / 2)] as number
const p90 = rtts[Math.floor(rtts.length * 0.9)] as number

// Batch delivery: a tick of small sends to the counting server, repeated BATCH_REPEATS times.
const clientHost = hostOf(client)
const serverHost = hostOf(server)
const payload = new Uint8Array(BATCH_SEND_BYTES).fill(7)
interface Tick { ns: number, clientSubmits: number, serverCallbacks: number, serverRecords: number, serverDataRecords: number }
async function tick (streams: Stream[], sendsPerStream: number): Promise<Tick> {
  sinkBytes = 0
  sinkTarget = streams.length * sendsPerStream * BATCH_SEND_BYTES
  const server0 = { ...countsOf(serverHost) }
  const client0 = { ...countsOf(clientHost) }
  const got = new Promise<void>((resolve) => { sinkDone = resolve })
  const t0 = performance.now()
  for (const s of streams) for (let i = 0; i < sendsPerStream; i++) s.send(payload)
  await got
  const ns = (performance.now() - t0) * 1e6
  strictEqual(sinkBytes, sinkTarget)
  const server1 = countsOf(serverHost)
  // Let the written records and window updates of this tick drain before the next one.
  await new Promise(resolve => setTimeout(resolve, 5))
  return {
    ns,
    clientSubmits: countsOf(clientHost).submits - client0.submits,
    serverCallbacks: server1.callbacks - server0.callbacks,
    serverRecords: server1.records - server0.records,
    serverDataRecords: server1.dataRecords - server0.dataRecords
  }
}
interface TickSummary { medianNs: number, minNs: number, maxNs: number, maxClientSubmits: number, maxServerCallbacks: number, dataRecords: [number, number], records: [number, number] }
function summarize (ticks: Tick[]): TickSummary {
  const ns = ticks.map(t => t.ns).sort((a, b) => a - b)
  const d = ticks.map(t => t.serverDataRecords)
  const r = ticks.map(t => t.serverRecords)
  return {
    medianNs: ns[Math.floor(ns.length / 2)] as number,
    minNs: ns[0] as number,
    maxNs: ns[ns.length - 1] as number,
    maxClientSubmits: Math.max(...ticks.map(t => t.clientSubmits)),
    maxServerCallbacks: Math.max(...ticks.map(t => t.serverCallbacks)),
    dataRecords: [Math.min(...d), Math.max(...d)],
    records: [Math.min(...r), Math.max(...r)]
  }
}
sinkMode = true
const sinkStream = await conn.openStream(ECHO)
const streams = await Promise.all(Array.from({ length: BATCH_STREAMS }, async () => await conn.openStream(ECHO)))
await new Promise(resolve => setTimeout(resolve, 50))  // let the streams' open records settle
const oneStreamTicks: Tick[] = []
const manyStreamTicks: Tick[] = []
for (let i = 0; i < BATCH_REPEATS; i++) {
  oneStreamTicks.push(await tick([sinkStream], BATCH_SENDS))
  manyStreamTicks.push(await tick(streams, 1))
}
const batch = { sends: BATCH_SENDS, repeats: BATCH_REPEATS, ...summarize(oneStreamTicks) }
const multi = { streams: BATCH_STREAMS, repeats: BATCH_REPEATS, ...summarize(manyStreamTicks) }

const tc0 = performance.now()
conn.abort(new Error('bench: done'))  // a graceful close would wait for the open sink streams
await client.close()
await server.close()
const closeMs = performance.now() - tc0

const range = (t: TickSummary): string => `min ${fmtNs(t.minNs)}, max ${fmtNs(t.maxNs)}, n=${BATCH_REPEATS}`
const nativeRows: Row[] = [
  { case: '1-byte echo round trip p50 (4 crossings + 2 TCP hops)', oursNs: +p50.toFixed(0), note: `p90 ${fmtNs(p90)}, n=${rtts.length}` },
  { case: `${BATCH_SENDS} x ${BATCH_SEND_BYTES} B sends in one tick, until all received`, oursNs: +batch.medianNs.toFixed(0), note: `${fmtNs(batch.medianNs / BATCH_SENDS)} per send; ${range(batch)}` },
  { case: `1 x ${BATCH_SEND_BYTES} B send on each of ${BATCH_STREAMS} streams, until all received`, oursNs: +multi.medianNs.toFixed(0), note: `${fmtNs(multi.medianNs / BATCH_STREAMS)} per send; ${range(multi)}` }
]
printRows(nativeRows)
const pair = (r: [number, number]): string => r[0] === r[1] ? `${r[0]}` : `${r[0]}-${r[1]}`
console.log(`batch delivery, per tick (${BATCH_REPEATS} ticks): ${BATCH_SENDS} sends on one stream -> at most ${batch.maxClientSubmits} client submit() call(s); ` +
  `server got ${pair(batch.dataRecords)} data record(s) over at most ${batch.maxServerCallbacks} onEvents callback(s)`)
console.log(`batch delivery, per tick (${BATCH_REPEATS} ticks): 1 send on each of ${BATCH_STREAMS} streams -> at most ${multi.maxClientSubmits} client submit() call(s); ` +
  `server got ${pair(multi.dataRecords)} data record(s) (${pair(multi.records)} records in all) over at most ${multi.maxServerCallbacks} onEvents callback(s)`)
console.log(`(closing the connection and both transports took ${closeMs.toFixed(0)} ms, not timed above)`)
console.log(JSON.stringify({ bench: 'boundary-native-to-js', timeMs: TIME_MS, rows: nativeRows, batch, multi }))
if (batch.maxClientSubmits > 2) throw new Error(`${BATCH_SENDS} sends in one tick took ${batch.maxClientSubmits} submits (one expected)`)
if (multi.dataRecords[0] < BATCH_STREAMS) throw new Error(`${BATCH_STREAMS} streams sent, only ${multi.dataRecords[0]} data records counted`)
if (multi.maxServerCallbacks >= multi.dataRecords[0]) throw new Error('one callback per data record: not batched')
void crossRows
