/**
 * `libp2p-native ping` and `libp2p-native identify`: against an in-process swarm over the memory
 * transport, over native TCP (when the addon is built), and identify against js-libp2p.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { multiaddr } from '@multiformats/multiaddr'
import { combine } from '../../src/core/combine.ts'
import { SwarmBuilder } from '../../src/core/swarm/builder.ts'
import { IdentifyBehaviour } from '../../src/protocols/identify/index.ts'
import { PingBehaviour } from '../../src/protocols/ping/index.ts'
import { memory, MemoryNetwork } from '../../src/transports/memory/index.ts'
import { main as pingMain } from '../../src/cli/ping.ts'
import { main as identifyMain } from '../../src/cli/identify.ts'
import { transportFor } from '../../src/cli/swarm-node.ts'
import { createSwarm, addressOf } from '../helpers/swarm.ts'
import { createJsPeer } from '../helpers/js-libp2p.ts'

const addonBuilt = existsSync(new URL('../../build/Release/libp2p_native.node', import.meta.url))

function capture (): { io: { stdout: { write: (s: string) => boolean }, stderr: { write: (s: string) => boolean } }, out: () => string, err: () => string } {
  let out = ''
  let err = ''
  return { io: { stdout: { write: (s: string) => { out += s; return true } }, stderr: { write: (s: string) => { err += s; return true } } }, out: () => out, err: () => err }
}

test('transport picked from the address', () => {
  assert.equal(transportFor(multiaddr('/ip4/1.2.3.4/tcp/1')), 'tcp')
  assert.equal(transportFor(multiaddr('/ip4/1.2.3.4/udp/1/quic-v1')), 'quic-v1')
  assert.equal(transportFor(multiaddr('/memory/x')), 'memory')
  assert.throws(() => transportFor(multiaddr('/ip4/1.2.3.4/udp/1')), /no transport/)
})

test('ping and identify a memory swarm', async () => {
  const network = new MemoryNetwork()
  const target = await createSwarm(key => combine({ ping: new PingBehaviour(), identify: new IdentifyBehaviour({ privateKey: key, agentVersion: 'target/1' }) }), { network })
  try {
    const p = capture()
    const code = await pingMain([addressOf(target).toString(), '--count', '3', '--interval', '20'], p.io, memory({ network }))
    assert.equal(code, 0, p.err())
    assert.match(p.out(), new RegExp(`^PING ${target.localPeerId.toString()}`))
    assert.equal(p.out().match(/32 bytes from .*: seq=\d time=\d+\.\d\d ms/g)?.length, 3)
    assert.match(p.out(), /3 pings, 3 answered, 0% lost; rtt min\/avg\/max = /)

    const i = capture()
    assert.equal(await identifyMain([addressOf(target).toString()], i.io, memory({ network })), 0, i.err())
    const info = JSON.parse(i.out())
    assert.equal(info.peerId, target.localPeerId.toString())
    assert.equal(info.agentVersion, 'target/1')
    assert.ok(info.protocols.includes('/ipfs/ping/1.0.0'))
    assert.deepEqual(info.listenAddrs, target.listenAddresses().map(String))
    assert.equal(info.signedPeerRecord, true)
    assert.equal(typeof info.observedAddr, 'string')
  } finally {
    await target.close()
  }
})

test('bad usage exits 2; an unreachable peer exits 1', async () => {
  const c = capture()
  assert.equal(await pingMain([], c.io), 2)
  assert.equal(await pingMain(['/memory/x', '--count', '0'], c.io), 2)
  assert.equal(await identifyMain(['not-a-multiaddr'], c.io), 2)
  const u = capture()
  assert.equal(await pingMain(['/memory/nobody-here', '--timeout', '500'], u.io, memory({ network: new MemoryNetwork() })), 1)
  assert.match(u.err(), /no listener|failed/)
})

test('ping and identify over native TCP, identify of a js-libp2p peer', { skip: !addonBuilt && 'native addon not built' }, async () => {
  const target = await SwarmBuilder.withNewIdentity().withTcp().withBehaviour(new PingBehaviour()).build()
  await target.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
  const js = await createJsPeer({ perf: false })
  try {
    const p = capture()
    assert.equal(await pingMain([addressOf(target).toString(), '-c', '2', '-i', '50'], p.io), 0, p.err())
    assert.match(p.out(), /2 pings, 2 answered/)
    const i = capture()
    assert.equal(await identifyMain([js.getMultiaddrs()[0]?.toString() as string], i.io), 0, i.err())
    const info = JSON.parse(i.out())
    assert.equal(info.peerId, js.peerId.toString())
    assert.match(info.agentVersion, /js-libp2p/)
    assert.equal(info.signedPeerRecord, true)
  } finally {
    await target.close()
    await js.stop()
  }
})
