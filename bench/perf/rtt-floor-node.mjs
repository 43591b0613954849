// The same floor for plain Node: an 8-byte echo over node:net (TCP_NODELAY) between two processes,
// 20000 round trips. No libp2p: what any Node stack pays before framing and encryption. Also prints
// the client's CPU per round trip (user and system), to compare with the `usage` line of
// `native-peer.ts --mode rtt` (threadCpuSeconds / count).
//   node bench/perf/rtt-floor-node.mjs
import net from 'node:net'
import { spawn } from 'node:child_process'
if (process.argv[2] === 'server') {
  const s = net.createServer(c => { c.setNoDelay(true); c.on('data', d => c.write(d)) })
  s.listen(0, '127.0.0.1', () => { process.stdout.write(String(s.address().port) + '\n') })
} else {
  const child = spawn(process.execPath, [new URL(import.meta.url).pathname, 'server'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise(r => child.stdout.once('data', d => r(Number(String(d).trim()))))
  const c = net.connect(port, '127.0.0.1'); c.setNoDelay(true)
  await new Promise(r => c.once('connect', r))
  const buf = Buffer.alloc(8); const t = []; const warmup = 2000; let cpu0
  for (let i = 0; i < 20000; i++) {
    if (i === warmup) cpu0 = process.cpuUsage()  // CPU after JIT warm-up
    const t0 = process.hrtime.bigint()
    c.write(buf); await new Promise(r => c.once('data', r))
    t.push(Number(process.hrtime.bigint() - t0) / 1000)
  }
  const cpu = process.cpuUsage(cpu0)
  t.sort((a, b) => a - b); console.log('node raw tcp 8-byte rtt p50 us', t[10000].toFixed(1), 'p10', t[2000].toFixed(1))
  console.log('client cpu us per round trip: user', (cpu.user / (t.length - warmup)).toFixed(1), 'system', (cpu.system / (t.length - warmup)).toFixed(1))
  c.destroy(); child.kill()
}
