/**
 * Our side of the TCP interop tests: the native TCP transport used bare (as bench/perf/native-peer.ts
 * does), with a StaticProtocolTable and our ping and perf handlers plus the same test protocols as
 * test/interop/js-node.ts, all on the public Stream API.
 */
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Connection, Listener, TransportContext } from '../../src/core/transport.ts'
import type { Stream } from '../../src/core/stream.ts'
import { generateKeyPair, peerIdFromPrivateKey } from '../../src/identity/index.ts'
import { StaticProtocolTable } from '../../src/utils/protocol-table.ts'
import { withPeerId } from '../../src/utils/multiaddr.ts'
import { tcp, type NativeConnection, type TcpTransport } from '../../src/transports/tcp/index.ts'
import { PING_PROTOCOL } from '../../src/protocols/ping/constants.ts'
import { handlePingStream } from '../../src/protocols/ping/protocol.ts'
import { PERF_PROTOCOL } from '../../src/protocols/perf/constants.ts'
import { handlePerfStream, type PerfServerResult } from '../../src/protocols/perf/protocol.ts'
import { ECHO_PROTOCOL, SINK_PROTOCOL, SOURCE_CHUNK, SOURCE_MAX_BYTES, SOURCE_PROTOCOL, type SinkOutcome } from './js-node.ts'

export interface OurNode {
  context: TransportContext
  transport: TcpTransport
  listener: Listener | undefined
  /** Inbound connections accepted by the listener, in order. */
  inbound: NativeConnection[]
  /** Errors the listener reported for inbound connections that failed before the upgrade. */
  listenerErrors: Error[]
  pingStreams: number
  perfResults: Array<Promise<PerfServerResult>>
  sinkOutcomes: Array<Promise<SinkOutcome>>
  onSinkProgress: ((bytes: number) => void) | undefined
  /** Our listen address with `/p2p/` (after `listen`). */
  addr: () => Multiaddr
  close: () => Promise<void>
}

async function echo (stream: Stream): Promise<void> {
  for await (const chunk of stream) {
    if (!stream.send(chunk)) await stream.onDrain()
  }
  await stream.closeWrite()  // with data still queued: the FIN must follow it (FIN-on-data fix)
}

/** SOURCE_PROTOCOL (test/interop/js-node.ts): after one byte, send until a second byte comes, then reset. */
async function resetSource (stream: Stream): Promise<void> {
  let cues = 0
  let cued: () => void = () => {}
  const resetCue = new Promise<void>(resolve => { cued = resolve })
  let started: () => void = () => {}
  const go = new Promise<void>(resolve => { started = resolve })
  stream.on('data', (chunk: Uint8Array) => {
    cues += chunk.byteLength
    if (cues >= 1) started()
    if (cues >= 2) cued()
  })
  await go
  let reset = false
  void resetCue.then(() => { reset = true })
  const chunk = new Uint8Array(SOURCE_CHUNK).fill(0xa5)
  for (let sent = 0; !reset && sent < SOURCE_MAX_BYTES && stream.writeStatus === 'writable'; sent += chunk.byteLength) {
    if (!stream.send(chunk)) await Promise.race([stream.onDrain(), resetCue])
    else await new Promise(resolve => setImmediate(resolve))
  }
  stream.reset()
}

export function serve (node: OurNode, conn: Connection): void {
  conn.on('stream', (stream: Stream) => {
    switch (stream.protocol) {
      case PING_PROTOCOL:
        node.pingStreams++
        void handlePingStream(stream).catch(() => {})
        break
      case PERF_PROTOCOL: {
        const result = handlePerfStream(stream)
        result.catch(() => {})
        node.perfResults.push(result)
        break
      }
      case ECHO_PROTOCOL:
        void echo(stream).catch(err => { stream.reset(err as Error) })
        break
      case SOURCE_PROTOCOL:
        void resetSource(stream).catch(() => {})
        break
      case SINK_PROTOCOL:
        node.sinkOutcomes.push((async () => {
          let bytes = 0
          try {
            for await (const chunk of stream) {
              bytes += chunk.byteLength
              node.onSinkProgress?.(bytes)
            }
            return { bytes, error: undefined }
          } catch (err) {
            return { bytes, error: err as Error }
          }
        })())
        break
      default:
        stream.reset()
    }
  })
}

export async function createOurNode (options: { listen?: boolean } = {}): Promise<OurNode> {
  const privateKey = generateKeyPair('Ed25519')
  const context: TransportContext = {
    privateKey,
    peerId: peerIdFromPrivateKey(privateKey),
    protocols: new StaticProtocolTable([PING_PROTOCOL, PERF_PROTOCOL, ECHO_PROTOCOL, SOURCE_PROTOCOL, SINK_PROTOCOL])
  }
  const transport = tcp()(context) as TcpTransport
  const node: OurNode = {
    context,
    transport,
    listener: undefined,
    inbound: [],
    listenerErrors: [],
    pingStreams: 0,
    perfResults: [],
    sinkOutcomes: [],
    onSinkProgress: undefined,
    addr: () => {
      const a = node.listener?.addrs()[0]
      if (a === undefined) throw new Error('not listening')
      return withPeerId(a, context.peerId)
    },
    close: async () => {
      await node.listener?.close()
      await transport.close()
    }
  }
  if (options.listen !== false) {
    const listener = await transport.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
    listener.on('connection', (conn: Connection) => {
      node.inbound.push(conn as NativeConnection)
      serve(node, conn)
    })
    listener.on('error', (err: Error) => { node.listenerErrors.push(err) })
    node.listener = listener
  }
  return node
}
