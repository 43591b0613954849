import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  createKadConfig, defaultKadConfig, goDefaults, rustDefaults, kadProtocols, KadConfigError, validateKadConfig
} from '../../../src/protocols/kad/config.ts'

const H = 3600_000

function rejects (options: Parameters<typeof createKadConfig>[0], parameter: string, pattern: RegExp): void {
  assert.throws(() => createKadConfig(options), (err: unknown) => {
    assert.ok(err instanceof KadConfigError, `expected KadConfigError, got ${String(err)}`)
    assert.equal(err.parameter, parameter)
    assert.equal(err.code, 'ERR_KAD_CONFIG')
    assert.match(err.message, pattern)
    return true
  })
}

test('presets are valid and carry each implementation\'s defaults', () => {
  for (const preset of [defaultKadConfig(), goDefaults(), rustDefaults()]) validateKadConfig(preset)
  const go = goDefaults()
  const rust = rustDefaults()
  assert.equal(go.alpha, 10)
  assert.equal(rust.alpha, 3)
  assert.equal(go.resiliency, 3)
  assert.equal(rust.replicationFactor, 20)
  assert.equal(go.refreshInterval, 10 * 60_000)
  assert.equal(rust.refreshInterval, 5 * 60_000)
  assert.equal(rust.queryTimeout, 60_000)
  assert.equal(go.refreshQueryTimeout, 10_000)
  assert.equal(go.mode, 'auto')
  assert.equal(rust.mode, 'client')
  assert.equal(go.providerPublicationInterval, 22 * H)
  assert.equal(rust.providerPublicationInterval, 12 * H)
  assert.equal(rust.pendingTimeout, 60_000)
  assert.equal(rust.kbucketInserts, 'onConnected')
  assert.deepEqual(go.ipDiversity, { maxPerGroupGlobal: 3, maxPerGroupPerBucket: 2, ipv4PrefixLength: 16, ipv6PrefixLength: 32 })
  assert.equal(rust.ipDiversity, null)
  assert.equal(go.admissionCheckConcurrency, 256)
  assert.equal(rust.cachingMaxPeers, 1)
  assert.equal(rust.disjointPaths, false)
  assert.equal(rust.maxMessageSize, 16 * 1024)
  assert.equal(go.maxMessageSize, 4 * 1024 * 1024)
})

test('createKadConfig overlays options on a base and freezes the result', () => {
  const c = createKadConfig({ alpha: 5 }, rustDefaults())
  assert.equal(c.alpha, 5)
  assert.equal(c.refreshInterval, 5 * 60_000)
  assert.ok(Object.isFrozen(c))
  rejects({ bogus: 1 } as never, 'bogus', /unknown parameter/)
})

test('publication interval must be shorter than its TTL', () => {
  rejects({ publicationInterval: 48 * H }, 'publicationInterval', /48 h.*shorter than recordTtl \(48 h\)/)
  rejects({ recordTtl: 10 * H }, 'publicationInterval', /shorter than recordTtl/)
  rejects({ providerPublicationInterval: 49 * H }, 'providerPublicationInterval', /shorter than providerRecordTtl/)
  // null TTL (never expires) accepts any interval
  assert.equal(createKadConfig({ recordTtl: null, protocolPrefix: '/private' }).recordTtl, null)
})

test('replication interval must be shorter than the publication interval', () => {
  rejects({ replicationInterval: 22 * H }, 'replicationInterval', /shorter than publicationInterval \(22 h\)/)
  rejects({ replicationInterval: 23 * H, publicationInterval: 22 * H }, 'replicationInterval', /shorter/)
  assert.equal(createKadConfig({ replicationInterval: null }).replicationInterval, null)
})

test('the /ipfs prefix locks k and both stores', () => {
  rejects({ kBucketSize: 16 }, 'kBucketSize', /cannot change k from 20 under the public '\/ipfs' prefix/)
  rejects({ enableValues: false }, 'enableValues', /cannot disable the value store/)
  rejects({ enableProviders: false }, 'enableProviders', /cannot disable the provider store/)
  rejects({ kBucketSize: 16, protocolExtension: '/lan' }, 'kBucketSize', /cannot change k/)
  rejects({ kBucketSize: 16, protocolOverride: ['/ipfs/kad/1.0.0'] }, 'kBucketSize', /cannot change k/)
  const priv = createKadConfig({ kBucketSize: 16, enableValues: false, enableProviders: false, protocolPrefix: '/myapp' })
  assert.equal(priv.kBucketSize, 16)
})

test('protocol ids: prefix, LAN extension, override', () => {
  assert.deepEqual(kadProtocols(defaultKadConfig()), ['/ipfs/kad/1.0.0'])
  assert.deepEqual(kadProtocols(createKadConfig({ protocolExtension: '/lan' })), ['/ipfs/lan/kad/1.0.0'])
  assert.deepEqual(kadProtocols(createKadConfig({ protocolPrefix: '/myapp' })), ['/myapp/kad/1.0.0'])
  assert.deepEqual(kadProtocols(createKadConfig({ protocolOverride: ['/x/kad/2', '/x/kad/1'] })), ['/x/kad/2', '/x/kad/1'])
  rejects({ protocolPrefix: 'ipfs' }, 'protocolPrefix', /must start with/)
  rejects({ protocolExtension: 'lan' }, 'protocolExtension', /must be ''/)
  rejects({ protocolOverride: [] }, 'protocolOverride', /at least one/)
})

test('range checks name the parameter', () => {
  rejects({ alpha: 0 }, 'alpha', /integer in \[1, 64\]/)
  rejects({ alpha: 2.5 }, 'alpha', /integer/)
  rejects({ resiliency: 21 }, 'resiliency', /cannot exceed the replication factor/)
  rejects({ refreshInterval: 0 }, 'refreshInterval', /positive duration/)
  rejects({ refreshInterval: null as never }, 'refreshInterval', /not null/)
  rejects({ mode: 'peer' as never }, 'mode', /client, server, auto or auto-server/)
  rejects({ kbucketInserts: 'always' as never }, 'kbucketInserts', /onConnected or manual/)
  rejects({ cachingMaxPeers: -1 }, 'cachingMaxPeers', /\[0, replicationFactor=20\]/)
  rejects({ ipDiversity: { maxPerGroupGlobal: 3, maxPerGroupPerBucket: 2, ipv4PrefixLength: 33, ipv6PrefixLength: 32 } }, 'ipDiversity.ipv4PrefixLength', /\[1, 32\]/)
  rejects({ queryPeerFilter: 'yes' as never }, 'queryPeerFilter', /function or null/)
})
