/**
 * Metrics over the native TCP transport: byte totals by transport and by protocol come from the
 * native counters at scrape time (captureTransport reaches the transport the Swarm built), and the
 * upgrade duration is taken from the connection timeline. Skipped when the addon is not built.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { multiaddr } from '@multiformats/multiaddr'
import { Registry } from 'prom-client'
import { SwarmBuilder } from '../../src/core/swarm/builder.ts'
import { combine } from '../../src/core/combine.ts'
import { IdentifyBehaviour } from '../../src/protocols/identify/index.ts'
import { PingBehaviour } from '../../src/protocols/ping/index.ts'
import { tcp } from '../../src/transports/tcp/index.ts'
import { Metrics, captureTransport, serveMetrics } from '../../src/metrics/index.ts'
import { closeAll, connect, waitFor } from '../helpers/swarm.ts'
import { parseOpenMetrics, scrape } from './scrape.ts'

const addonBuilt = existsSync(new URL('../../build/Release/libp2p_native.node', import.meta.url)) || process.env.LIBP2P_NATIVE_ADDON !== undefined

test('metrics over native TCP: bytes by transport and by protocol from native counters', { skip: !addonBuilt && 'native addon not built' }, async () => {
  const captured = captureTransport(tcp())
  const a = await SwarmBuilder.withNewIdentity().withTransport(captured.factory)
    .withBehaviour(key => combine({ ping: new PingBehaviour({ intervalMs: 30, keepAlive: true }), identify: new IdentifyBehaviour({ privateKey: key }) }))
    .build()
  const b = await SwarmBuilder.withNewIdentity().withTcp()
    .withBehaviour(key => combine({ ping: new PingBehaviour({ intervalMs: 30, keepAlive: true }), identify: new IdentifyBehaviour({ privateKey: key }) }))
    .build()
  const registry = new Registry()
  const metrics = new Metrics(a, { registry, protocolCounters: [captured] })
  const server = await serveMetrics(registry, { port: 0 })
  try {
    await a.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
    await b.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
    assert.ok(captured.transport !== undefined && captured.transport.name === 'tcp')
    let pings = 0
    const fivePings = new Promise<void>(resolve => { a.on('behaviour', e => { if (e.event.behaviour === 'ping' && e.event.event.result.type === 'success' && ++pings === 5) resolve() }) })
    const identified = waitFor(a, 'behaviour', e => e.event.behaviour === 'identify' && e.event.event.type === 'received', 10_000)
    await connect(a, b, 10_000)
    await Promise.all([fivePings, identified])
    const m1 = parseOpenMetrics((await scrape(server.url)).body)
    assert.equal(m1.get('libp2p_swarm_connections{direction="outbound",transport="tcp"}'), 1)
    assert.equal(m1.get('libp2p_swarm_connection_upgrade_duration_seconds_count{direction="outbound",transport="tcp"}'), 1)
    const pingOut1 = m1.get('libp2p_swarm_protocol_bytes_total{direction="out",protocol="/ipfs/ping/1.0.0",transport="tcp"}') ?? 0
    // Five pings of 32 bytes each at least (the native counters count stream payload).
    assert.ok(pingOut1 >= 5 * 32, `ping bytes out: ${pingOut1}`)
    assert.ok((m1.get('libp2p_swarm_protocol_bytes_total{direction="in",protocol="/ipfs/id/1.0.0",transport="tcp"}') ?? 0) > 0, 'identify bytes in')
    const tcpOut1 = m1.get('libp2p_swarm_transport_bytes_total{direction="out",transport="tcp"}') ?? 0
    assert.ok(tcpOut1 >= pingOut1, 'connection bytes include the ping payload')
    // More pings: both totals grow between scrapes.
    const target = pings + 3
    await new Promise<void>(resolve => { a.on('behaviour', e => { if (e.event.behaviour === 'ping' && e.event.event.result.type === 'success' && pings >= target) resolve() }) })
    const m2 = parseOpenMetrics((await scrape(server.url)).body)
    assert.ok((m2.get('libp2p_swarm_protocol_bytes_total{direction="out",protocol="/ipfs/ping/1.0.0",transport="tcp"}') ?? 0) >= pingOut1 + 3 * 32)
    assert.ok((m2.get('libp2p_swarm_transport_bytes_total{direction="out",transport="tcp"}') ?? 0) > tcpOut1)
  } finally {
    metrics.detach()
    await server.close()
    await closeAll([a, b])
  }
})
