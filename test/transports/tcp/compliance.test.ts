/** The shared compliance suites (test/compliance: streams, dial failures) on the native TCP transport. */
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Connection } from '../../../src/core/transport.ts'
import { tcp, type TcpTransport } from '../../../src/transports/tcp/index.ts'
import { createServer } from 'node:net'
import { streamTransportCompliance, type ConnectedPair } from '../../compliance/stream-transport.ts'
import { transportDialCompliance } from '../../compliance/transport-dial.ts'
import { makeContext } from '../../helpers/node-context.ts'

const connect = async (serverProtocols: string[]): Promise<ConnectedPair> => {
  const st = tcp()(makeContext(serverProtocols))
  const ct = tcp()(makeContext()) as TcpTransport
  const listener = await st.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
  const accepted = new Promise<Connection>(resolve => { listener.once('connection', resolve) })
  const client = await ct.dial(listener.addrs()[0] as Multiaddr)
  const server = await accepted
  return { client, server, close: async () => { await ct.close(); await st.close() }, protocolCounters: (p) => ct.protocolCounters().get(p) }
}

// Default backpressure bound (64 MiB): well above the 4 MiB write high-water mark plus the peer's
// 16 MiB Yamux window and the kernel's socket buffers.
streamTransportCompliance('tcp', connect)

transportDialCompliance({
  name: 'tcp',
  factory: tcp(),
  listenAddr: '/ip4/127.0.0.1/tcp/0',
  // a listening socket that accepts at the kernel level and never answers the handshake
  silent: async () => {
    const server = createServer(() => {})
    await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
    const port = (server.address() as { port: number }).port
    return { addr: multiaddr(`/ip4/127.0.0.1/tcp/${port}`), close: () => { server.close() } }
  }
})
