/**
 * Our swarms over QUIC, each also listening on TCP (issue 4, item 4: a node listens on both at
 * once): the QUIC address dials QUIC, the TCP address TCP, and ping and identify run over both
 * (identify exercises a stream the remote opens the moment its side is up).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { SwarmBuilder } from '../../../src/core/swarm/builder.ts'
import { combine } from '../../../src/core/combine.ts'
import { IdentifyBehaviour } from '../../../src/protocols/identify/index.ts'
import { PingBehaviour } from '../../../src/protocols/ping/index.ts'
import { waitFor } from '../../helpers/swarm.ts'

const addonBuilt = existsSync(new URL('../../../build/Release/libp2p_native.node', import.meta.url)) || process.env.LIBP2P_NATIVE_ADDON !== undefined
const skip = !addonBuilt && 'native addon not built'

async function node () {
  const s = await SwarmBuilder.withNewIdentity().withTcp().withQuic()
    .withBehaviour(key => combine({ ping: new PingBehaviour({ intervalMs: 100 }), identify: new IdentifyBehaviour({ privateKey: key }) }))
    .withSwarmConfig({ idleConnectionTimeout: 60_000 }).build()
  await s.listen(multiaddr('/ip4/127.0.0.1/udp/0/quic-v1'))
  await s.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
  return s
}

test('swarms listening on QUIC and TCP at once: ping and identify over each', { skip, timeout: 30_000 }, async () => {
  const a = await node()
  const b = await node()
  try {
    const addrs = b.listenAddresses()
    const quicAddr = addrs.find(x => x.toString().includes('/quic-v1')) as Multiaddr
    const tcpAddr = addrs.find(x => x.toString().includes('/tcp/')) as Multiaddr
    assert.ok(quicAddr !== undefined && tcpAddr !== undefined, `listening on ${addrs.map(String).join(', ')}`)
    for (const [addr, transport] of [[quicAddr, 'quic-v1'], [tcpAddr, 'tcp']] as const) {
      const established = waitFor(a, 'connectionEstablished', e => e.transport === transport, 10_000)
      const identified = waitFor(a, 'behaviour', e => e.event.behaviour === 'identify' && e.event.event.type === 'received', 10_000)
      const pinged = waitFor(a, 'behaviour', e => e.event.behaviour === 'ping' && e.event.event.result.type === 'success', 10_000)
      a.dial({ addresses: [addr.encapsulate(`/p2p/${b.localPeerId.toString()}`)], condition: 'always' })
      const ev = await established
      assert.ok(ev.type === 'connectionEstablished' && ev.peerId.equals(b.localPeerId))
      await identified
      await pinged
    }
  } finally {
    await a.close()
    await b.close()
  }
})
