/**
 * Perf as a behaviour, combined with ping and identify as in the overhead target: runs
 * over the in-memory transport and, when the addon is built, over native TCP.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { multiaddr } from '@multiformats/multiaddr'
import { combine } from '../../../src/core/combine.ts'
import { SwarmBuilder } from '../../../src/core/swarm/builder.ts'
import { PerfBehaviour } from '../../../src/protocols/perf/behaviour.ts'
import { PingBehaviour } from '../../../src/protocols/ping/index.ts'
import { IdentifyBehaviour } from '../../../src/protocols/identify/index.ts'
import { closeAll, connect, createSwarms, waitFor } from '../../helpers/swarm.ts'

const addonBuilt = existsSync(new URL('../../../build/Release/libp2p_native.node', import.meta.url))

test('perf run through a swarm: result with the requested sizes; the server reports what it served', async () => {
  const [a, b] = await createSwarms(2, (_i, key) => combine({ ping: new PingBehaviour(), identify: new IdentifyBehaviour({ privateKey: key }), perf: new PerfBehaviour() }))
  assert.ok(a !== undefined && b !== undefined)
  try {
    await connect(a, b)
    const served = waitFor(b, 'behaviour', e => e.event.behaviour === 'perf' && e.event.event.type === 'served')
    const done = waitFor(a, 'behaviour', e => e.event.behaviour === 'perf' && e.event.event.type === 'result')
    const runId = a.behaviour.members.perf.perf(b.localPeerId, { uploadBytes: 3_000_000, downloadBytes: 1_000_001 })
    const ev = (await done).event
    assert.ok(ev.behaviour === 'perf' && ev.event.type === 'result')
    assert.equal(ev.event.runId, runId)
    assert.deepEqual({ up: ev.event.result.uploadBytes, down: ev.event.result.downloadBytes }, { up: 3_000_000, down: 1_000_001 })
    const s = (await served).event
    assert.ok(s.behaviour === 'perf' && s.event.type === 'served' && s.event.uploadBytes === 3_000_000 && s.event.downloadBytes === 1_000_001)
  } finally {
    await closeAll([a, b])
  }
})

test('perf to a peer without a connection fails with the run id', async () => {
  const [a, b] = await createSwarms(2, () => new PerfBehaviour())
  assert.ok(a !== undefined && b !== undefined)
  try {
    const failed = waitFor(a, 'behaviour', e => e.event.type === 'error')
    const runId = a.behaviour.perf(b.localPeerId, { uploadBytes: 1, downloadBytes: 1 })
    const ev = (await failed).event
    assert.equal(ev.type === 'error' ? ev.runId : -1, runId)
    assert.throws(() => a.behaviour.perf(b.localPeerId, { uploadBytes: -1, downloadBytes: 0 }), /non-negative/)
  } finally {
    await closeAll([a, b])
  }
})

test('perf through a swarm over native TCP', { skip: !addonBuilt && 'native addon not built' }, async () => {
  const make = async () => {
    const s = await SwarmBuilder.withNewIdentity().withTcp().withBehaviour(key => combine({ ping: new PingBehaviour(), identify: new IdentifyBehaviour({ privateKey: key }), perf: new PerfBehaviour() })).build()
    await s.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
    return s
  }
  const a = await make()
  const b = await make()
  try {
    await connect(a, b, 10_000)
    const done = waitFor(a, 'behaviour', e => e.event.behaviour === 'perf' && e.event.event.type !== 'served', 20_000)
    a.behaviour.members.perf.perf(b.localPeerId, { uploadBytes: 32 * 1024 * 1024, downloadBytes: 32 * 1024 * 1024 })
    const ev = (await done).event
    assert.ok(ev.behaviour === 'perf' && ev.event.type === 'result', ev.behaviour === 'perf' && ev.event.type === 'error' ? ev.event.error.message : '')
    assert.equal(ev.event.result.downloadBytes, 32 * 1024 * 1024)
  } finally {
    await closeAll([a, b])
  }
})
