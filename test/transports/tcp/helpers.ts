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

/** Echo every inbound stream back to its sender, half-closing after the remote's FIN. */
export function echo (stream: Stream): void {
  void (async () => {
    try {
      for await (const chunk of stream) {
        if (!stream.send(chunk)) await stream.onDrain()
      }
      await stream.closeWrite()
    } catch {
      // reset by the test
    }
  })()
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

export async function withTimeout<T> (p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([p, new Promise<T>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`timeout: ${what}`)) }, ms) })])
  } finally {
    clearTimeout(timer)
  }
}
