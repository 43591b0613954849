import { test } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import {
  splitPeerId, getPeerId, withoutPeerId, withPeerId, ipPortToMultiaddr, multiaddrToIpPort, parseServerAddress, parseMultiaddr
} from '../../src/utils/multiaddr.ts'
import { generateKeyPair, peerIdFromPrivateKey } from '../../src/identity/index.ts'
import { InvalidArgumentError } from '../../src/core/errors.ts'

const id = peerIdFromPrivateKey(generateKeyPair())
const other = peerIdFromPrivateKey(generateKeyPair())

test('split, add and replace the trailing /p2p/ component', () => {
  const base = multiaddr('/ip4/127.0.0.1/tcp/4001')
  const full = withPeerId(base, id)
  assert.equal(full.toString(), `/ip4/127.0.0.1/tcp/4001/p2p/${id.toString()}`)
  const split = splitPeerId(full)
  assert.ok(split.peerId?.equals(id))
  assert.equal(split.addr.toString(), base.toString())
  assert.equal(getPeerId(base), undefined)
  assert.equal(withoutPeerId(base).toString(), base.toString())
  assert.equal(withPeerId(full, other).toString(), `/ip4/127.0.0.1/tcp/4001/p2p/${other.toString()}`)
  // A relayed address keeps the relay's /p2p/ and yields the target.
  const relayed = multiaddr(`/ip4/1.2.3.4/tcp/1/p2p/${other.toString()}/p2p-circuit/p2p/${id.toString()}`)
  assert.ok(getPeerId(relayed)?.equals(id))
  assert.equal(withoutPeerId(relayed).toString(), `/ip4/1.2.3.4/tcp/1/p2p/${other.toString()}/p2p-circuit`)
  // The CID form of a peer id is understood too.
  assert.ok(getPeerId(multiaddr(`/memory/x/p2p/${id.toCID()}`))?.equals(id))
})

test('ip/port to multiaddr and back, IPv4 and IPv6, tcp, udp and quic-v1', () => {
  assert.equal(ipPortToMultiaddr('10.0.0.1', 4001).toString(), '/ip4/10.0.0.1/tcp/4001')
  assert.equal(ipPortToMultiaddr('::1', 4001).toString(), '/ip6/::1/tcp/4001')
  assert.equal(ipPortToMultiaddr('::1', 9000, 'quic-v1').toString(), '/ip6/::1/udp/9000/quic-v1')
  assert.deepEqual(multiaddrToIpPort(multiaddr('/ip4/10.0.0.1/tcp/4001')), { family: 4, ip: '10.0.0.1', port: 4001, transport: 'tcp' })
  assert.deepEqual(multiaddrToIpPort(multiaddr(`/ip6/fe80::1/udp/9/quic-v1/p2p/${id.toString()}`)), { family: 6, ip: 'fe80::1', port: 9, transport: 'quic-v1' })
  assert.deepEqual(multiaddrToIpPort(multiaddr('/ip4/1.1.1.1/udp/53')), { family: 4, ip: '1.1.1.1', port: 53, transport: 'udp' })
  assert.equal(multiaddrToIpPort(multiaddr('/dns4/example.com/tcp/1')), undefined)
  assert.equal(multiaddrToIpPort(multiaddr('/memory/a')), undefined)
  assert.throws(() => ipPortToMultiaddr('example.com', 1), InvalidArgumentError)
  assert.throws(() => ipPortToMultiaddr('1.2.3.4', 70000), InvalidArgumentError)
})

test('ipPortToMultiaddr reuses the address it made for the same transport, ip and port', () => {
  const a = ipPortToMultiaddr('10.9.8.7', 4242, 'quic-v1')
  assert.equal(ipPortToMultiaddr('10.9.8.7', 4242, 'quic-v1'), a)  // the same immutable object
  assert.equal(a.toString(), '/ip4/10.9.8.7/udp/4242/quic-v1')
  assert.equal(ipPortToMultiaddr('10.9.8.7', 4242, 'tcp').toString(), '/ip4/10.9.8.7/tcp/4242')
  assert.equal(ipPortToMultiaddr('10.9.8.7', 4242, 'udp').toString(), '/ip4/10.9.8.7/udp/4242')
  assert.equal(ipPortToMultiaddr('10.9.8.7', 4243, 'quic-v1').toString(), '/ip4/10.9.8.7/udp/4243/quic-v1')
  // Past the cache's bound, old entries are dropped and still come back right.
  for (let p = 1; p <= 600; p++) assert.equal(ipPortToMultiaddr('::1', p, 'tcp').toString(), `/ip6/::1/tcp/${p}`)
  assert.equal(ipPortToMultiaddr('::1', 1, 'tcp').toString(), '/ip6/::1/tcp/1')
  assert.throws(() => ipPortToMultiaddr('10.9.8.7', 70000, 'quic-v1'), InvalidArgumentError)
})

test('--server-address forms: ip:port, [ipv6]:port, multiaddr with and without /p2p/', () => {
  assert.equal(parseServerAddress('1.2.3.4:4001').addr.toString(), '/ip4/1.2.3.4/tcp/4001')
  assert.equal(parseServerAddress('1.2.3.4:4001', 'quic-v1').addr.toString(), '/ip4/1.2.3.4/udp/4001/quic-v1')
  assert.equal(parseServerAddress('[::1]:4001').addr.toString(), '/ip6/::1/tcp/4001')
  const withId = parseServerAddress(`/ip4/127.0.0.1/tcp/5/p2p/${id.toString()}`)
  assert.equal(withId.addr.toString(), '/ip4/127.0.0.1/tcp/5')
  assert.ok(withId.peerId?.equals(id))
  assert.equal(parseServerAddress('/memory/perf').peerId, undefined)
  for (const bad of ['1.2.3.4', '::1:4001', '[::1]4001', 'host:port', '1.2.3.4:', '1.2.3.4:123456', '/ip4/999.1.1.1/tcp/1', '/nope/1']) {
    assert.throws(() => parseServerAddress(bad), InvalidArgumentError, bad)
  }
  assert.throws(() => parseMultiaddr('garbage'), InvalidArgumentError)
})
