/** `libp2p-native perf --transport quic-v1`: the perf CLI's server and client over the native QUIC transport. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runServer, runClient, type CliIO } from '../../../src/cli/perf.ts'
import { PeerIdMismatchError } from '../../../src/core/errors.ts'
import { generateKeyPair, peerIdFromPrivateKey } from '../../../src/identity/index.ts'

function capture (): { io: CliIO, out: () => string } {
  let out = ''
  return { io: { stdout: { write: (s: string) => { out += s } }, stderr: { write: () => {} }, live: false }, out: () => out }
}

test('perf over quic-v1: the server prints its /p2p/ address, a client uploads and downloads', async () => {
  const srv = capture()
  const server = await runServer({ runServer: true, serverAddress: '127.0.0.1:0', transport: 'quic-v1', uploadBytes: 0, downloadBytes: 0, keyFile: undefined }, srv.io)
  try {
    const address = srv.out().trim().split('\n')[0] as string
    assert.match(address, /^\/ip4\/127\.0\.0\.1\/udp\/\d+\/quic-v1\/p2p\/12D3KooW/)
    const cli = capture()
    const final = await runClient({ runServer: false, serverAddress: address, transport: 'quic-v1', uploadBytes: 5_000_003, downloadBytes: 7_000_001, keyFile: undefined }, cli.io)
    const last = JSON.parse(cli.out().trim().split('\n').pop() as string) as Record<string, unknown>
    assert.equal(last.type, 'final')
    assert.equal(last.uploadBytes, 5_000_003)
    assert.equal(last.downloadBytes, 7_000_001)
    assert.deepEqual(final, last)
    const wrong = peerIdFromPrivateKey(generateKeyPair())
    const base = address.slice(0, address.indexOf('/p2p/'))
    await assert.rejects(runClient({ runServer: false, serverAddress: `${base}/p2p/${wrong.toString()}`, transport: 'quic-v1', uploadBytes: 1, downloadBytes: 1, keyFile: undefined }, capture().io), PeerIdMismatchError)
  } finally {
    await server.close()
  }
})
