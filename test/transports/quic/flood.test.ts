/**
 * A flood of genuine QUIC Initials (issue 4, item 7) from many source ports at a listener: the
 * endpoint bounds its handshake state (max_handshaking, Retry above retry_above_handshaking), an
 * established connection keeps working, and a legitimate client still gets in. The Initials are
 * real ones: our own client dials a plain UDP socket that records them (each dial has a fresh
 * destination connection id), then they are replayed from one new socket each.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { Socket } from 'node:dgram'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Connection, Listener, TransportContext } from '../../../src/core/transport.ts'
import type { Stream } from '../../../src/core/stream.ts'
import { generateKeyPair, peerIdFromPrivateKey } from '../../../src/identity/index.ts'
import { StaticProtocolTable } from '../../../src/utils/protocol-table.ts'
import { quic, type QuicOptions, type QuicTransport } from '../../../src/transports/quic/index.ts'
import { echo, readAll, withTimeout } from '../tcp/helpers.ts'
import { bound, recordInitials } from './helpers.ts'

const ECHO = '/echo/1.0.0'
/** Distinct Initials replayed: above the endpoint's max_handshaking (256, l2n/quic.h), so the bound is exercised. */
const FLOOD = 320

function makeNode (options: QuicOptions = {}): QuicTransport {
  const privateKey = generateKeyPair('Ed25519')
  const context: TransportContext = { privateKey, peerId: peerIdFromPrivateKey(privateKey), protocols: new StaticProtocolTable([ECHO]) }
  return quic(options)(context) as QuicTransport
}

describe('native quic: a flood of Initials from many ports', () => {
  let server: QuicTransport
  let client: QuicTransport
  let listener: Listener
  let good: Connection

  before(async () => {
    server = makeNode()
    client = makeNode()
    listener = await server.listen(multiaddr('/ip4/127.0.0.1/udp/0/quic-v1'))
    listener.on('connection', (c: Connection) => { c.on('stream', (s: Stream) => { echo(s) }) })
    good = await client.dial(listener.addrs()[0] as Multiaddr)
  })

  after(async () => {
    await client.close()
    await server.close()
  })

  it(`bounds handshake state, keeps serving, and admits a new client (${FLOOD} Initials)`, async () => {
    const initials = await recordInitials(FLOOD)
    assert.ok(initials.length >= FLOOD * 0.9, `recorded ${initials.length} distinct Initials`)
    const port = Number(listener.addrs()[0]?.toString().split('/')[4])
    const sockets: Socket[] = []
    let answered = 0
    let retries = 0
    for (const initial of initials) {
      const s = await bound('udp4')
      sockets.push(s)
      let first = true
      s.on('message', (msg: Buffer) => {
        if (!first) return
        first = false
        answered++
        // Retry: long header, type bits 0x30 (RFC 9000 17.2.5)
        if (((msg[0] as number) & 0xb0) === 0xb0) retries++
      })
      await new Promise<void>((resolve, reject) => { s.send(initial, port, '127.0.0.1', (err) => { if (err != null) reject(err); else resolve() }) })
    }
    await withTimeout((async () => { while (answered < initials.length * 0.9) await new Promise(r => setTimeout(r, 5)) })(), 5000, 'server answers')
    // Past retry_above_handshaking (64) half-open handshakes, new Initials get a Retry instead of state.
    assert.ok(retries > 0 && retries < answered, `${retries} Retry answers of ${answered}`)
    // the established connection carries on
    const s = await good.openStream(ECHO)
    const payload = randomBytes(100_000)
    s.send(payload)
    await s.closeWrite()
    assert.ok(Buffer.from(await withTimeout(readAll(s), 5000, 'echo during the flood')).equals(payload))
    // a legitimate client still connects (through a Retry while the half-open handshakes last)
    const fresh = makeNode()
    const c = await withTimeout(fresh.dial(listener.addrs()[0] as Multiaddr), 5000, 'dial during the flood')
    const s2 = await c.openStream(ECHO)
    s2.send(Uint8Array.of(7))
    await s2.closeWrite()
    assert.deepEqual([...await withTimeout(readAll(s2), 5000, 'echo on the new connection')], [7])
    await fresh.close()
    for (const sock of sockets) sock.close()
  })
})
