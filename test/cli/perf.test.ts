import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parsePerfArgs, runServer, runClient, progressLine, type CliIO } from '../../src/cli/perf.ts'
import { loadTransport, TransportUnavailableError } from '../../src/cli/transports.ts'
import { InvalidArgumentError, PeerIdMismatchError } from '../../src/core/errors.ts'
import { generateKeyPair, peerIdFromPrivateKey } from '../../src/identity/index.ts'
import { makeContext } from '../helpers/node-context.ts'

const root = join(fileURLToPath(import.meta.url), '..', '..', '..')

function capture (): { io: CliIO, out: () => string, err: () => string } {
  let out = ''
  let err = ''
  return {
    io: { stdout: { write: (s: string) => { out += s } }, stderr: { write: (s: string) => { err += s } }, live: false },
    out: () => out,
    err: () => err
  }
}

test('argument parsing follows the perf-binary contract', () => {
  const c = parsePerfArgs(['--server-address', '1.2.3.4:4001', '--transport', 'tcp', '--upload-bytes', '10', '--download-bytes', '20'])
  assert.deepEqual(c, { runServer: false, serverAddress: '1.2.3.4:4001', transport: 'tcp', uploadBytes: 10, downloadBytes: 20, keyFile: undefined })
  const s = parsePerfArgs(['--run-server', '--server-address', '0.0.0.0:4001'])
  assert.equal(s.runServer, true)
  assert.equal(s.transport, 'tcp')
  assert.throws(() => parsePerfArgs(['--upload-bytes', '1']), /needs --server-address/)
  assert.throws(() => parsePerfArgs(['--server-address', 'a:1', '--upload-bytes', '-5']), InvalidArgumentError)
  assert.throws(() => parsePerfArgs(['--server-address', 'a:1', '--download-bytes', '1e9']), InvalidArgumentError)
  assert.throws(() => parsePerfArgs(['--server-address', 'a:1', '--download-bytes', '99999999999999999999']), /too large/)
  assert.throws(() => parsePerfArgs(['--bogus']), InvalidArgumentError)
})

test('transport registry: memory loads; a missing module or export is a clear TransportUnavailableError', async () => {
  const factory = await loadTransport('memory')
  assert.equal(factory(makeContext()).name, 'memory')
  await assert.rejects(loadTransport('carrier-pigeon'), (e: Error) => e instanceof TransportUnavailableError && /unknown transport "carrier-pigeon"/.test(e.message))
  await assert.rejects(loadTransport('x', {}, { x: { module: '../transports/does-not-exist/index', exportName: 'x' } }),
    (e: Error) => e instanceof TransportUnavailableError && /not available in this build yet/.test(e.message))
  await assert.rejects(loadTransport('x', {}, { x: { module: '../transports/memory/index', exportName: 'nothere' } }),
    /does not export nothere\(\)/)
})

test('server prints its /p2p/ addresses; a client dials with and without /p2p/ and prints JSON lines', async () => {
  const srv = capture()
  const server = await runServer({ runServer: true, serverAddress: '/memory/cli-test-1', transport: 'memory', uploadBytes: 0, downloadBytes: 0, keyFile: undefined }, srv.io)
  try {
    const lines = srv.out().trim().split('\n')
    assert.equal(lines.length, 1)
    assert.match(lines[0] as string, /^\/memory\/cli-test-1\/p2p\/12D3KooW/)
    for (const address of [lines[0] as string, '/memory/cli-test-1']) {
      const cli = capture()
      const final = await runClient({ runServer: false, serverAddress: address, transport: 'memory', uploadBytes: 3_000_000, downloadBytes: 1_000_001, keyFile: undefined }, cli.io)
      const json = cli.out().trim().split('\n').map(l => JSON.parse(l) as Record<string, unknown>)
      const last = json[json.length - 1] as Record<string, unknown>
      assert.equal(last.type, 'final')
      assert.equal(last.uploadBytes, 3_000_000)
      assert.equal(last.downloadBytes, 1_000_001)
      assert.equal(typeof last.timeSeconds, 'number')
      assert.deepEqual(final, last)
    }
    const wrong = peerIdFromPrivateKey(generateKeyPair())
    await assert.rejects(runClient({ runServer: false, serverAddress: `/memory/cli-test-1/p2p/${wrong.toString()}`, transport: 'memory', uploadBytes: 1, downloadBytes: 1, keyFile: undefined }, capture().io), PeerIdMismatchError)
  } finally {
    await server.close()
  }
})

test('--key-file gives the server a stable PeerId', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'l2n-cli-'))
  try {
    const ids: string[] = []
    for (let i = 0; i < 2; i++) {
      const c = capture()
      const server = await runServer({ runServer: true, serverAddress: '/memory/cli-key', transport: 'memory', uploadBytes: 0, downloadBytes: 0, keyFile: join(dir, 'k') }, c.io)
      ids.push(c.out().trim())
      await server.close()
    }
    assert.equal(ids[0], ids[1])
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('progress line shows totals and rates', () => {
  const line = progressLine({ elapsedSeconds: 2, uploadBytes: 250_000_000, downloadBytes: 0 }, { runServer: false, serverAddress: undefined, transport: 'memory', uploadBytes: 1 << 30, downloadBytes: 0, keyFile: undefined })
  assert.match(line, /up 238\.42 MiB\/1\.00 GiB 1\.00 Gbit\/s/)
  assert.match(line, /down 0 B\/0 B 0\.0 Mbit\/s/)
})

function runBin (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return new Promise(resolve => {
    execFile(process.execPath, [join(root, 'bin', 'libp2p-native.js'), ...args], { cwd: root, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (typeof err.code === 'number' ? err.code : -1), stdout, stderr })
    })
  })
}

test('the bin launcher runs the CLI from source: memory perf end to end, usage errors exit 2', async () => {
  const ok = await runBin(['perf', '--transport', 'memory', '--upload-bytes', '2000000', '--download-bytes', '4000000'])
  assert.equal(ok.code, 0, ok.stderr)
  const last = JSON.parse(ok.stdout.trim().split('\n').pop() as string) as Record<string, unknown>
  assert.deepEqual([last.type, last.uploadBytes, last.downloadBytes], ['final', 2000000, 4000000])
  const bad = await runBin(['perf', '--upload-bytes', '1'])
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /needs --server-address/)
  assert.equal(bad.stdout, '')
})
