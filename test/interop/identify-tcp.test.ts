/**
 * Identify between our own swarms over native TCP on loopback: every connection of a full mesh is
 * identified on both sides (the dialer's request and the listener's). The Kademlia 30-process run
 * saw about half the connections identified: the listener's request could arrive on the dialer in
 * the native batch that resolved dial(), before the Swarm listened for streams, and was never
 * answered. Identify now retries a failed request (IDENTIFY_RETRY_DELAY_MS), so this holds with or
 * without the transport's buffering of such streams. Skipped when the native addon is not built.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { multiaddr } from '@multiformats/multiaddr'
import { SwarmBuilder } from '../../src/core/swarm/builder.ts'
import { combine } from '../../src/core/combine.ts'
import { IdentifyBehaviour } from '../../src/protocols/identify/index.ts'

const addonBuilt = existsSync(new URL('../../build/Release/libp2p_native.node', import.meta.url)) || process.env.LIBP2P_NATIVE_ADDON !== undefined
const skip = !addonBuilt && 'native addon not built'
/** 6 swarms, each dialing the 5 others: 30 connections, 60 identify requests. */
const SWARMS = 6

test('identify completes on both sides of every connection between our swarms over TCP', { skip, timeout: 60_000 }, async () => {
  const swarms = await Promise.all(Array.from({ length: SWARMS }, async () => {
    const s = await SwarmBuilder.withNewIdentity().withTcp()
      .withBehaviour(key => combine({ identify: new IdentifyBehaviour({ privateKey: key }) }))
      .withSwarmConfig({ idleConnectionTimeout: 60_000 }).build()
    await s.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
    return s
  }))
  try {
    /** `<swarm>:<connectionId>` → role, and the connections identified from that side. */
    const roles = new Map<string, string>()
    const identified = new Set<string>()
    const errors: string[] = []
    let established = 0
    for (const s of swarms) {
      s.on('connectionEstablished', e => { roles.set(`${s.localPeerId.toString()}:${e.connectionId}`, e.endpoint.role); established++ })
      s.on('behaviour', e => {
        const ev = e.event.event
        if (ev.type === 'received') identified.add(`${s.localPeerId.toString()}:${ev.connectionId}`)
        if (ev.type === 'error') errors.push(`${roles.get(`${s.localPeerId.toString()}:${ev.connectionId}`) ?? '?'}: ${ev.error.message}`)
      })
    }
    for (const a of swarms) {
      for (const b of swarms) {
        if (a === b) continue
        const addr = b.listenAddresses()[0]?.encapsulate(`/p2p/${b.localPeerId.toString()}`)
        assert.ok(addr !== undefined)
        a.dial({ addresses: [addr], condition: 'always' })
      }
    }
    const expected = 2 * SWARMS * (SWARMS - 1)
    const end = Date.now() + 40_000
    while (Date.now() < end && (established < expected || identified.size < expected)) await new Promise(resolve => setTimeout(resolve, 100))
    const missing = [...roles.keys()].filter(k => !identified.has(k)).map(k => roles.get(k))
    assert.equal(established, expected, 'every dial connected')
    assert.equal(identified.size, expected, `not identified from: ${missing.join(', ')}; errors: ${errors.join('; ')}`)
  } finally {
    await Promise.all(swarms.map(async s => { await s.close() }))
  }
})
