/**
 * `libp2p-native dht` and `libp2p-native node` over the in-memory transport: every dht operation
 * against a small network of in-process servers, JSON output and exit codes; a node that keeps its
 * identity and records across a restart in its data directory.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { memory } from '../../src/transports/memory/index.ts'
import { main as dht } from '../../src/cli/dht.ts'
import { main as node } from '../../src/cli/node.ts'
import { closeAll } from '../helpers/swarm.ts'
import { createKadSwarms, listenAddr, run, type KadSwarm } from '../protocols/kad/net.ts'

function capture (): { io: { stdout: { write: (s: string) => boolean }, stderr: { write: (s: string) => boolean } }, out: () => any[], err: () => string } {
  let out = ''
  let err = ''
  return {
    io: { stdout: { write: (s: string) => { out += s; return true } }, stderr: { write: (s: string) => { err += s; return true } } },
    out: () => out.trim().split('\n').filter(l => l !== '').map(l => JSON.parse(l)),
    err: () => err
  }
}

const server = { config: { mode: 'server' as const, autoRefresh: false, admissionCheck: false }, acceptUnknownNamespaces: true }

test('dht CLI: put, get, find-peer, closest-peers, provide, find-providers; JSON lines and exit codes', { timeout: 60_000 }, async () => {
  const { network, swarms } = await createKadSwarms(5, () => server)
  const transport = memory({ network })
  try {
    for (let i = 1; i < swarms.length; i++) (swarms[i] as KadSwarm).behaviour.addAddress((swarms[i - 1] as KadSwarm).localPeerId, listenAddr(swarms[i - 1] as KadSwarm))
    for (const s of swarms.slice(1)) await run(s, k => k.bootstrap())
    const boot = `${listenAddr(swarms[4] as KadSwarm).toString()}/p2p/${(swarms[4] as KadSwarm).localPeerId.toString()}`

    let c = capture()
    assert.equal(await dht(['put', '/cli/key', 'hello', '--bootstrap', boot, '--quorum', '2'], c.io, { transport }), 0, c.err())
    const put = c.out().at(-1)
    assert.equal(put.type, 'result')
    assert.ok(put.success >= 2)

    c = capture()
    assert.equal(await dht(['get', '/cli/key', '--bootstrap', boot, '--quorum', '2'], c.io, { transport }), 0, c.err())
    const lines = c.out()
    assert.ok(lines.filter(l => l.type === 'progress').length >= 2)
    assert.equal(lines.at(-1).value.utf8, 'hello')
    assert.ok(lines.every(l => l.id === lines[0].id), 'every line repeats the query id')

    const target = (swarms[0] as KadSwarm).localPeerId.toString()
    c = capture()
    assert.equal(await dht(['find-peer', target, '--bootstrap', boot], c.io, { transport }), 0, c.err())
    assert.equal(c.out().at(-1).peer.peer, target)
    assert.ok(c.out().at(-1).peer.addrs.length > 0)

    c = capture()
    assert.equal(await dht(['closest-peers', 'some key', '--bootstrap', boot], c.io, { transport }), 0, c.err())
    assert.equal(c.out().at(-1).peers.length, 5)

    c = capture()
    assert.equal(await dht(['provide', 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', '--bootstrap', boot], c.io, { transport }), 0, c.err())
    const provider = c.out().at(-1).self
    c = capture()
    assert.equal(await dht(['find-providers', 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', '--bootstrap', boot], c.io, { transport }), 0, c.err())
    assert.ok(c.out().at(-1).providers.some((p: { peer: string }) => p.peer === provider))

    c = capture()
    assert.equal(await dht(['get', '/cli/missing', '--bootstrap', boot], c.io, { transport }), 1)
    assert.equal(c.out().at(-1).error, 'notFound')
    c = capture()
    assert.equal(await dht(['find-peer', '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA', '--bootstrap', boot], c.io, { transport }), 1)
    for (const bad of [['get'], ['nope', 'x', '--bootstrap', boot], ['get', 'k'], ['get', 'k', '--bootstrap', '/memory/x'], ['get', 'k', '--bootstrap', boot, '--quorum', '0']]) {
      c = capture()
      assert.equal(await dht(bad, c.io, { transport }), 2, bad.join(' '))
      assert.match(c.err(), /usage:/)
    }
  } finally {
    await closeAll(swarms)
  }
})

test('node CLI: a DHT server with a data directory keeps its identity and records across a restart', { timeout: 60_000 }, async () => {
  const { network, swarms } = await createKadSwarms(2, () => server)
  const transport = memory({ network })
  const dir = mkdtempSync(join(tmpdir(), 'kad-node-cli-'))
  const listen = `/memory/kad-cli-node-${process.pid}`
  try {
    const startNode = async (): Promise<{ stop: () => Promise<number>, info: { peerId: string, addrs: string[] }, out: () => any[] }> => {
      const c = capture()
      const ac = new AbortController()
      let info!: { peerId: string, addrs: string[] }
      let stopPromise!: Promise<number>
      const ready = new Promise<void>(resolve => {
        stopPromise = node(['--data-dir', dir, '--listen', listen, '--quiet', '--accept-unknown-namespaces'], c.io, { transport, signal: ac.signal, onReady: (i) => { info = i; resolve() } })
      })
      await Promise.race([ready, stopPromise.then(code => { throw new Error(`node exited with ${code}: ${c.err()}`) })])
      return { info, out: c.out, stop: async () => { ac.abort(); return await stopPromise } }
    }
    const first = await startNode()
    assert.equal(first.out()[0].type, 'listening')
    const boot = first.info.addrs[0] as string
    let c = capture()
    assert.equal(await dht(['put', '/cli/persist', 'kept', '--bootstrap', boot], c.io, { transport }), 0, c.err())
    assert.equal(await first.stop(), 0)
    assert.equal(first.out().at(-1).type, 'stopped')

    const second = await startNode()
    assert.equal(second.info.peerId, first.info.peerId, 'same identity after restart')
    assert.equal(second.out()[0].stored.records, 1)
    c = capture()
    assert.equal(await dht(['get', '/cli/persist', '--bootstrap', second.info.addrs[0] as string], c.io, { transport }), 0, c.err())
    assert.equal(c.out().at(-1).value.utf8, 'kept')
    assert.equal(await second.stop(), 0)
    c = capture()
    assert.equal(await node([], c.io, { transport }), 2)
    assert.match(c.err(), /--data-dir is required/)
    c = capture()
    assert.equal(await node(['--data-dir', dir, '--store', 'sqlite'], c.io, { transport }), 2)
    assert.match(c.err(), /--store must be lmdb, journal, level/)
  } finally {
    await closeAll(swarms)
    rmSync(dir, { recursive: true })
  }
})
