/**
 * Metrics (src/metrics): two swarms over the memory transport with ping, identify and
 * request-response, each with its own registry and /metrics endpoint, scraped over HTTP before and
 * after traffic; the error-cause mappings; the endpoint's bounds (one route, GET/HEAD only).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { multiaddr } from '@multiformats/multiaddr'
import { Registry } from 'prom-client'
import { combine } from '../../src/core/combine.ts'
import { PingBehaviour } from '../../src/protocols/ping/index.ts'
import { IdentifyBehaviour } from '../../src/protocols/identify/index.ts'
import { RequestResponseBehaviour, jsonCodec } from '../../src/protocols/request-response/index.ts'
import { Metrics, serveMetrics, connectionErrorCause, errorOutcome, type MetricsServer } from '../../src/metrics/index.ts'
import { AbortError, DialError, LimitExceededError, PeerIdMismatchError, TimeoutError, ConnectionClosedError, HandshakeError } from '../../src/core/errors.ts'
import { ConnectionDenied } from '../../src/core/behaviour.ts'
import { StreamUpgradeError } from '../../src/core/handler.ts'
import { AllAddressesFailedError } from '../../src/core/swarm/dial.ts'
import type { PrivateKey } from '../../src/identity/types.ts'
import { closeAll, connect, createSwarms, waitFor } from '../helpers/swarm.ts'
import { parseOpenMetrics, scrape } from './scrape.ts'

const OPENMETRICS = 'application/openmetrics-text; version=1.0.0; charset=utf-8'

// eslint-disable-next-line @typescript-eslint/explicit-function-return-type
function makeBehaviour (key: PrivateKey) {
  return combine({
    ping: new PingBehaviour({ intervalMs: 40, timeoutMs: 2000, keepAlive: true }),
    identify: new IdentifyBehaviour({ privateKey: key, agentVersion: 'metrics-test/1' }),
    chat: new RequestResponseBehaviour<{ text: string }, { echo: string }>({ codec: jsonCodec(), protocols: ['/metrics-test/chat/1'] })
  })
}

const v = (m: Map<string, number>, key: string): number => m.get(key) ?? 0

test('metrics: two swarms with ping, identify and request-response, scraped over HTTP as OpenMetrics', async () => {
  const [a, b] = await createSwarms(2, (_i, key) => makeBehaviour(key))
  assert.ok(a !== undefined && b !== undefined)
  const regA = new Registry()
  const regB = new Registry()
  const metricsA = new Metrics(a, { registry: regA })
  const metricsB = new Metrics(b, { registry: regB })
  assert.ok(metricsA.ping !== undefined && metricsA.identify !== undefined && metricsA.requestResponse !== undefined)
  assert.equal(metricsA.kad, undefined)
  const servers: MetricsServer[] = []
  try {
    servers.push(await serveMetrics(regA, { port: 0 }))
    servers.push(await serveMetrics(regB, { port: 0, host: '127.0.0.1' }))
    const [srvA, srvB] = servers as [MetricsServer, MetricsServer]

    // Before any connection.
    const first = await scrape(srvA.url)
    assert.equal(first.status, 200)
    assert.equal(first.contentType, OPENMETRICS)
    assert.ok(first.body.endsWith('# EOF\n'), 'OpenMetrics bodies end with # EOF')
    assert.match(first.body, /# TYPE libp2p_swarm_connections_opened counter/)
    let ma = parseOpenMetrics(first.body)
    assert.equal(v(ma, 'libp2p_swarm_connections_opened_total{direction="outbound",transport="memory"}'), 0)
    assert.equal(v(ma, 'libp2p_swarm_dials_total'), 0)
    assert.equal(v(ma, 'libp2p_ping_rtt_seconds_count'), 0)
    assert.equal(v(ma, 'libp2p_swarm_listen_addresses'), 1)

    // Connect, let identify run both ways and ping a few times, then one request.
    const identifiedA = waitFor(a, 'behaviour', e => e.event.behaviour === 'identify' && e.event.event.type === 'received')
    const identifiedB = waitFor(b, 'behaviour', e => e.event.behaviour === 'identify' && e.event.event.type === 'received')
    let pingsA = 0
    const threePings = new Promise<void>(resolve => {
      a.on('behaviour', e => { if (e.event.behaviour === 'ping' && e.event.event.result.type === 'success' && ++pingsA === 3) resolve() })
    })
    b.on('behaviour', e => {
      if (e.event.behaviour === 'chat' && e.event.event.type === 'request') b.behaviour.members.chat.sendResponse(e.event.event.channel, { echo: e.event.event.request.text })
    })
    await connect(a, b)
    await Promise.all([identifiedA, identifiedB, threePings])
    const response = waitFor(a, 'behaviour', e => e.event.behaviour === 'chat' && e.event.event.type === 'response')
    const served = waitFor(b, 'behaviour', e => e.event.behaviour === 'chat' && e.event.event.type === 'responseSent')
    a.behaviour.members.chat.sendRequest(b.localPeerId, { text: 'hello metrics' })
    await Promise.all([response, served])

    ma = parseOpenMetrics((await scrape(srvA.url)).body)
    let mb = parseOpenMetrics((await scrape(srvB.url)).body)
    assert.equal(v(ma, 'libp2p_swarm_connections{direction="outbound",transport="memory"}'), 1)
    assert.equal(v(mb, 'libp2p_swarm_connections{direction="inbound",transport="memory"}'), 1)
    assert.equal(v(ma, 'libp2p_swarm_connections_opened_total{direction="outbound",transport="memory"}'), 1)
    assert.equal(v(mb, 'libp2p_swarm_connections_opened_total{direction="inbound",transport="memory"}'), 1)
    assert.equal(v(ma, 'libp2p_swarm_dials_total'), 1)
    assert.equal(v(mb, 'libp2p_swarm_dials_total'), 0)
    assert.equal(v(ma, 'libp2p_swarm_connection_upgrade_duration_seconds_count{direction="outbound",transport="memory"}'), 1)
    assert.equal(v(ma, 'libp2p_swarm_dial_duration_seconds_count{transport="memory"}'), 1)
    const outA = v(ma, 'libp2p_swarm_transport_bytes_total{direction="out",transport="memory"}')
    const inB = v(mb, 'libp2p_swarm_transport_bytes_total{direction="in",transport="memory"}')
    assert.ok(outA > 0, 'A sent bytes')
    assert.ok(inB > 0, 'B received bytes')
    assert.ok(v(ma, 'libp2p_ping_rtt_seconds_count') >= 3)
    assert.ok(v(ma, 'libp2p_ping_rtt_seconds_bucket{le="+Inf"}') >= 3)
    assert.ok(v(ma, 'libp2p_ping_rtt_seconds_sum') > 0)
    assert.equal(v(ma, 'libp2p_identify_exchanges_total{kind="received"}'), 1)
    assert.equal(v(mb, 'libp2p_identify_exchanges_total{kind="received"}'), 1)
    assert.ok(v(mb, 'libp2p_identify_exchanges_total{kind="sent"}') >= 1)
    assert.ok(v(ma, 'libp2p_identify_remote_protocols_count') >= 1)
    assert.equal(v(ma, 'libp2p_request_response_requests_total{behaviour="chat",direction="outbound",outcome="ok"}'), 1)
    assert.equal(v(mb, 'libp2p_request_response_requests_total{behaviour="chat",direction="inbound",outcome="ok"}'), 1)
    assert.equal(v(mb, 'libp2p_request_response_inbound_duration_seconds_count{behaviour="chat",outcome="ok"}'), 1)
    assert.equal(v(ma, 'libp2p_request_response_inbound_duration_seconds_count{behaviour="chat",outcome="ok"}'), 0)

    // More traffic: the byte counters, read from the connection at scrape time, grow.
    const second = waitFor(a, 'behaviour', e => e.event.behaviour === 'chat' && e.event.event.type === 'response')
    a.behaviour.members.chat.sendRequest(b.localPeerId, { text: 'x'.repeat(10_000) })
    await second
    const ma2 = parseOpenMetrics((await scrape(srvA.url)).body)
    assert.ok(v(ma2, 'libp2p_swarm_transport_bytes_total{direction="out",transport="memory"}') >= outA + 10_000)
    assert.equal(v(ma2, 'libp2p_request_response_requests_total{behaviour="chat",direction="outbound",outcome="ok"}'), 2)

    // Close: the gauge drops, the close is counted with its cause, bytes stay (monotonic).
    const closedA = waitFor(a, 'connectionClosed')
    const closedB = waitFor(b, 'connectionClosed')
    a.disconnectPeer(b.localPeerId)
    await Promise.all([closedA, closedB])
    const ma3 = parseOpenMetrics((await scrape(srvA.url)).body)
    mb = parseOpenMetrics((await scrape(srvB.url)).body)
    assert.equal(v(ma3, 'libp2p_swarm_connections{direction="outbound",transport="memory"}'), 0)
    assert.equal(v(ma3, 'libp2p_swarm_connections_closed_total{cause="local",direction="outbound",transport="memory"}'), 1)
    assert.equal(v(mb, 'libp2p_swarm_connections_closed_total{cause="remote",direction="inbound",transport="memory"}'), 1)
    assert.ok(v(ma3, 'libp2p_swarm_transport_bytes_total{direction="out",transport="memory"}') >= v(ma2, 'libp2p_swarm_transport_bytes_total{direction="out",transport="memory"}'))

    // A dial to nobody: counted as a dial and a dial error with a closed-set cause.
    const failed = waitFor(a, 'outgoingConnectionError')
    a.dial(multiaddr(`/memory/nobody-listens-here-${process.pid}`))
    await failed
    const ma4 = parseOpenMetrics((await scrape(srvA.url)).body)
    assert.equal(v(ma4, 'libp2p_swarm_dials_total'), 2)
    assert.equal(v(ma4, 'libp2p_swarm_dial_errors_total{cause="refused"}'), 1)

    // After detach, events no longer count.
    metricsA.detach()
    const failedAgain = waitFor(a, 'outgoingConnectionError')
    a.dial(multiaddr(`/memory/nobody-listens-here-${process.pid}`))
    await failedAgain
    assert.equal(v(parseOpenMetrics((await scrape(srvA.url)).body), 'libp2p_swarm_dials_total'), 2)
  } finally {
    metricsA.detach()
    metricsB.detach()
    await Promise.all(servers.map(async s => { await s.close() }))
    await closeAll([a, b])
  }
})

test('metrics endpoint: one route, GET and HEAD only, bad ports refused', async () => {
  const registry = new Registry()
  const server = await serveMetrics(registry, { port: 0 })
  try {
    const base = server.url.slice(0, -'/metrics'.length)
    assert.equal((await scrape(`${base}/`)).status, 404)
    assert.equal((await scrape(`${base}/metrics/extra`)).status, 404)
    const post = await scrape(server.url, 'POST')
    assert.equal(post.status, 405)
    assert.equal(post.headers.allow, 'GET, HEAD')
    const head = await scrape(server.url, 'HEAD')
    assert.equal(head.status, 200)
    assert.equal(head.body, '')
    const get = await scrape(`${server.url}?x=1`)
    assert.equal(get.status, 200)
    assert.ok(get.body.endsWith('# EOF\n'))
    assert.equal(parseOpenMetrics(get.body).size, 0)
    assert.equal(Number(head.headers['content-length']), Buffer.byteLength(get.body))
  } finally {
    await server.close()
  }
  await assert.rejects(serveMetrics(registry, { port: 70000 }), /port/)
  await assert.rejects(serveMetrics(registry, { port: 1.5 }), /port/)
})

test('metrics: dial error causes and behaviour outcomes are closed sets', () => {
  assert.equal(connectionErrorCause(new ConnectionDenied('behaviour', 'no')), 'denied')
  assert.equal(connectionErrorCause(new PeerIdMismatchError('a', 'b')), 'peer_id_mismatch')
  assert.equal(connectionErrorCause(new DialError('refused', 'ERR_CONNECTION_REFUSED')), 'refused')
  assert.equal(connectionErrorCause(new TimeoutError()), 'timeout')
  assert.equal(connectionErrorCause(new AbortError()), 'aborted')
  assert.equal(connectionErrorCause(new HandshakeError('noise: bad', 'ERR_NOISE_DECRYPT')), 'handshake')
  assert.equal(connectionErrorCause(new LimitExceededError('connections', 'too many')), 'limit')
  assert.equal(connectionErrorCause(new DialError('x', 'ERR_SOMETHING_NEW')), 'transport')
  assert.equal(connectionErrorCause(new Error('plain')), 'transport')
  const all = new AllAddressesFailedError([{ address: multiaddr('/memory/x'), error: new TimeoutError() }])
  assert.equal(connectionErrorCause(all, all.addressErrors), 'timeout')
  assert.equal(connectionErrorCause(new AllAddressesFailedError([]), []), 'transport')
  assert.equal(errorOutcome(new StreamUpgradeError('unsupported', 'no')), 'unsupported')
  assert.equal(errorOutcome(new StreamUpgradeError('timeout', 'slow')), 'timeout')
  assert.equal(errorOutcome(new ConnectionClosedError()), 'closed')
  assert.equal(errorOutcome(new LimitExceededError('requestResponse.maxRequestSize', 'big')), 'limit')
  assert.equal(errorOutcome(new Error('?')), 'error')
})
