/**
 * The Swarm over the native TCP transport on loopback: ping and identify between two swarms, and
 * request-response, closed gracefully. Skipped when the native addon is not built.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { multiaddr } from '@multiformats/multiaddr'
import { SwarmBuilder } from '../../../src/core/swarm/builder.ts'
import { combine } from '../../../src/core/combine.ts'
import { IdentifyBehaviour } from '../../../src/protocols/identify/index.ts'
import { PingBehaviour } from '../../../src/protocols/ping/index.ts'
import { RequestResponseBehaviour, jsonCodec } from '../../../src/protocols/request-response/index.ts'
import { closeAll, connect, waitFor } from '../../helpers/swarm.ts'

const addonBuilt = existsSync(new URL('../../../build/Release/libp2p_native.node', import.meta.url)) || process.env.LIBP2P_NATIVE_ADDON !== undefined

async function node () {
  const swarm = await SwarmBuilder.withNewIdentity()
    .withTcp()
    .withBehaviour(key => combine({
      ping: new PingBehaviour({ intervalMs: 50 }),
      identify: new IdentifyBehaviour({ privateKey: key }),
      rr: new RequestResponseBehaviour<{ q: string }, { a: string }>({ codec: jsonCodec(), protocols: ['/test/rr/1'] })
    }))
    .build()
  await swarm.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
  return swarm
}

test('swarm over native TCP: ping, identify and request-response between two nodes', { skip: !addonBuilt && 'native addon not built' }, async () => {
  const a = await node()
  const b = await node()
  try {
    const port = Number(b.listenAddresses()[0]?.toString().split('/')[4])
    assert.ok(port > 0, 'port 0 was resolved')
    const pinged = waitFor(a, 'behaviour', e => e.event.behaviour === 'ping' && e.event.event.result.type === 'success', 10_000)
    const identified = waitFor(a, 'behaviour', e => e.event.behaviour === 'identify' && e.event.event.type === 'received', 10_000)
    await connect(a, b, 10_000)
    const [p, id] = await Promise.all([pinged, identified])
    assert.ok(p.event.behaviour === 'ping' && p.event.event.result.type === 'success' && p.event.event.result.rttMs < 1000)
    assert.ok(id.event.behaviour === 'identify' && id.event.event.type === 'received')
    assert.ok(id.event.event.info.protocols.includes('/ipfs/ping/1.0.0'))
    assert.ok(id.event.event.info.protocols.includes('/test/rr/1'))
    assert.ok(id.event.event.info.signedPeerRecord !== undefined)

    b.on('behaviour', e => {
      if (e.event.behaviour === 'rr' && e.event.event.type === 'request') b.behaviour.members.rr.sendResponse(e.event.event.channel, { a: e.event.event.request.q.toUpperCase() })
    })
    const answered = waitFor(a, 'behaviour', e => e.event.behaviour === 'rr' && e.event.event.type === 'response', 10_000)
    a.behaviour.members.rr.sendRequest(b.localPeerId, { q: 'over tcp' })
    const r = await answered
    assert.ok(r.event.behaviour === 'rr' && r.event.event.type === 'response')
    assert.deepEqual(r.event.event.response, { a: 'OVER TCP' })
  } finally {
    await closeAll([a, b])
  }
})
