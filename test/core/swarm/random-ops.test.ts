/**
 * Random operations on three swarms (dials under every condition, disconnects, connection closes,
 * streams through handlers), seeded, then invariants once things settle: event counts match the
 * connection counts, both ends agree on how many connections they share, behaviours heard of
 * every open and close, and nothing is left after shutdown.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { DialCondition } from '../../../src/core/behaviour.ts'
import { addressOf, createSwarms } from '../../helpers/swarm.ts'
import { ProbeBehaviour } from '../../helpers/probe.ts'

/** xorshift32: reproducible runs from a seed. */
function rng (seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    return x / 0x100000000
  }
}

async function settle (ms = 100): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

for (const seed of [1, 7, 42]) {
  test(`random swarm operations keep counts consistent (seed ${seed})`, async () => {
    const before = process.getActiveResourcesInfo().filter(r => r === 'Timeout').length
    const random = rng(seed)
    const swarms = await createSwarms(3, () => new ProbeBehaviour('/probe/1.0.0', true))
    const counts = swarms.map(() => ({ established: 0, closed: 0 }))
    swarms.forEach((s, i) => {
      s.on('connectionEstablished', () => { (counts[i] as { established: number }).established++ })
      s.on('connectionClosed', () => { (counts[i] as { closed: number }).closed++ })
    })
    const conditions: DialCondition[] = ['always', 'disconnected', 'notDialing', 'disconnectedAndNotDialing']
    for (let op = 0; op < 60; op++) {
      const i = Math.floor(random() * 3)
      let j = Math.floor(random() * 2)
      if (j >= i) j++
      const a = swarms[i]
      const b = swarms[j]
      if (a === undefined || b === undefined) continue
      const r = random()
      try {
        if (r < 0.45) {
          a.dial({ peerId: b.localPeerId, addresses: [addressOf(b)], condition: conditions[Math.floor(random() * 4)] })
        } else if (r < 0.6) {
          a.disconnectPeer(b.localPeerId)
        } else if (r < 0.75) {
          const conns = a.connections()
          const c = conns[Math.floor(random() * conns.length)]
          if (c !== undefined) a.closeConnection(c.connectionId)
        } else {
          a.behaviour.command({ type: 'notifyHandler', peerId: b.localPeerId, handler: 'any', event: { type: 'send', data: Uint8Array.of(op) } })
        }
      } catch (err) {
        assert.equal((err as { code?: string }).code, 'ERR_DIAL_CONDITION', String(err))
      }
      if (random() < 0.3) await settle(5)
    }
    await settle(300)
    swarms.forEach((s, i) => {
      const c = counts[i] as { established: number, closed: number }
      assert.equal(c.established - c.closed, s.numEstablished, `swarm ${i}: events vs connections`)
      assert.equal(s.numInbound + s.numOutbound, s.numEstablished)
      assert.equal(s.numPendingDials, 0)
      const heard = s.behaviour.swarmEvents
      const opened = heard.filter(e => e.type === 'connectionEstablished').length
      const closed = heard.filter(e => e.type === 'connectionClosed').length
      assert.equal(opened - closed, s.numEstablished, `swarm ${i}: behaviour's view`)
      assert.equal(s.behaviour.handlers.filter(h => !h.closed).length, s.numEstablished, `swarm ${i}: live handlers`)
    })
    for (const a of swarms) {
      for (const b of swarms) {
        if (a === b) continue
        assert.equal(a.connections(b.localPeerId).length, b.connections(a.localPeerId).length, 'both ends agree')
      }
    }
    await Promise.all(swarms.map(async s => { await s.close() }))
    for (const s of swarms) {
      assert.equal(s.numEstablished, 0)
      assert.ok(s.behaviour.handlers.every(h => h.closed), 'every handler was closed')
      assert.deepEqual(s.protocols.list(), ['/probe/1.0.0'], 'only the declared protocol is left')
    }
    await settle(20)
    assert.equal(process.getActiveResourcesInfo().filter(r => r === 'Timeout').length, before, 'no timer left')
  })
}
