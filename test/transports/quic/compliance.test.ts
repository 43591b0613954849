/** The shared compliance suites (test/compliance: streams, dial failures) on the native QUIC transport. */
import { createSocket } from 'node:dgram'
import { multiaddr } from '@multiformats/multiaddr'
import { quic } from '../../../src/transports/quic/index.ts'
import { listenDialPair, streamTransportCompliance } from '../../compliance/stream-transport.ts'
import { transportDialCompliance } from '../../compliance/transport-dial.ts'

// Backpressure bound: 4 MiB write high-water mark + the peer's 16 MiB stream window at most.
streamTransportCompliance('quic-v1', listenDialPair(quic(), '/ip4/127.0.0.1/udp/0/quic-v1'), { maxBufferedBeforeBackpressure: 24 * 1024 * 1024 })

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
