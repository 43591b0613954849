/**
 * QUIC's native log lines through the process-wide logger (the QUIC transport's host uses
 * defaultLogConfig): an established connection is logged at debug and a failed handshake (the
 * remote is not the expected peer) at warn, on `native:quic`, with the connection id and code.
 * A file of its own: it changes the process-wide filter and sink.
 */
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import type { Connection, TransportContext } from '../../src/core/transport.ts'
import { PeerIdMismatchError } from '../../src/core/errors.ts'
import { generateKeyPair, peerIdFromPrivateKey } from '../../src/identity/index.ts'
import { StaticProtocolTable } from '../../src/utils/protocol-table.ts'
import { quic, type QuicTransport } from '../../src/transports/quic/index.ts'
import { defaultLogConfig, type LogRecord } from '../../src/log/index.ts'

function makeNode (): QuicTransport {
  const privateKey = generateKeyPair('Ed25519')
  const context: TransportContext = { privateKey, peerId: peerIdFromPrivateKey(privateKey), protocols: new StaticProtocolTable(['/echo/1.0.0']) }
  return quic({ handshakeTimeoutMs: 2000 })(context) as QuicTransport
}

it('native:quic logs an established connection and a failed handshake', async () => {
  const seen: LogRecord[] = []
  defaultLogConfig.setSink((r) => { seen.push(r) })
  defaultLogConfig.setFilter('off,native:quic=debug')
  const server = makeNode()
  const client = makeNode()
  try {
    const listener = await server.listen(multiaddr('/ip4/127.0.0.1/udp/0/quic-v1'))
    const base = listener.addrs()[0]
    assert.ok(base !== undefined)
    const conn: Connection = await client.dial(base)
    await conn.close()
    const other = peerIdFromPrivateKey(generateKeyPair('Ed25519'))
    const err = await client.dial(base.encapsulate(`/p2p/${other.toString()}`)).then(() => undefined, (e: unknown) => e)
    assert.ok(err instanceof PeerIdMismatchError, `got ${String(err)}`)
    await new Promise(resolve => setTimeout(resolve, 100))
    const quicLines = seen.filter(r => r.component === 'native:quic')
    assert.ok(quicLines.some(r => r.level === 'debug' && /^connection established \(outbound to 127\.0\.0\.1:\d+\)$/.test(r.msg) &&
      typeof r.fields?.conn === 'number'), `established logged: ${JSON.stringify(quicLines)}`)
    const failed = quicLines.find(r => r.msg.startsWith('outbound handshake failed'))
    assert.ok(failed !== undefined, `handshake failure logged: ${JSON.stringify(quicLines)}`)
    assert.equal(failed.level, 'warn')
    assert.ok(typeof failed.fields?.code === 'number' && failed.fields.code !== 0)
    assert.deepEqual(seen.filter(r => !r.component.startsWith('native:quic')), [], 'the filter holds for other components')
  } finally {
    await client.close()
    await server.close()
    defaultLogConfig.setFilter(process.env.LIBP2P_LOG ?? '')
  }
})
