/**
 * js-libp2p 3 bench peer (TCP + Noise + Yamux, or with `--transport quic` @chainsafe/libp2p-quic
 * 2.1.1), the alternative every figure is compared with.
 * Command line and output: bench/perf/peer-protocol.md.
 */
import { createJsPeer, runJsPerf, type JsPeer } from '../../test/helpers/js-libp2p.ts'
import { multiaddr } from '@multiformats/multiaddr'
import { argValue, markBaseline, percentile, printLine, usage } from './usage.ts'

const ECHO_PROTOCOL = '/bench/echo/1.0.0'
const args = process.argv.slice(2)
const role = argValue(args, 'role')
const transport = argValue(args, 'transport', 'tcp')
if (transport !== 'tcp' && transport !== 'quic') throw new Error(`--transport must be tcp or quic, got ${transport}`)

if (role === 'server') {
  const node = await createJsPeer({ transport, listen: [argValue(args, 'listen', transport === 'quic' ? '/ip4/127.0.0.1/udp/0/quic-v1' : '/ip4/127.0.0.1/tcp/0')] })
  await node.handle(ECHO_PROTOCOL, (stream) => {
    void (async () => {
      for await (const buf of stream) {
        if (!stream.send(buf)) await stream.onDrain()
      }
      await stream.close()
    })().catch(err => stream.abort(err))
  }, { maxInboundStreams: 1024 })
  markBaseline()
  printLine({ type: 'listening', addrs: node.getMultiaddrs().map(String) })
  process.on('SIGTERM', () => {
    printLine(usage())
    void Promise.resolve(node.stop()).finally(() => process.exit(0))
  })
} else {
  const addr = multiaddr(argValue(args, 'addr'))
  const mode = argValue(args, 'mode')
  const node: JsPeer = await createJsPeer({ transport, listen: [], perf: false })
  markBaseline()
  if (mode === 'perf') {
    const upload = Number(argValue(args, 'upload', '0'))
    const download = Number(argValue(args, 'download', '0'))
    const streams = Number(argValue(args, 'streams', '1'))
    await node.dial(addr)
    const start = performance.now()
    await Promise.all(Array.from({ length: streams }, async () => await runJsPerf(node, addr, upload, download)))
    const seconds = (performance.now() - start) / 1000
    printLine({ type: 'result', mode, streams, seconds, uploadBytes: upload * streams, downloadBytes: download * streams })
  } else if (mode === 'connect') {
    const count = Number(argValue(args, 'count', '300'))
    const times: number[] = []
    const one = new Uint8Array([1])
    for (let i = 0; i < count; i++) {
      const t0 = performance.now()
      const conn = await node.dial(addr, { force: true } as never)
      const stream = await conn.newStream(ECHO_PROTOCOL)
      const got = new Promise<void>((resolve) => { stream.addEventListener('message', () => resolve(), { once: true }) })
      stream.send(one)
      await got
      times.push(performance.now() - t0)
      await stream.close()
      await conn.close()
    }
    times.sort((a, b) => a - b)
    printLine({ type: 'result', mode, count, p50Ms: percentile(times, 0.5), p90Ms: percentile(times, 0.9), p99Ms: percentile(times, 0.99) })
  } else if (mode === 'rtt') {
    const count = Number(argValue(args, 'count', '2000'))
    const size = Number(argValue(args, 'size', '8'))
    const stream = await node.dialProtocol(addr, ECHO_PROTOCOL)
    const payload = new Uint8Array(size)
    const times: number[] = []
    let pending: (() => void) | undefined
    let have = 0
    stream.addEventListener('message', (evt) => {
      have += evt.data.byteLength
      if (have >= size && pending !== undefined) { have -= size; const p = pending; pending = undefined; p() }
    })
    for (let i = 0; i < count; i++) {
      const t0 = performance.now()
      const done = new Promise<void>((resolve) => { pending = resolve })
      stream.send(payload)
      await done
      times.push(performance.now() - t0)
    }
    await stream.close()
    times.sort((a, b) => a - b)
    printLine({ type: 'result', mode, count, size, p50Us: percentile(times, 0.5) * 1000, p90Us: percentile(times, 0.9) * 1000, p99Us: percentile(times, 0.99) * 1000 })
  } else {
    throw new Error(`unknown mode ${mode}`)
  }
  printLine(usage())
  await node.stop()
  process.exit(0)
}
