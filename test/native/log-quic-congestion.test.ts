/**
 * A QUIC connection's close line at debug carries its congestion state (native/io/quic_io.cpp,
 * Connection::congestion_stats): window, ssthresh, RTTs and how the sender's bursts ended. An
 * 8 MiB upload cannot leave in the initial window, so the uploader's line must count cwnd-limited
 * bursts and a minimum RTT no larger than the smoothed one. This is the line the perf bench shows
 * with LIBP2P_LOG=native:quic=debug (native-core.md, QUIC on the I/O threads).
 * A file of its own: it changes the process-wide filter and sink.
 */
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { quic, type QuicTransport } from '../../src/transports/quic/index.ts'
import { defaultLogConfig, type LogRecord } from '../../src/log/index.ts'
import { makeContext } from '../helpers/node-context.ts'

const PROTOCOL = '/sink/1.0.0'
const UPLOAD = 8 * 1024 * 1024

function makeNode (): QuicTransport {
  return quic()(makeContext([PROTOCOL])) as QuicTransport
}

const CLOSE_LINE = /^connection closed \(code \d+\): cwnd (\d+), ssthresh (-?\d+), srtt (\d+) us, min rtt (\d+) us, bursts ended cwnd-limited (\d+), app-limited (\d+), other (\d+)$/

it('native:quic logs a connection\'s congestion state when it closes', async () => {
  const seen: LogRecord[] = []
  defaultLogConfig.setSink((r) => { seen.push(r) })
  defaultLogConfig.setFilter('off,native:quic=debug')
  const server = makeNode()
  const client = makeNode()
  try {
    const listener = await server.listen(multiaddr('/ip4/127.0.0.1/udp/0/quic-v1'))
    let received = 0
    const drained = new Promise<void>((resolve, reject) => {
      listener.on('connection', (conn) => {
        conn.on('stream', (stream) => {
          void (async () => {
            for await (const chunk of stream) received += chunk.byteLength
            resolve()
          })().catch(reject)
        })
      })
    })
    const base = listener.addrs()[0]
    assert.ok(base !== undefined)
    const conn = await client.dial(base)
    const stream = await conn.openStream(PROTOCOL)
    const chunk = new Uint8Array(256 * 1024)
    for (let sent = 0; sent < UPLOAD; sent += chunk.byteLength) {
      if (!stream.send(chunk)) await stream.onDrain()
    }
    await stream.closeWrite()
    await drained
    assert.equal(received, UPLOAD)
    await conn.close()
    await new Promise(resolve => setTimeout(resolve, 100))
    const closes = seen.filter(r => r.component === 'native:quic' && r.level === 'debug' && r.msg.startsWith('connection closed'))
    assert.ok(closes.length >= 1, `close lines: ${JSON.stringify(seen)}`)
    const lines = closes.map(r => ({ r, m: CLOSE_LINE.exec(r.msg) }))
    for (const { r, m } of lines) assert.ok(m !== null, `close line with congestion state: ${r.msg}`)
    // The uploader is the connection whose bursts hit the window; the receiver only acknowledges.
    const stats = lines.map(({ m }) => (m as RegExpExecArray).slice(1).map(Number))
    const uploader = stats.find(s => (s[4] as number) > 0)
    assert.ok(uploader !== undefined, `an uploader line with cwnd-limited bursts: ${JSON.stringify(closes.map(r => r.msg))}`)
    const [cwnd, , srtt, minRtt] = uploader as number[]
    assert.ok((cwnd as number) > 0)
    assert.ok((minRtt as number) <= (srtt as number), `min rtt ${String(minRtt)} <= srtt ${String(srtt)}`)
  } finally {
    await client.close()
    await server.close()
    defaultLogConfig.setFilter(process.env.LIBP2P_LOG ?? '')
  }
})
