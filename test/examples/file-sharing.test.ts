/**
 * The file-sharing example over the in-memory transport: a node shares a 1 MiB file (4 chunks +
 * manifest), another finds it through DHT providers and fetches it with request-response.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import { memory, MemoryNetwork } from '../../src/transports/memory/index.ts'
import { FileSharingNode, CHUNK_SIZE } from '../../examples/file-sharing/file-sharing.ts'

test('file sharing: providers through the DHT, chunks through request-response, verified', { timeout: 60_000 }, async () => {
  const network = new MemoryNetwork()
  const transport = memory({ network })
  const nodes: FileSharingNode[] = []
  try {
    const boot = await FileSharingNode.create({ transport, listen: [multiaddr(`/memory/fs-boot-${process.pid}`)] })
    nodes.push(boot)
    const bootInfo = [{ peer: boot.peerId, addr: boot.swarm.listenAddresses()[0] as ReturnType<typeof multiaddr> }]
    for (let i = 0; i < 3; i++) nodes.push(await FileSharingNode.create({ transport, listen: [multiaddr(`/memory/fs-${process.pid}-${i}`)], bootstrap: bootInfo }))
    const [, sharer, , fetcher] = nodes as [FileSharingNode, FileSharingNode, FileSharingNode, FileSharingNode]
    const file = new Uint8Array(randomBytes(4 * CHUNK_SIZE - 1000))
    const { root, announcedTo } = await sharer.share(file)
    assert.ok(announcedTo >= 1)
    const got = await fetcher.fetch(root)
    assert.equal(got.byteLength, file.byteLength)
    assert.ok(Buffer.from(got).equals(Buffer.from(file)))
    await assert.rejects(fetcher.fetch((await import('multiformats/cid')).CID.parse('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')), /no provider/)
  } finally {
    await Promise.all(nodes.map(async n => { await n.close() }))
  }
})
