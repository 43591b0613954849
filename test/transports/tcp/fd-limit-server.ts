/**
 * Child process for the descriptor-exhaustion test: a native TCP listener run under a low
 * RLIMIT_NOFILE (prlimit). Prints its address, then answers 'conns' with its connection count.
 */
import { multiaddr } from '@multiformats/multiaddr'
import type { Connection } from '../../../src/core/transport.ts'
import { makeNode, echo } from './helpers.ts'

const node = makeNode(['/echo/1.0.0'])
const listener = await node.transport.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
let open = 0
listener.on('error', () => {})
listener.on('connection', (c: Connection) => {
  open++
  c.on('stream', echo)
  c.on('close', () => { open-- })
})
process.stdout.write(`${listener.addrs()[0]?.toString()}/p2p/${node.context.peerId.toString()}\n`)
process.stdin.on('data', () => { process.stdout.write(`${open}\n`) })
process.stdin.on('end', () => { void node.transport.close().then(() => process.exit(0)) })
