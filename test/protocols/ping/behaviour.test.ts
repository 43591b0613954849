/**
 * Ping behaviour over the in-memory transport: RTT events on an interval on both sides, failure
 * after the configured number of misses (then the connection is closed), and a remote without ping.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { combine } from '../../../src/core/combine.ts'
import { PingBehaviour, PING_PROTOCOL, type PingEvent } from '../../../src/protocols/ping/index.ts'
import { closeAll, connect, createSwarms, waitFor } from '../../helpers/swarm.ts'
import { ProbeBehaviour } from '../../helpers/probe.ts'

test('ping reports RTTs on an interval, on both sides', async () => {
  const [a, b] = await createSwarms(2, () => new PingBehaviour({ intervalMs: 30, timeoutMs: 1000, keepAlive: true }))
  assert.ok(a !== undefined && b !== undefined)
  try {
    const rtts: number[] = []
    const times: number[] = []
    a.on('behaviour', (e) => {
      if (e.event.result.type === 'success') { rtts.push(e.event.result.rttMs); times.push(Date.now()) }
    })
    const fromB = waitFor(b, 'behaviour', e => e.event.result.type === 'success')
    await connect(a, b)
    await fromB
    await waitFor(a, 'behaviour', () => rtts.length >= 3)
    assert.ok(rtts.every(r => r >= 0 && r < 1000), `rtts ${rtts.join(',')}`)
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number))
    assert.ok(gaps.every(g => g >= 20), `pings are spaced by the interval: ${gaps.join(',')}`)
    assert.ok(a.isConnected(b.localPeerId))
  } finally {
    await closeAll([a, b])
  }
})

test('ping fails after the configured number of misses and closes the connection', async () => {
  // b accepts the ping protocol but never echoes (a probe handler reads and drops).
  const swarms = await createSwarms(2, (i) => i === 0
    ? combine({ ping: new PingBehaviour({ intervalMs: 10, timeoutMs: 40, maxFailures: 2 }), probe: new ProbeBehaviour('/unused/1') })
    : combine({ other: new ProbeBehaviour('/unused/2'), probe: new ProbeBehaviour(PING_PROTOCOL) }))
  const [a, b] = swarms
  assert.ok(a !== undefined && b !== undefined)
  try {
    const failures: PingEvent[] = []
    a.on('behaviour', e => { if (e.event.behaviour === 'ping' && e.event.event.result.type === 'failure') failures.push(e.event.event) })
    const closed = waitFor(a, 'connectionClosed')
    await connect(a, b)
    const ev = await closed
    assert.equal(ev.cause.type, 'local')
    assert.equal(failures.length, 2)
    const last = failures[1]?.result
    assert.ok(last?.type === 'failure' && last.consecutiveFailures === 2 && last.closing)
    assert.ok(failures[0]?.result.type === 'failure' && !failures[0].result.closing)
  } finally {
    await closeAll(swarms)
  }
})

test('a remote without ping yields one unsupported event and no more pings', async () => {
  const swarms = await createSwarms(2, (i) => i === 0
    ? combine({ ping: new PingBehaviour({ intervalMs: 10, timeoutMs: 200 }), probe: new ProbeBehaviour('/p/1') })
    : combine({ probe: new ProbeBehaviour('/p/1') }))
  const [a, b] = swarms
  assert.ok(a !== undefined && b !== undefined)
  try {
    let unsupported = 0
    a.on('behaviour', e => { if (e.event.behaviour === 'ping' && e.event.event.result.type === 'unsupported') unsupported++ })
    await connect(a, b)
    await waitFor(a, 'behaviour', e => e.event.behaviour === 'ping')
    await new Promise(resolve => setTimeout(resolve, 80))
    assert.equal(unsupported, 1)
  } finally {
    await closeAll(swarms)
  }
})
