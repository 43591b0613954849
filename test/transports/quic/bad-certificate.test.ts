/**
 * Real libp2p TLS handshakes over loopback UDP with certificates that are wrong in one way each
 * (issue 4, item 7): no libp2p extension, a host signature over other bytes, expired, not yet
 * valid, and a certificate naming a PeerId other than the one dialed. Both roles: a client with a
 * bad certificate against our listener (the listener rejects it: 'error' with the typed error of
 * src/native/errors.ts), and our client against a listener with a bad certificate (the dial
 * rejects). Meanwhile an established connection on the same endpoints keeps echoing data, checked
 * during and after every case. Bad certificates come from the addon's test hook (test-hooks.ts).
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Connection, Listener, Transport, TransportContext } from '../../../src/core/transport.ts'
import type { Stream } from '../../../src/core/stream.ts'
import { HandshakeError, PeerIdMismatchError } from '../../../src/core/errors.ts'
import { generateKeyPair, peerIdFromPrivateKey } from '../../../src/identity/index.ts'
import { nativeCodeOf, protocol } from '../../../src/native/index.ts'
import { StaticProtocolTable } from '../../../src/utils/protocol-table.ts'
import { quic } from '../../../src/transports/quic/index.ts'
import { echo, withTimeout } from '../tcp/helpers.ts'
import { STEP_MS, Traffic, until } from './helpers.ts'
import { BadCertificateQuic, badCertificateSpec, enableTestHooks, type BadCertificate } from './test-hooks.ts'

enableTestHooks()

const ECHO = '/echo/1.0.0'
/** Round trips the established connection must make while and after each bad handshake runs. */
const ROUNDS_PER_CASE = 3

/** Each bad certificate and the verifier's verdict (tls::Error name, src/native/protocol.ts TlsErrors). */
const CASES: Array<{ kind: BadCertificate, error: typeof protocol.TlsErrors[number] }> = [
  { kind: 'no extension', error: 'missing extension' },
  { kind: 'bad signature', error: 'bad host signature' },
  { kind: 'expired', error: 'expired' },
  { kind: 'not yet valid', error: 'not yet valid' }
]

function tlsCode (name: typeof protocol.TlsErrors[number]): { code: string, nativeCode: number } {
  return { code: `ERR_TLS_${name.toUpperCase().replace(/ /g, '_')}`, nativeCode: protocol.Code.tlsBase + protocol.TlsErrors.indexOf(name) }
}

function context (): TransportContext {
  const privateKey = generateKeyPair('Ed25519')
  return { privateKey, peerId: peerIdFromPrivateKey(privateKey), protocols: new StaticProtocolTable([ECHO]) }
}

/**
 * What a client whose certificate the listener rejects sees. The client completes its side of
 * the TLS 1.3 handshake before the listener has checked the client's certificate (libp2p TLS
 * spec, RFC 9001), so its dial may resolve and the rejection arrive as the connection's close.
 */
async function clientSideRejection (dialing: Promise<Connection>): Promise<Error | undefined> {
  let conn: Connection
  try {
    conn = await withTimeout(dialing, STEP_MS, 'dial settles')
  } catch (err) {
    return err as Error
  }
  if (conn.status === 'closed') return undefined  // closed in the same batch as it opened: no event left to see
  return await withTimeout(new Promise<Error | undefined>(resolve => { conn.once('close', resolve) }), STEP_MS, 'rejected client closes')
}

describe('native quic: bad certificates in real handshakes', () => {
  let server: Transport
  let client: Transport
  let listener: Listener
  let addr: Multiaddr
  let serverId: string
  const listenerErrors: Error[] = []
  let traffic: Traffic

  before(async () => {
    const sc = context()
    serverId = sc.peerId.toString()
    server = quic()(sc)
    client = quic()(context())
    listener = await server.listen(multiaddr('/ip4/127.0.0.1/udp/0/quic-v1'))
    listener.on('error', (err: Error) => { listenerErrors.push(err) })
    listener.on('connection', (c: Connection) => { c.on('stream', echo) })
    addr = listener.addrs()[0] as Multiaddr
    const good = await client.dial(addr)
    traffic = new Traffic(await good.openStream(ECHO))
    await traffic.more(ROUNDS_PER_CASE, 'traffic before')
  })

  after(async () => {
    await client.close()
    await server.close()
  })

  for (const { kind, error } of CASES) {
    const { code, nativeCode } = tlsCode(error)
    it(`our listener rejects a client certificate with ${kind}: listener 'error' ${code}`, async () => {
      const errorsBefore = listenerErrors.length
      const ctx = context()
      const bad = new BadCertificateQuic(ctx, {}, badCertificateSpec(kind, ctx.privateKey))
      try {
        const during = traffic.more(ROUNDS_PER_CASE, `traffic during the ${kind} handshake`)
        const seen = await clientSideRejection(bad.dial(addr))
        if (seen !== undefined) assert.ok(seen instanceof HandshakeError, `client saw ${String(seen)}`)
        await until(() => listenerErrors.length > errorsBefore, 'listener error')
        const err = listenerErrors[errorsBefore]
        assert.ok(err instanceof HandshakeError, `listener saw ${String(err)}`)
        assert.equal((err as HandshakeError).code, code)
        assert.equal(nativeCodeOf(err), nativeCode)
        await during
        await traffic.more(ROUNDS_PER_CASE, `traffic after the ${kind} handshake`)
      } finally {
        await bad.close()
      }
    })
  }

  it('a dial naming another PeerId fails with PeerIdMismatchError; the listener sees the client\'s alert', async () => {
    const errorsBefore = listenerErrors.length
    const other = peerIdFromPrivateKey(generateKeyPair('Ed25519')).toString()
    const fresh = quic()(context())
    try {
      const during = traffic.more(ROUNDS_PER_CASE, 'traffic during the mismatched dial')
      const err = await fresh.dial(addr.encapsulate(`/p2p/${other}`)).then(() => undefined, (e: unknown) => e)
      assert.ok(err instanceof PeerIdMismatchError, `got ${String(err)}`)
      assert.equal(err.expected, other)
      assert.equal(err.actual, serverId)
      assert.equal(nativeCodeOf(err), tlsCode('peer id mismatch').nativeCode)
      // the dialer aborted the handshake with a TLS alert: the listener reports a failed handshake
      await until(() => listenerErrors.length > errorsBefore, 'listener error')
      const seen = listenerErrors[errorsBefore]
      assert.ok(seen instanceof HandshakeError && !(seen instanceof PeerIdMismatchError), `listener saw ${String(seen)}`)
      assert.equal((seen as HandshakeError).code, 'ERR_QUIC_HANDSHAKE_FAILED')
      await during
      await traffic.more(ROUNDS_PER_CASE, 'traffic after the mismatched dial')
    } finally {
      await fresh.close()
    }
  })

  // Our client's endpoint (one UDP socket per thread and family) also carries the established
  // connection: it keeps echoing while the client rejects each bad listener.
  for (const { kind, error } of [...CASES, { kind: 'other key' as const, error: 'peer id mismatch' as const }]) {
    const { code, nativeCode } = tlsCode(error)
    it(`our client rejects a listener certificate with ${kind}: ${kind === 'other key' ? 'PeerIdMismatchError' : code}`, async () => {
      const ctx = context()
      const otherKey = generateKeyPair('Ed25519')
      const badServer = new BadCertificateQuic(ctx, {}, badCertificateSpec(kind, ctx.privateKey, otherKey))
      try {
        const l = await badServer.listen(multiaddr('/ip4/127.0.0.1/udp/0/quic-v1'))
        const badErrors: Error[] = []
        l.on('error', (e: Error) => { badErrors.push(e) })
        const during = traffic.more(ROUNDS_PER_CASE, `traffic during the ${kind} listener`)
        // dial the listener by its own identity: its certificate must name it
        const target = (l.addrs()[0] as Multiaddr).encapsulate(`/p2p/${ctx.peerId.toString()}`)
        const err = await withTimeout(client.dial(target).then(() => undefined, (e: unknown) => e), STEP_MS, 'bad listener dial')
        assert.ok(err instanceof HandshakeError, `got ${String(err)}`)
        assert.equal(nativeCodeOf(err), nativeCode)
        if (kind === 'other key') {
          assert.ok(err instanceof PeerIdMismatchError)
          assert.equal(err.expected, ctx.peerId.toString())
          assert.equal(err.actual, peerIdFromPrivateKey(otherKey).toString())
        } else {
          assert.equal(err.code, code)
        }
        await until(() => badErrors.length > 0, 'bad listener hears the alert')
        assert.equal((badErrors[0] as HandshakeError).code, 'ERR_QUIC_HANDSHAKE_FAILED')
        await during
        await traffic.more(ROUNDS_PER_CASE, `traffic after the ${kind} listener`)
      } finally {
        await badServer.close()
      }
    })
  }

  it('the established connection ends cleanly after all of it', async () => {
    // every case above waited for its own round trips; here: no echo failed, and the stream closes
    await traffic.more(ROUNDS_PER_CASE, 'traffic at the end')
    await traffic.stop()
  })
})

describe('native quic: the certificate test hooks', () => {
  it('refuse to run without LIBP2P_NATIVE_TEST_HOOKS=1', async () => {
    const ctx = context()
    const saved = process.env.LIBP2P_NATIVE_TEST_HOOKS
    delete process.env.LIBP2P_NATIVE_TEST_HOOKS
    const t = new BadCertificateQuic(ctx, {}, badCertificateSpec('expired', ctx.privateKey))
    const plain = quic()(context())
    try {
      // validity arguments
      await assert.rejects(async () => await t.listen(multiaddr('/ip4/127.0.0.1/udp/0/quic-v1')), /LIBP2P_NATIVE_TEST_HOOKS/)
      // a certificate without the extension (two empty arrays)
      await plain.listen(multiaddr('/ip4/127.0.0.1/udp/0/quic-v1'))
      const addon = (plain as unknown as { host: { host: { quicCertRequest: () => Uint8Array, quicCertFinish: (k: Uint8Array, s: Uint8Array) => void } } }).host.host
      addon.quicCertRequest()
      assert.throws(() => { addon.quicCertFinish(new Uint8Array(0), new Uint8Array(0)) }, /LIBP2P_NATIVE_TEST_HOOKS/)
    } finally {
      process.env.LIBP2P_NATIVE_TEST_HOOKS = saved
      await t.close()
      await plain.close()
    }
  })
})
