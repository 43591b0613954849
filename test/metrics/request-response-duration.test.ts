/**
 * RequestResponseMetrics records the outbound `durationMs` of request-response events in
 * `libp2p_request_response_outbound_duration_seconds`, by behaviour and a closed outcome set; and
 * end to end, a Metrics instance on a memory swarm times a real request.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Registry, openMetricsContentType, type RegistryContentType } from 'prom-client'
import { StreamUpgradeError } from '../../src/core/handler.ts'
import { ConnectionClosedError, TimeoutError } from '../../src/core/errors.ts'
import { generateKeyPair, peerIdFromPrivateKey } from '../../src/identity/index.ts'
import { Metrics, RequestResponseMetrics } from '../../src/metrics/index.ts'
import { RequestResponseBehaviour, jsonCodec } from '../../src/protocols/request-response/index.ts'
import { closeAll, connect, createSwarms, waitFor } from '../helpers/swarm.ts'
import { parseOpenMetrics } from './scrape.ts'

const v = (m: Map<string, number>, key: string): number => m.get(key) ?? 0
const NAME = 'libp2p_request_response_outbound_duration_seconds'

test('outbound durations: histogram by behaviour and outcome; invalid figures are counted, not timed', async () => {
  const registry = new Registry<RegistryContentType>()
  registry.setContentType(openMetricsContentType)
  const m = new RequestResponseMetrics({ registry })
  const peerId = peerIdFromPrivateKey(generateKeyPair())
  m.onEvent('chat', { type: 'response', peerId, connectionId: 1, requestId: 1, response: 'x', durationMs: 3 })
  m.onEvent('chat', { type: 'response', peerId, connectionId: 1, requestId: 2, response: 'x', durationMs: 700 })
  m.onEvent('chat', { type: 'outboundFailure', peerId, requestId: 3, error: new TimeoutError('late'), durationMs: 10_000 })
  m.onEvent('chat', { type: 'outboundFailure', peerId, requestId: 4, error: new StreamUpgradeError('unsupported', 'no'), durationMs: 2 })
  m.onEvent('sync', { type: 'outboundFailure', peerId, requestId: 5, error: new ConnectionClosedError('gone'), durationMs: 40 })
  m.onEvent('sync', { type: 'response', peerId, connectionId: 1, requestId: 6, response: 'x', durationMs: Number.NaN })
  const s = parseOpenMetrics(await registry.metrics())
  assert.equal(v(s, `${NAME}_count{behaviour="chat",outcome="ok"}`), 2)
  assert.ok(Math.abs(v(s, `${NAME}_sum{behaviour="chat",outcome="ok"}`) - 0.703) < 1e-9)
  assert.equal(v(s, `${NAME}_bucket{behaviour="chat",le="0.005",outcome="ok"}`), 1)
  assert.equal(v(s, `${NAME}_bucket{behaviour="chat",le="1",outcome="ok"}`), 2)
  assert.equal(v(s, `${NAME}_count{behaviour="chat",outcome="timeout"}`), 1)
  assert.equal(v(s, `${NAME}_sum{behaviour="chat",outcome="timeout"}`), 10)
  assert.equal(v(s, `${NAME}_count{behaviour="chat",outcome="unsupported"}`), 1)
  assert.equal(v(s, `${NAME}_count{behaviour="sync",outcome="closed"}`), 1)
  // NaN: counted as an outcome, not timed.
  assert.equal(v(s, `${NAME}_count{behaviour="sync",outcome="ok"}`), 0)
  assert.equal(v(s, 'libp2p_request_response_requests_total{behaviour="sync",direction="outbound",outcome="ok"}'), 1)
  // Only closed label values.
  const outcomes = new Set([...s.keys()].filter(k => k.startsWith(NAME)).map(k => /outcome="([^"]+)"/.exec(k)?.[1]))
  for (const o of outcomes) assert.ok(['ok', 'timeout', 'closed', 'unsupported', 'limit', 'protocol', 'error'].includes(o as string), String(o))
})

test('outbound durations end to end: a request over memory swarms is timed on the requester only', async () => {
  const [a, b] = await createSwarms(2, () => new RequestResponseBehaviour<string, string>({ codec: jsonCodec(), protocols: ['/rr-duration/1'] }))
  assert.ok(a !== undefined && b !== undefined)
  const ra = new Registry<RegistryContentType>()
  const rb = new Registry<RegistryContentType>()
  ra.setContentType(openMetricsContentType)
  rb.setContentType(openMetricsContentType)
  const ma = new Metrics(a, { registry: ra })
  const mb = new Metrics(b, { registry: rb })
  try {
    b.on('behaviour', e => { if (e.event.type === 'request') { const ch = e.event.channel; setTimeout(() => b.behaviour.sendResponse(ch, 'ok'), 30) } })
    await connect(a, b)
    const got = waitFor(a, 'behaviour', e => e.event.type === 'response')
    a.behaviour.sendRequest(b.localPeerId, 'hi')
    const ev = (await got).event
    assert.ok(ev.type === 'response')
    const sa = parseOpenMetrics(await ra.metrics())
    const sb = parseOpenMetrics(await rb.metrics())
    assert.equal(v(sa, `${NAME}_count{behaviour="request_response",outcome="ok"}`), 1)
    assert.equal(v(sa, `${NAME}_sum{behaviour="request_response",outcome="ok"}`), ev.durationMs / 1000)
    assert.ok(ev.durationMs >= 25, String(ev.durationMs))
    assert.equal(v(sb, `${NAME}_count{behaviour="request_response",outcome="ok"}`), 0)
  } finally {
    ma.detach()
    mb.detach()
    await closeAll([a, b])
  }
})
