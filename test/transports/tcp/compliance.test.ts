/** The shared compliance suites (test/compliance: streams, dial failures) on the native TCP transport. */
import { createServer } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import { tcp } from '../../../src/transports/tcp/index.ts'
import { listenDialPair, streamTransportCompliance } from '../../compliance/stream-transport.ts'
import { transportDialCompliance } from '../../compliance/transport-dial.ts'

// Default backpressure bound (64 MiB): well above the 4 MiB write high-water mark plus the peer's
// 16 MiB Yamux window and the kernel's socket buffers.
streamTransportCompliance('tcp', listenDialPair(tcp(), '/ip4/127.0.0.1/tcp/0'))

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
