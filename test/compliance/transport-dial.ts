/**
 * Dial failures every authenticated transport must handle the same way (the stream suite's
 * companion, stream-transport.ts): a `/p2p/` id that is not the listener's fails with
 * PeerIdMismatchError naming both peers while the listener keeps serving, and a dial still in
 * its handshake settles when the dialing transport closes. Native TCP and QUIC run it from their
 * compliance.test.ts; the memory transport has no handshake to fail.
 *
 *   transportDialCompliance({ name: 'tcp', factory: tcp(), listenAddr: '/ip4/127.0.0.1/tcp/0', silent })
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Connection, TransportFactory } from '../../src/core/transport.ts'
import { PeerIdMismatchError } from '../../src/core/errors.ts'
import { generateKeyPair, peerIdFromPrivateKey } from '../../src/identity/index.ts'
import { makeContext } from '../helpers/node-context.ts'

export interface DialFixture {
  name: string
  factory: TransportFactory
  /** Where the listener binds (port 0). */
  listenAddr: string
  /** An address that takes the dial's packets or connection but never answers the handshake. */
  silent: () => Promise<{ addr: Multiaddr, close: () => void }>
}

const ECHO = '/compliance/echo/1.0.0'
/** Bound on a dial that must settle; a healthy one takes milliseconds. */
const SETTLE_MS = 2000

async function echoOnce (conn: Connection, byte: number): Promise<number[]> {
  const s = await conn.openStream(ECHO)
  s.send(Uint8Array.of(byte))
  await s.closeWrite()
  const got: number[] = []
  for await (const c of s) got.push(...c)
  return got
}

export function transportDialCompliance (f: DialFixture): void {
  test(`${f.name} dial compliance: a /p2p/ id that is not the listener's fails with PeerIdMismatchError; the listener keeps serving`, async () => {
    const serverCtx = makeContext([ECHO])
    const server = f.factory(serverCtx)
    const client = f.factory(makeContext())
    try {
      const listener = await server.listen(multiaddr(f.listenAddr))
      listener.on('connection', (c: Connection) => {
        c.on('stream', (s) => { void (async () => { for await (const b of s) s.send(b); await s.closeWrite() })().catch(() => {}) })
      })
      const base = listener.addrs()[0] as Multiaddr
      const kept = await client.dial(base)
      const other = peerIdFromPrivateKey(generateKeyPair('Ed25519')).toString()
      const err = await client.dial(base.encapsulate(`/p2p/${other}`)).then(() => undefined, (e: unknown) => e)
      assert.ok(err instanceof PeerIdMismatchError, `got ${String(err)}`)
      assert.equal(err.expected, other)
      // the handshake authenticated the listener: the error names who answered
      assert.equal(err.actual, serverCtx.peerId.toString())
      // the established connection and the listener carry on; the right id is accepted
      assert.deepEqual(await echoOnce(kept, 1), [1])
      const right = await client.dial(base.encapsulate(`/p2p/${serverCtx.peerId.toString()}`))
      assert.ok(right.remotePeer.equals(serverCtx.peerId))
      assert.deepEqual(await echoOnce(right, 2), [2])
    } finally {
      await client.close()
      await server.close()
    }
  })

  test(`${f.name} dial compliance: a dial in its handshake settles when the transport closes`, async () => {
    const quitter = f.factory(makeContext())
    const silent = await f.silent()
    try {
      const dialing = quitter.dial(silent.addr)
      dialing.catch(() => {})  // asserted below
      await new Promise(resolve => setTimeout(resolve, 50))
      await quitter.close()
      const err = await Promise.race([dialing.then(() => undefined, (e: unknown) => e), new Promise(resolve => setTimeout(() => { resolve('still pending') }, SETTLE_MS))])
      assert.equal((err as { code?: string }).code, 'ERR_CONNECTION_CLOSED', `got ${String(err)}`)
    } finally {
      silent.close()
    }
  })
}
