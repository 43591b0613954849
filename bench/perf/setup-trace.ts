/**
 * Connection-setup trace: where one setup's time goes, step by step, across both bench processes.
 *
 * Recording (off unless L2N_SETUP_TRACE=<path prefix> is set): native code fills
 * <prefix>.<pid>.native (native/core/setup_trace.h: I/O-thread and TLS points, a shared mapping
 * that survives the SIGKILL the bench ends its peers with) and the bench peers call tracePoint() at
 * their JS steps and traceFlush() before they report usage (<prefix>.<pid>.js). Both use
 * CLOCK_MONOTONIC (process.hrtime.bigint() reads the same clock), so the two processes' points
 * merge into one timeline.
 *
 * Analysis: `node --import tsx bench/perf/setup-trace.ts <prefix>` merges every file of the
 * prefix, cuts the timeline into setups at the client's js_dial points, and prints for each step
 * (the n-th occurrence of a point name in a setup, per process) the median time since js_dial and
 * the median gap from the previous step, in microseconds; --one prints the median setup's raw
 * points, --stages its critical path as ten consecutive stages (medians).
 *
 *   rm -f /tmp/st.*; L2N_SETUP_TRACE=/tmp/st L2N_BENCH_DIST=dist-<you> \
 *     LIBP2P_NATIVE_ADDON=<build>/Release/libp2p_native.node npm run bench:perf -- \
 *     --transport quic --only native --scenarios connect
 *   node --import tsx bench/perf/setup-trace.ts /tmp/st
 *
 * The trace itself costs ~0.1-0.3 us per point (a clock read), ~40 points per setup.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const prefix = process.env.L2N_SETUP_TRACE
const points: Array<[bigint, string]> = []

/** Records a JS step (no-op unless L2N_SETUP_TRACE is set). */
export function tracePoint (name: string): void {
  if (prefix === undefined || prefix === '') return
  points.push([process.hrtime.bigint(), name])
}

/** Writes the JS points so far (the bench kills its peers once they have reported usage). */
export function traceFlush (): void {
  if (prefix === undefined || prefix === '') return
  writeFileSync(`${prefix}.${process.pid}.js`, points.map(([ns, name]) => `${ns} ${name} 0\n`).join(''))
}

interface Entry { ns: bigint, name: string, arg: bigint, proc: string }

function load (pre: string): Entry[] {
  const dir = dirname(pre)
  const base = basename(pre)
  const entries: Entry[] = []
  // <prefix>.<pid>.native / .js: the pid names the process; the role is found from its points.
  const byPid = new Map<string, Entry[]>()
  for (const f of readdirSync(dir)) {
    const m = f.startsWith(base + '.') ? /^(\d+)\.(native|js)$/.exec(f.slice(base.length + 1)) : null
    if (m === null) continue
    const pid = m[1] as string
    const list = byPid.get(pid) ?? []
    if (m[2] === 'native') {
      // struct Point { uint64 ns; uint64 arg; char name[16] } (native/core/setup_trace.h)
      const buf = readFileSync(join(dir, f))
      for (let o = 0; o + 32 <= buf.length; o += 32) {
        const ns = buf.readBigUInt64LE(o)
        if (ns === 0n) continue
        const raw = buf.subarray(o + 16, o + 32)
        const end = raw.indexOf(0)
        list.push({ ns, name: raw.subarray(0, end < 0 ? 16 : end).toString('latin1'), arg: buf.readBigUInt64LE(o + 8), proc: pid })
      }
    } else {
      for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
        const [ns, name, arg] = line.split(' ')
        if (ns === undefined || name === undefined || ns === '') continue
        list.push({ ns: BigInt(ns), name, arg: BigInt(arg ?? '0'), proc: pid })
      }
    }
    byPid.set(pid, list)
  }
  for (const [, list] of byPid) {
    const role = list.some(e => e.name === 'js_dial') ? 'C' : list.some(e => e.name === 'js_conn') ? 'S' : undefined
    if (role === undefined) continue
    for (const e of list) entries.push({ ...e, proc: role })
  }
  return entries.sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0))
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] ?? NaN
}

function analyse (pre: string): void {
  const entries = load(pre)
  const starts = entries.filter(e => e.proc === 'C' && e.name === 'js_dial').map(e => e.ns)
  const ends = entries.filter(e => e.proc === 'C' && e.name === 'js_got').map(e => e.ns)
  if (starts.length === 0) throw new Error(`no js_dial points under ${pre}`)
  // step key -> offsets (us since js_dial) per setup; order of first appearance in the first setups
  const steps = new Map<string, number[]>()
  const order = new Map<string, number>()
  const totals: number[] = []
  let ei = 0
  for (let k = 0; k < starts.length; k++) {
    const t0 = starts[k] as bigint
    const end = ends.find(e => e > t0)
    if (end === undefined) break
    totals.push(Number(end - t0) / 1000)
    while (ei < entries.length && (entries[ei] as Entry).ns < t0) ei++
    const seen = new Map<string, number>()
    for (let j = ei; j < entries.length && (entries[j] as Entry).ns <= end; j++) {
      const e = entries[j] as Entry
      const base = `${e.proc} ${e.name}${e.name === 'tls_msg' ? `(${tlsName(e.arg)})` : ''}`
      const n = (seen.get(base) ?? 0) + 1
      seen.set(base, n)
      const key = `${base}#${n}`
      const us = Number(e.ns - t0) / 1000
      const list = steps.get(key) ?? []
      list.push(us)
      steps.set(key, list)
      if (!order.has(key)) order.set(key, us + order.size * 1e-9)
    }
  }
  if (process.argv.includes('--stages')) {
    // The setup's critical path as consecutive stages, each ending at the first occurrence of its
    // point after the previous stage's end (per setup), and the server's verification of the
    // client's CertificateVerify, which overlaps stage 7. Medians over all setups, in us.
    const stages: Array<[string, string, string]> = [
      ['client JS dial() -> I/O thread has the command', 'C', 'dial_cmd'],
      ['client builds its ClientHello (X25519 key) and sends', 'C', 'send'],
      ['wire + server reads the ClientHello', 'S', 'tls_msg:ClientHello pre in'],
      ['server flight: X25519, our signature, Finished, send', 'S', 'send'],
      ['wire + client reads the ServerHello', 'C', 'tls_msg:ServerHello pre in'],
      ['client: X25519, verify server CertificateVerify, sign, Finished', 'C', 'hs_done'],
      ['client announces, JS opens the stream + sends, I/O thread queues it', 'C', 'send_cmd'],
      ['wire + server has verified the client and reads the stream data', 'S', 'data_in'],
      ['server JS echo until its I/O thread queues the byte', 'S', 'send_cmd'],
      ['wire + client reads it and JS gets the data', 'C', 'js_got'],
    ]
    const perStage: number[][] = stages.map(() => [])
    const verify: number[] = []
    for (let k = 0; k < totals.length; k++) {
      const t0 = starts[k] as bigint
      const end = t0 + BigInt(Math.round((totals[k] as number) * 1000))
      const inSetup = entries.filter(e => e.ns >= t0 && e.ns <= end)
      const label = (e: Entry): string => e.name === 'tls_msg' ? `tls_msg:${tlsName(e.arg)}` : e.name
      let prev = t0
      let ok = true
      const ends: bigint[] = []
      for (const [, proc, name] of stages) {
        const e = inSetup.find(x => x.proc === proc && x.ns >= prev && label(x) === name)
        if (e === undefined) { ok = false; break }
        ends.push(e.ns)
        prev = e.ns
      }
      if (!ok) continue
      let last = t0
      ends.forEach((ns, i) => { perStage[i]?.push(Number(ns - last) / 1000); last = ns })
      const cvIn = inSetup.find(x => x.proc === 'S' && label(x) === 'tls_msg:CertificateVerify post in')
      const done = inSetup.find(x => x.proc === 'S' && x.name === 'hs_done')
      if (cvIn !== undefined && done !== undefined) verify.push(Number(done.ns - cvIn.ns) / 1000)
    }
    console.log(`setups: ${totals.length} (${perStage[0]?.length ?? 0} with every stage), total p50 ${median(totals).toFixed(1)} us`)
    stages.forEach(([what], i) => { console.log(`${median(perStage[i] ?? []).toFixed(1).padStart(7)}  ${i + 1}. ${what}`) })
    console.log(`${median(verify).toFixed(1).padStart(7)}  (server: client CertificateVerify received -> handshake done, overlaps 7)`)
    return
  }
  if (process.argv.includes('--one')) {
    // The raw timeline of the setup whose total is the median: every point, in order.
    const med = median(totals)
    const k = totals.findIndex(t => t === med)
    const t0 = starts[k] as bigint
    const end = t0 + BigInt(Math.round(med * 1000))
    console.log(`setup ${k}: ${med.toFixed(1)} us`)
    let prevNs = t0
    for (const e of entries) {
      if (e.ns < t0 || e.ns > end) continue
      const name = e.name === 'tls_msg' ? `tls_msg(${tlsName(e.arg)})` : `${e.name} ${e.arg}`
      console.log(`${(Number(e.ns - t0) / 1000).toFixed(1).padStart(7)} ${(Number(e.ns - prevNs) / 1000).toFixed(1).padStart(7)}  ${e.proc} ${name}`)
      prevNs = e.ns
    }
    return
  }
  const rows = [...steps.entries()]
    .filter(([, v]) => v.length >= totals.length * 0.8)  // steps present in (nearly) every setup
    .map(([k, v]) => ({ k, med: median(v), n: v.length }))
    .sort((a, b) => a.med - b.med)
  console.log(`setups: ${totals.length}, total p50 ${median(totals).toFixed(1)} us (js_dial -> js_got, client)`)
  console.log('  t(us)   gap(us)  step (C client, S server; #n = n-th in the setup; n setups)')
  let prev = 0
  for (const r of rows) {
    console.log(`${r.med.toFixed(1).padStart(7)} ${(r.med - prev).toFixed(1).padStart(8)}  ${r.k} (${r.n})`)
    prev = r.med
  }
}

// GnuTLS handshake message types (gnutls_handshake_description_t) for the tls_msg hook's arg.
const TLS_TYPES: Record<number, string> = {
  1: 'ClientHello', 2: 'ServerHello', 4: 'NewSessionTicket', 8: 'EncryptedExtensions', 11: 'Certificate',
  13: 'CertificateRequest', 15: 'CertificateVerify', 20: 'Finished', 254: 'ChangeCipherSpec'
}
function tlsName (arg: bigint): string {
  const a = Number(arg)
  const type = TLS_TYPES[a >> 2] ?? String(a >> 2)
  return `${type} ${(a & 2) !== 0 ? 'post' : 'pre'} ${(a & 1) !== 0 ? 'in' : 'out'}`
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const pre = process.argv[2]
  if (pre === undefined) throw new Error('usage: setup-trace.ts <prefix>')
  analyse(pre)
}
