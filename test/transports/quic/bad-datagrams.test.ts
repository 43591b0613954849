/**
 * Damaged genuine datagrams (issue 4, item 7), complementing the random ones of quic.test.ts and
 * the Initial flood of flood.test.ts: real Initials (recorded from our own dials) cut short at
 * every header boundary and inside the payload, and real Initials with one byte of their
 * protected payload changed (packet protection fails), each from a port of its own, at a
 * listener; random datagrams and short headers at the dialer's endpoint. None may create a
 * connection or get an answer, and an established connection on the same endpoints keeps echoing
 * while they arrive and after.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { Socket } from 'node:dgram'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Connection, Listener, Transport } from '../../../src/core/transport.ts'
import { quic } from '../../../src/transports/quic/index.ts'
import { makeContext } from '../../helpers/node-context.ts'
import { echo } from '../tcp/helpers.ts'
import { bound, recordInitials, Traffic } from './helpers.ts'

const ECHO = '/echo/1.0.0'
/** Round trips the established connection must make while and after each batch. */
const ROUNDS = 3
/** How long a sender waits for an answer that must not come: several loopback RTTs and a timer tick. */
const QUIET_MS = 300
/** Initial cut points: inside the first byte's reach, the version, DCID length and DCID, SCID, token and length fields, the payload, one byte short of 1200. */
const CUTS = [1, 3, 5, 6, 7, 14, 22, 23, 24, 26, 30, 60, 200, 600, 1000, 1199]
/** Damaged Initials, one byte each changed at a different place of the protected payload. */
const DAMAGED = 12

describe('native quic: damaged genuine datagrams at both endpoints', () => {
  let server: Transport
  let client: Transport
  let listener: Listener
  let port: number
  let conn: Connection
  let traffic: Traffic
  let inbound = 0
  const listenerErrors: Error[] = []
  const sockets: Socket[] = []

  /** Sends each datagram from a socket of its own; resolves with how many got any answer. */
  async function sendEach (datagrams: Buffer[], toPort: number): Promise<number> {
    let answered = 0
    for (const d of datagrams) {
      const s = await bound('udp4')
      sockets.push(s)
      let first = true
      s.on('message', () => { if (first) { first = false; answered++ } })
      await new Promise<void>((resolve, reject) => { s.send(d, toPort, '127.0.0.1', (err) => { if (err != null) reject(err); else resolve() }) })
    }
    await new Promise(resolve => setTimeout(resolve, QUIET_MS))
    return answered
  }

  before(async () => {
    server = quic()(makeContext([ECHO]))
    client = quic()(makeContext())
    listener = await server.listen(multiaddr('/ip4/127.0.0.1/udp/0/quic-v1'))
    listener.on('error', (err: Error) => { listenerErrors.push(err) })
    listener.on('connection', (c: Connection) => { inbound++; c.on('stream', echo) })
    port = Number(listener.addrs()[0]?.toString().split('/')[4])
    conn = await client.dial(listener.addrs()[0] as Multiaddr)
    traffic = new Traffic(await conn.openStream(ECHO))
    await traffic.more(ROUNDS, 'traffic before')
  })

  after(async () => {
    for (const s of sockets) s.close()
    await client.close()
    await server.close()
  })

  it(`drops a genuine Initial cut at ${CUTS.length} places: no answer, no connection, no handshake`, async () => {
    const [initial] = await recordInitials(1)
    assert.ok(initial !== undefined && initial.length >= 1200)
    const before = { inbound, errors: listenerErrors.length }
    const during = traffic.more(ROUNDS, 'traffic during the truncated Initials')
    // RFC 9000 14.1: a server drops an Initial in a datagram under 1200 bytes
    const answered = await sendEach(CUTS.map(n => initial.subarray(0, n)), port)
    assert.equal(answered, 0)
    assert.equal(inbound, before.inbound)
    assert.equal(listenerErrors.length, before.errors, `listener errors: ${listenerErrors.slice(before.errors).map(String).join(', ')}`)
    await during
    await traffic.more(ROUNDS, 'traffic after the truncated Initials')
  })

  it(`drops ${DAMAGED} genuine Initials with one byte of protected payload changed: no answer, no connection`, async () => {
    const initials = await recordInitials(DAMAGED)
    assert.ok(initials.length >= DAMAGED / 2, `recorded ${initials.length} Initials`)
    const damaged = initials.map((d, i) => {
      const b = Buffer.from(d)
      // past the long header (at most ~70 bytes here), spread over the payload up to its last byte (the tag)
      const at = 100 + Math.floor((b.length - 101) * i / Math.max(1, initials.length - 1))
      b[at] = (b[at] as number) ^ 0x5a
      return b
    })
    const before = inbound
    const during = traffic.more(ROUNDS, 'traffic during the damaged Initials')
    const answered = await sendEach(damaged, port)
    assert.equal(answered, 0)
    assert.equal(inbound, before)
    await during
    await traffic.more(ROUNDS, 'traffic after the damaged Initials')
    // the same Initials undamaged are genuine: the listener answers them (the test can tell)
    assert.ok(await sendEach(initials.slice(0, 2), port) > 0, 'the undamaged Initials get no answer either: the test proves nothing')
  })

  it('the dialer\'s endpoint drops random datagrams and unknown short headers while it carries the connection', async () => {
    const clientPort = Number(conn.localAddr?.toString().split('/')[4])
    assert.ok(clientPort > 0, `local address ${String(conn.localAddr)}`)
    const junk: Buffer[] = []
    for (let i = 0; i < 100; i++) junk.push(randomBytes(1 + Math.floor(Math.random() * 1400)))
    for (let i = 0; i < 50; i++) {
      const b = randomBytes(60)
      b[0] = 0x40 | ((b[0] as number) & 0x3f)  // short header, unknown connection id
      junk.push(b)
    }
    const during = traffic.more(ROUNDS, 'traffic during the junk')
    await sendEach(junk, clientPort)
    await during
    await traffic.more(ROUNDS, 'traffic after the junk')
    assert.equal(conn.status, 'open')
  })

  it('the connection ends cleanly after all of it', async () => {
    await traffic.stop()
    assert.equal(conn.status, 'open')
  })
})
