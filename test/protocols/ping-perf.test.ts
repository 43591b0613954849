import { test } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { memory, MemoryNetwork, type MemoryTransportOptions } from '../../src/transports/memory/index.ts'
import type { Connection } from '../../src/core/transport.ts'
import type { Stream } from '../../src/core/stream.ts'
import { ProtocolViolationError, TimeoutError } from '../../src/core/errors.ts'
import { PING_PROTOCOL, PING_LENGTH } from '../../src/protocols/ping/constants.ts'
import { handlePingStream, PingSession, ping } from '../../src/protocols/ping/protocol.ts'
import { PERF_PROTOCOL, PERF_SEND_BUFFER_SIZE } from '../../src/protocols/perf/constants.ts'
import { handlePerfStream, runPerf, type PerfReport, type PerfServerResult } from '../../src/protocols/perf/protocol.ts'
import { makeContext } from '../helpers/node-context.ts'

async function pair (handler: (s: Stream) => void, options: MemoryTransportOptions = {}): Promise<{ client: Connection, server: Connection }> {
  const network = new MemoryNetwork()
  const serverCtx = makeContext([PING_PROTOCOL, PERF_PROTOCOL])
  const listener = await memory({ ...options, network })(serverCtx).listen(multiaddr('/memory/s'))
  const server = new Promise<Connection>(resolve => {
    listener.once('connection', (c) => { c.on('stream', handler); resolve(c) })
  })
  const client = await memory({ ...options, network })(makeContext()).dial(multiaddr('/memory/s'))
  return { client, server: await server }
}

test('ping: several pings on one stream, each RTT measured; with latency the RTT covers the round trip', async () => {
  const { client } = await pair((s) => { void handlePingStream(s) }, { latencyMs: 10 })
  const session = await PingSession.open(client)
  const rtts: number[] = []
  for (let i = 0; i < 4; i++) rtts.push(await session.ping())
  for (const rtt of rtts) assert.ok(rtt >= 19, `rtt ${rtt}`)
  await session.close()
  assert.equal(session.stream.status, 'closed')
  assert.ok(await ping(client) >= 19)
})

test('ping: a wrong echo is a protocol violation; no echo times out', async () => {
  const { client } = await pair((s) => {
    void (async () => {
      for await (const chunk of s) {
        if (s.protocol !== PING_PROTOCOL) continue
        const bad = Uint8Array.from(chunk); bad[0] = (bad[0] as number) ^ 0xff
        s.send(bad)
      }
    })().catch(() => {}) // the client resets the stream after the bad echo
  })
  await assert.rejects(ping(client), ProtocolViolationError)
  const { client: c2 } = await pair(() => {})
  await assert.rejects(ping(c2, { timeoutMs: 50 }), TimeoutError)
})

test('ping server: echoes pings split across chunks; a truncated ping resets the stream with a protocol violation', async () => {
  let serverDone: Promise<void> | undefined
  const { client } = await pair((s) => { serverDone = handlePingStream(s); serverDone.catch(() => {}) })
  const s = await client.openStream(PING_PROTOCOL)
  const payload = new Uint8Array(PING_LENGTH * 2).map((_, i) => i)
  s.send(payload.subarray(0, 5)); s.send(payload.subarray(5, 40)); s.send(payload.subarray(40))
  const it = s[Symbol.asyncIterator]()
  let got = 0
  while (got < payload.length) got += ((await it.next()).value as Uint8Array).byteLength
  s.send(new Uint8Array(3))
  await s.closeWrite()
  await assert.rejects(serverDone as Promise<void>, ProtocolViolationError)
})

/** A view of a stream that records its largest write buffer right after each send(). */
function watchWrites (stream: Stream): { stream: Stream, maxBuffered: () => number } {
  let max = 0
  const proxy = new Proxy(stream, {
    get (target, prop, receiver) {
      if (prop === 'send') {
        return (data: Uint8Array) => {
          const ok = target.send(data)
          max = Math.max(max, target.writeBufferLength)
          return ok
        }
      }
      const v = Reflect.get(target, prop, receiver)
      return typeof v === 'function' ? v.bind(target) : v
    }
  })
  return { stream: proxy, maxBuffered: () => max }
}

test('perf: upload then download with exact byte counts, and both sides respect backpressure', async () => {
  const writeHighWaterMark = 128 * 1024
  let serverResult: Promise<PerfServerResult> | undefined
  let serverMax = (): number => 0
  const { client } = await pair((s) => {
    const w = watchWrites(s)
    serverMax = w.maxBuffered
    serverResult = handlePerfStream(w.stream)
  }, { writeHighWaterMark, readHighWaterMark: 256 * 1024 })
  const upload = 5 * 1024 * 1024 + 17
  const download = 7 * 1024 * 1024 + 3
  const final = await runPerf(client, { uploadBytes: upload, downloadBytes: download })
  assert.equal(final.type, 'final')
  assert.equal(final.uploadBytes, upload)
  assert.equal(final.downloadBytes, download)
  assert.ok(final.timeSeconds > 0)
  assert.deepEqual(await serverResult, { uploadBytes: upload, downloadBytes: download })
  // A sender that waits for drain never has more than the mark plus one send buffer queued.
  assert.ok(serverMax() > 0 && serverMax() < writeHighWaterMark + PERF_SEND_BUFFER_SIZE, `server buffered ${serverMax()}`)
  assert.equal(client.streams.length, 0)
})

test('perf: zero-byte upload and download are valid', async () => {
  const { client } = await pair((s) => { void handlePerfStream(s) })
  const r = await runPerf(client, { uploadBytes: 0, downloadBytes: 0 })
  assert.deepEqual([r.uploadBytes, r.downloadBytes], [0, 0])
})

test('perf: intermediary reports come at the interval with per-interval byte counts', async () => {
  const { client } = await pair((s) => { void handlePerfStream(s) }, { latencyMs: 2, writeHighWaterMark: 64 * 1024, readHighWaterMark: 64 * 1024 })
  const reports: PerfReport[] = []
  const final = await runPerf(client, { uploadBytes: 16 * 1024 * 1024, downloadBytes: 16 * 1024 * 1024, progressIntervalMs: 40, onProgress: (r) => reports.push(r) })
  assert.ok(reports.length >= 2, `${reports.length} reports`)
  for (const r of reports) {
    assert.equal(r.type, 'intermediary')
    assert.ok(r.timeSeconds > 0.02 && r.timeSeconds < 1, `interval ${r.timeSeconds}`)
  }
  const up = reports.reduce((a, r) => a + r.uploadBytes, 0)
  const down = reports.reduce((a, r) => a + r.downloadBytes, 0)
  assert.ok(up > 0 && up <= final.uploadBytes)
  assert.ok(down <= final.downloadBytes)
  assert.deepEqual(Object.keys(final).sort(), ['downloadBytes', 'timeSeconds', 'type', 'uploadBytes'])
})

test('perf: a short header is a server-side protocol violation; a short download fails the client', async () => {
  let serverResult: Promise<PerfServerResult> | undefined
  const { client } = await pair((s) => { serverResult = handlePerfStream(s); serverResult.catch(() => {}) })
  const s = await client.openStream(PERF_PROTOCOL)
  s.send(new Uint8Array(5))
  await s.closeWrite()
  await assert.rejects(serverResult as Promise<PerfServerResult>, ProtocolViolationError)

  const { client: c2 } = await pair((st) => {
    void (async () => {
      for await (const _ of st) { /* drain */ }
      st.send(new Uint8Array(10))
      await st.closeWrite()
    })()
  })
  await assert.rejects(runPerf(c2, { uploadBytes: 10, downloadBytes: 1000 }), /received 10 bytes, expected 1000/)
  await assert.rejects(runPerf(c2, { uploadBytes: -1, downloadBytes: 0 }), /non-negative/)
})

test('perf server: maxDownloadBytes refuses larger requests', async () => {
  let serverResult: Promise<PerfServerResult> | undefined
  const { client } = await pair((s) => {
    serverResult = handlePerfStream(s, { maxDownloadBytes: 1000 })
    serverResult.catch(() => {}) // asserted below
  })
  await assert.rejects(runPerf(client, { uploadBytes: 0, downloadBytes: 1001 }))
  await assert.rejects(serverResult as Promise<PerfServerResult>, /more than the server allows/)
})
