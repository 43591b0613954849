import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Registry } from 'prom-client'
import { Kademlia } from '../../../src/protocols/kad/behaviour.ts'
import { KadMetrics } from '../../../src/protocols/kad/metrics.ts'
import { generateKeyPair, peerIdFromPrivateKey } from '../../../src/identity/index.ts'
import { multiaddr } from '@multiformats/multiaddr'
import { Rng } from './rng.ts'
import { randomPeerId } from './helpers.ts'

test('metrics: counters from events, gauges read at scrape time, closed label sets', async () => {
  const peerId = peerIdFromPrivateKey(generateKeyPair())
  const kad = new Kademlia({ peerId, acceptUnknownNamespaces: true, config: { mode: 'server', autoRefresh: false } })
  const registry = new Registry()
  const m = new KadMetrics(kad, { registry })
  const rng = new Rng(1)
  for (let i = 0; i < 5; i++) kad.addAddress(randomPeerId(rng), multiaddr(`/ip4/10.0.0.${i + 1}/tcp/4001`))
  kad.putRecord({ key: new TextEncoder().encode('/x/a'), value: new Uint8Array([1]) })
  const stats = { requests: 7, succeeded: 6, failed: 1, hops: 3, start: 1000, end: 1250 }
  m.onEvent({ type: 'outboundQueryProgressed', id: 1, trigger: 'user', result: { type: 'getClosestPeers', key: new Uint8Array(1), peers: [] }, stats, step: { count: 1, last: true } })
  m.onEvent({ type: 'outboundQueryProgressed', id: 2, trigger: 'user', result: { type: 'getRecord', key: new Uint8Array(1), count: 0, error: 'notFound' }, stats, step: { count: 2, last: true } })
  m.onEvent({ type: 'outboundQueryProgressed', id: 3, trigger: 'user', result: { type: 'getRecord', key: new Uint8Array(1), count: 1 }, stats: { ...stats, end: undefined }, step: { count: 1, last: false } })
  m.onEvent({ type: 'inboundRequest', peer: peerId, request: { type: 'findNode', key: new Uint8Array(1) } })
  const text = await registry.metrics()
  assert.match(text, /libp2p_kad_queries_total\{type="getClosestPeers",outcome="ok",trigger="user"\} 1/)
  assert.match(text, /libp2p_kad_queries_total\{type="getRecord",outcome="notFound",trigger="user"\} 1/)
  assert.match(text, /libp2p_kad_query_duration_seconds_sum\{type="getClosestPeers"\} 0\.25/)
  assert.match(text, /libp2p_kad_query_hops_count\{type="getRecord"\} 1/, 'progress steps are not counted')
  assert.match(text, /libp2p_kad_inbound_requests_total\{type="findNode"\} 1/)
  assert.match(text, /libp2p_kad_routing_table_size 5/)
  assert.match(text, /libp2p_kad_records_stored 1/)
  assert.match(text, /libp2p_kad_server_mode 1/)
  const perBucket = [...text.matchAll(/libp2p_kad_routing_table_peers\{bucket="(\d+)"\} (\d+)/g)]
  assert.equal(perBucket.reduce((n, x) => n + Number(x[2]), 0), 5)
  assert.ok(!/12D3|Qm/.test(text), 'no peer ids in labels')
  // Gauges follow the behaviour between scrapes.
  kad.store.removeRecord(new TextEncoder().encode('/x/a'))
  assert.match(await registry.metrics(), /libp2p_kad_records_stored 0/)
})
