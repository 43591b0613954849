// The same floor for plain Node: an 8-byte echo over node:net (TCP_NODELAY) between two processes,
// 3000 round trips. No libp2p: what any Node stack pays before framing and encryption.
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
  const buf = Buffer.alloc(8); const t = []
  for (let i = 0; i < 3000; i++) {
    const t0 = process.hrtime.bigint()
    c.write(buf); await new Promise(r => c.once('data', r))
    t.push(Number(process.hrtime.bigint() - t0) / 1000)
  }
  t.sort((a, b) => a - b); console.log('node raw tcp 8-byte rtt p50 us', t[1500].toFixed(1), 'p10', t[300].toFixed(1))
  c.destroy(); child.kill()
}
