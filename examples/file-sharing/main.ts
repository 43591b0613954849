/**
 * File sharing over TCP (rust-libp2p's file-sharing example, on libp2p-native):
 *
 *   node --import tsx examples/file-sharing/main.ts provide <file> [--listen <multiaddr>] [--bootstrap <multiaddr/p2p/id>]
 *       prints its address and the file's CID, then serves until Ctrl-C
 *   node --import tsx examples/file-sharing/main.ts get <cid> --bootstrap <multiaddr/p2p/id> [--out <file>]
 *       finds providers through the DHT, fetches and verifies the file, writes it (or its size)
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { CID } from 'multiformats/cid'
import { parseMultiaddr, splitPeerId } from '../../src/utils/multiaddr.ts'
import type { PeerId } from '../../src/identity/peer-id.ts'
import { FileSharingNode } from './file-sharing.ts'

const { values, positionals } = parseArgs({
  options: { listen: { type: 'string' }, bootstrap: { type: 'string', multiple: true }, out: { type: 'string' } },
  allowPositionals: true
})
const [command, arg] = positionals
if ((command !== 'provide' && command !== 'get') || arg === undefined) {
  console.error('usage: main.ts provide <file> [--listen ma] [--bootstrap ma/p2p/id] | get <cid> --bootstrap ma/p2p/id [--out file]')
  process.exit(2)
}
const bootstrap = (values.bootstrap ?? []).map(text => {
  const { addr, peerId } = splitPeerId(parseMultiaddr(text))
  if (peerId === undefined) throw new Error(`bootstrap address needs /p2p/<id>: ${text}`)
  return { peer: peerId as PeerId, addr }
})
const node = await FileSharingNode.create({ listen: [parseMultiaddr(values.listen ?? '/ip4/127.0.0.1/tcp/0')], bootstrap })
for (const a of node.swarm.listenAddresses()) console.log(`listening on ${a.toString()}/p2p/${node.peerId.toString()}`)

if (command === 'provide') {
  const { root, announcedTo } = await node.share(new Uint8Array(readFileSync(arg)))
  console.log(`providing ${root.toString()} (provider record stored on ${announcedTo} peer(s)); Ctrl-C to stop`)
  await new Promise<void>(resolve => { process.once('SIGINT', () => resolve()) })
} else {
  const data = await node.fetch(CID.parse(arg))
  if (values.out !== undefined) writeFileSync(values.out, data)
  console.log(`fetched ${data.byteLength} bytes${values.out !== undefined ? ` into ${values.out}` : ''}`)
}
await node.close()
