/**
 * SwarmBuilder: identity (new or existing), memory transport, behaviour from the key, config
 * passed through, required parts, lazily loaded native transports.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { generateKeyPair, peerIdFromPrivateKey } from '../../../src/identity/index.ts'
import { SwarmBuilder } from '../../../src/core/swarm/builder.ts'
import { combine } from '../../../src/core/combine.ts'
import { IdentifyBehaviour } from '../../../src/protocols/identify/index.ts'
import { PingBehaviour } from '../../../src/protocols/ping/index.ts'
import { MemoryNetwork } from '../../../src/transports/memory/index.ts'
import { TransportUnavailableError } from '../../../src/cli/transports.ts'
import { closeAll, connect, waitFor } from '../../helpers/swarm.ts'

test('builder: two memory swarms with ping+identify built from their keys', async () => {
  const network = new MemoryNetwork()
  const key = generateKeyPair()
  const make = async (b: SwarmBuilder) => await b
    .withMemory({ network })
    .withBehaviour(k => combine({ ping: new PingBehaviour({ intervalMs: 20 }), identify: new IdentifyBehaviour({ privateKey: k }) }))
    .withSwarmConfig({ idleConnectionTimeout: 1234 })
    .build()
  const a = await make(SwarmBuilder.withExistingIdentity(key))
  const b = await make(SwarmBuilder.withNewIdentity())
  try {
    assert.ok(a.localPeerId.equals(peerIdFromPrivateKey(key)))
    assert.ok(!b.localPeerId.equals(a.localPeerId))
    await a.listen(multiaddr('/memory/builder-a'))
    await b.listen(multiaddr('/memory/builder-b'))
    const pinged = waitFor(a, 'behaviour', e => e.event.behaviour === 'ping' && e.event.event.result.type === 'success')
    const identified = waitFor(a, 'behaviour', e => e.event.behaviour === 'identify' && e.event.event.type === 'received')
    await connect(a, b)
    await Promise.all([pinged, identified])
  } finally {
    await closeAll([a, b])
  }
})

test('builder: behaviour and a transport are required', async () => {
  // Without a behaviour `build` does not type-check; the runtime check covers untyped callers.
  const noBehaviour = SwarmBuilder.withNewIdentity().withMemory() as unknown as SwarmBuilder<PingBehaviour>
  await assert.rejects(noBehaviour.build(), /withBehaviour/)
  await assert.rejects(SwarmBuilder.withNewIdentity().withBehaviour(new PingBehaviour()).build(), /at least one transport/)
})

test('builder: a native transport missing from this build fails at build() with TransportUnavailableError', async () => {
  let swarm
  try {
    swarm = await SwarmBuilder.withNewIdentity().withQuic().withBehaviour(new PingBehaviour()).build()
  } catch (err) {
    assert.ok(err instanceof TransportUnavailableError, String(err))
    assert.equal(err.transport, 'quic-v1')
    return
  }
  // QUIC landed: then the swarm must be usable.
  assert.equal(swarm.status, 'running')
  await swarm.close()
})
