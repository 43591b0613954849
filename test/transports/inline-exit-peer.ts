/**
 * Child of inline.test.ts: inline TCP and QUIC transports listen, dial, echo 4 KiB and close. It
 * must then exit on its own: every uv handle of an inline host (poll, timer) closed or unref'd.
 */
import { randomBytes } from 'node:crypto'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Connection, Transport, TransportContext } from '../../src/core/transport.ts'
import type { Stream } from '../../src/core/stream.ts'
import { generateKeyPair, peerIdFromPrivateKey } from '../../src/identity/index.ts'
import { StaticProtocolTable } from '../../src/utils/protocol-table.ts'
import { quic } from '../../src/transports/quic/index.ts'
import { tcp } from '../../src/transports/tcp/index.ts'
import { echo, readAll } from './tcp/helpers.ts'

const ECHO = '/echo/1.0.0'

function context (): TransportContext {
  const privateKey = generateKeyPair('Ed25519')
  return { privateKey, peerId: peerIdFromPrivateKey(privateKey), protocols: new StaticProtocolTable([ECHO]) }
}

async function roundTrip (server: Transport, client: Transport, addr: string): Promise<number> {
  const l = await server.listen(multiaddr(addr))
  l.on('connection', (c: Connection) => { c.on('stream', (s: Stream) => { echo(s) }) })
  const conn = await client.dial(l.addrs()[0] as Multiaddr)
  const s = await conn.openStream(ECHO)
  const payload = randomBytes(4096)
  s.send(payload)
  await s.closeWrite()
  const got = await readAll(s)
  if (!Buffer.from(got).equals(payload)) throw new Error('echo differs')
  await conn.close()
  await l.close()
  await client.close()
  await server.close()
  return got.byteLength
}

const a = await roundTrip(tcp({ ioThreads: 0 })(context()), tcp({ ioThreads: 0 })(context()), '/ip4/127.0.0.1/tcp/0')
const b = await roundTrip(quic({ ioThreads: 0 })(context()), quic({ ioThreads: 0 })(context()), '/ip4/127.0.0.1/udp/0/quic-v1')
if (a === b) console.log(`echoed ${a} bytes over tcp and quic`)
