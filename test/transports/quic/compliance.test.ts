/** The shared compliance suites (test/compliance: streams, dial failures) on the native QUIC transport. */
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Connection } from '../../../src/core/transport.ts'
import { quic, type QuicTransport } from '../../../src/transports/quic/index.ts'
import { createSocket } from 'node:dgram'
import { streamTransportCompliance, type ConnectedPair } from '../../compliance/stream-transport.ts'
import { transportDialCompliance } from '../../compliance/transport-dial.ts'
import { makeContext } from '../../helpers/node-context.ts'

const connect = async (serverProtocols: string[]): Promise<ConnectedPair> => {
  const st = quic()(makeContext(serverProtocols))
  const ct = quic()(makeContext()) as QuicTransport
  const listener = await st.listen(multiaddr('/ip4/127.0.0.1/udp/0/quic-v1'))
  const accepted = new Promise<Connection>(resolve => { listener.once('connection', resolve) })
  const client = await ct.dial(listener.addrs()[0] as Multiaddr)
  const server = await accepted
  return { client, server, close: async () => { await ct.close(); await st.close() }, protocolCounters: (p) => ct.protocolCounters().get(p) }
}

// Backpressure bound: 4 MiB write high-water mark + the peer's 16 MiB stream window at most.
streamTransportCompliance('quic-v1', connect, { maxBufferedBeforeBackpressure: 24 * 1024 * 1024 })

transportDialCompliance({
  name: 'quic-v1',
  factory: quic(),
  listenAddr: '/ip4/127.0.0.1/udp/0/quic-v1',
  // a bound UDP socket that takes the Initials and never answers
  silent: async () => {
    const sock = createSocket('udp4')
    await new Promise<void>(resolve => { sock.bind(0, '127.0.0.1', resolve) })
    return { addr: multiaddr(`/ip4/127.0.0.1/udp/${sock.address().port}/quic-v1`), close: () => { sock.close() } }
  }
})
