/**
 * `Metrics` finds the behaviours it knows wherever they sit: a lone behaviour (events not tagged by
 * combine), a `toggle`d member, a Kademlia member (routed to KadMetrics); unknown members are ignored.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Registry } from 'prom-client'
import { combine, toggle } from '../../src/core/combine.ts'
import { PingBehaviour } from '../../src/protocols/ping/index.ts'
import { Kademlia } from '../../src/protocols/kad/behaviour.ts'
import { peerIdFromPrivateKey } from '../../src/identity/index.ts'
import { Metrics } from '../../src/metrics/index.ts'
import { closeAll, connect, createSwarms, createSwarm, waitFor } from '../helpers/swarm.ts'
import { ProbeBehaviour } from '../helpers/probe.ts'
import { parseOpenMetrics } from './scrape.ts'

test('metrics routing: a lone ping behaviour is recorded from untagged events', async () => {
  const [a, b] = await createSwarms(2, () => new PingBehaviour({ intervalMs: 20, keepAlive: true }))
  assert.ok(a !== undefined && b !== undefined)
  const registry = new Registry()
  const metrics = new Metrics(a, { registry })
  try {
    assert.ok(metrics.ping !== undefined && metrics.identify === undefined)
    const pinged = waitFor(a, 'behaviour', e => e.event.result.type === 'success')
    await connect(a, b)
    await pinged
    const m = parseOpenMetrics(await registry.metrics())
    assert.ok((m.get('libp2p_ping_rtt_seconds_count') ?? 0) >= 1)
  } finally {
    metrics.detach()
    await closeAll([a, b])
  }
})

test('metrics routing: toggled and Kademlia members are found; unknown members are skipped', async () => {
  const swarm = await createSwarm(key => combine({
    probe: new ProbeBehaviour('/unused/1'),
    ping: toggle(new PingBehaviour(), true),
    kad: new Kademlia({ peerId: peerIdFromPrivateKey(key), config: { mode: 'server', autoRefresh: false } })
  }))
  const registry = new Registry()
  const metrics = new Metrics(swarm, { registry })
  try {
    assert.ok(metrics.ping !== undefined)
    assert.ok(metrics.kad !== undefined)
    assert.equal(metrics.identify, undefined)
    assert.equal(metrics.requestResponse, undefined)
    const text = await registry.metrics()
    assert.match(text, /^libp2p_kad_server_mode 1$/m)
    assert.match(text, /^libp2p_kad_routing_table_size 0$/m)
    // The Kademlia recorder is the existing KadMetrics, on the same registry.
    metrics.kad.onEvent({ type: 'modeChanged', mode: 'client' })
    assert.match(await registry.metrics(), /libp2p_kad_mode_changes_total\{mode="client"\} 1/)
  } finally {
    metrics.detach()
    await closeAll([swarm])
  }
})
