/** Shared setup for the native TCP transport tests: nodes with their own identity and protocol table. */
import { generateKeyPair, peerIdFromPrivateKey } from '../../../src/identity/index.ts'
import { StaticProtocolTable } from '../../../src/utils/protocol-table.ts'
import { tcp, type TcpOptions, type TcpTransport } from '../../../src/transports/tcp/index.ts'
import type { TransportContext } from '../../../src/core/transport.ts'
import type { Stream } from '../../../src/core/stream.ts'

export interface TestNode {
  context: TransportContext
  protocols: StaticProtocolTable
  transport: TcpTransport
}

export function makeNode (protocols: string[] = ['/echo/1.0.0'], options: TcpOptions = {}): TestNode {
  const privateKey = generateKeyPair('Ed25519')
  const table = new StaticProtocolTable(protocols)
  const context: TransportContext = { privateKey, peerId: peerIdFromPrivateKey(privateKey), protocols: table }
  const transport = tcp(options)(context) as TcpTransport
  return { context, protocols: table, transport }
}

/**
 * Echo every inbound stream back to its sender, half-closing after the remote's FIN. Event-based
 * ('data' / 'end', pause on backpressure) so the iterator path stays covered by readAll alone.
 */
export function echo (stream: Stream): void {
  stream.on('data', (chunk: Uint8Array) => {
    if (!stream.send(chunk)) {
      stream.pause()
      stream.onDrain().then(() => { stream.resume() }, () => {})
    }
  })
  stream.on('end', () => { stream.closeWrite().catch(() => {}) })
}

/** Everything the remote sends until its FIN, through 'data' events. */
export async function readAllEvents (stream: Stream): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  await new Promise<void>((resolve, reject) => {
    stream.on('data', (c: Uint8Array) => { chunks.push(c) })
    stream.once('end', resolve)
    stream.once('close', (err?: Error) => { if (err !== undefined) reject(err); else resolve() })
    // Chunks queued before the listener existed are delivered to it on the next microtask.
  })
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0))
  let o = 0
  for (const c of chunks) { out.set(c, o); o += c.byteLength }
  return out
}

export async function readAll (stream: Stream): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  let n = 0
  for await (const c of stream) {
    chunks.push(Uint8Array.from(c))
    n += c.byteLength
  }
  const out = new Uint8Array(n)
  let o = 0
  for (const c of chunks) { out.set(c, o); o += c.byteLength }
  return out
}

export { withTimeout } from '../../helpers/timeout.ts'
