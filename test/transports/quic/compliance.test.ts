/** The shared stream-transport compliance suite (test/compliance) on the native QUIC transport. */
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Connection } from '../../../src/core/transport.ts'
import { quic } from '../../../src/transports/quic/index.ts'
import { streamTransportCompliance } from '../../compliance/stream-transport.ts'
import { makeContext } from '../../helpers/node-context.ts'

const connect = async (serverProtocols: string[]): Promise<{ client: Connection, server: Connection, close: () => Promise<void> }> => {
  const st = quic()(makeContext(serverProtocols))
  const ct = quic()(makeContext())
  const listener = await st.listen(multiaddr('/ip4/127.0.0.1/udp/0/quic-v1'))
  const accepted = new Promise<Connection>(resolve => { listener.once('connection', resolve) })
  const client = await ct.dial(listener.addrs()[0] as Multiaddr)
  const server = await accepted
  return { client, server, close: async () => { await ct.close(); await st.close() } }
}

// Backpressure bound: 4 MiB write high-water mark + the peer's 16 MiB stream window at most.
streamTransportCompliance('quic-v1', connect, { maxBufferedBeforeBackpressure: 24 * 1024 * 1024 })
