/**
 * The CLI tools as users run them: `bin/libp2p-native.js ping|identify` spawned as child processes
 * against in-process TCP servers (a perf server from src/cli/perf.ts, which answers ping, and a
 * Swarm with ping and identify), and `perf --run-server --metrics` scraped over HTTP. Skipped when
 * the native addon is not built.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { multiaddr } from '@multiformats/multiaddr'
import { SwarmBuilder } from '../../src/core/swarm/builder.ts'
import { combine } from '../../src/core/combine.ts'
import { IdentifyBehaviour } from '../../src/protocols/identify/index.ts'
import { PingBehaviour } from '../../src/protocols/ping/index.ts'
import { parsePerfArgs, runServer, runClient } from '../../src/cli/perf.ts'
import { InvalidArgumentError } from '../../src/core/errors.ts'
import { addressOf } from '../helpers/swarm.ts'
import { parseOpenMetrics, scrape } from '../metrics/scrape.ts'

const addonBuilt = existsSync(new URL('../../build/Release/libp2p_native.node', import.meta.url)) || process.env.LIBP2P_NATIVE_ADDON !== undefined
const BIN = fileURLToPath(new URL('../../bin/libp2p-native.js', import.meta.url))
/** A child that has not exited after this long is killed and the test fails (tsx start-up is ~1 s). */
const CHILD_TIMEOUT_MS = 30_000

async function run (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await new Promise((resolve, reject) => {
    // From the sources: a dist/ left by an older build must not be what is tested.
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, LIBP2P_NATIVE_FROM_SOURCE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`libp2p-native ${args.join(' ')} did not exit within ${CHILD_TIMEOUT_MS} ms; stderr: ${stderr}`)) }, CHILD_TIMEOUT_MS)
    child.on('error', reject)
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

const quietIO = { stdout: { write: () => true }, stderr: { write: () => true }, live: false }

test('the launcher lists ping and identify', async () => {
  const r = await run(['--help'])
  assert.equal(r.code, 0)
  assert.match(r.stderr, /commands: .*\bping\b.*\bidentify\b/)
  const bad = await run(['ping'])
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /one multiaddr is required/)
})

test('libp2p-native ping and identify over TCP, spawned against in-process servers', { skip: !addonBuilt && 'native addon not built' }, async () => {
  const perf = await runServer(parsePerfArgs(['--run-server', '--server-address', '/ip4/127.0.0.1/tcp/0']), quietIO)
  const swarm = await SwarmBuilder.withNewIdentity().withTcp()
    .withBehaviour(key => combine({ ping: new PingBehaviour(), identify: new IdentifyBehaviour({ privateKey: key, agentVersion: 'tools-test/1' }) }))
    .build()
  await swarm.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
  try {
    const perfAddr = perf.addrs[0]?.toString() as string
    const [pingPerf, pingSwarm, identifySwarm, identifyPerf] = await Promise.all([
      run(['ping', perfAddr, '-c', '3', '-i', '50']),
      run(['ping', addressOf(swarm).toString(), '--count', '2', '--interval', '50']),
      run(['identify', addressOf(swarm).toString()]),
      run(['identify', perfAddr, '--timeout', '5000'])
    ])
    assert.equal(pingPerf.code, 0, pingPerf.stderr)
    assert.match(pingPerf.stdout, new RegExp(`^PING ${perf.addrs[0]?.getComponents().at(-1)?.value as string} `))
    assert.equal(pingPerf.stdout.match(/^32 bytes from 12D3KooW\w+: seq=\d time=\d+\.\d\d ms$/gm)?.length, 3)
    assert.match(pingPerf.stdout, /3 pings, 3 answered, 0% lost; rtt min\/avg\/max = [\d.]+\/[\d.]+\/[\d.]+ ms/)
    assert.equal(pingSwarm.code, 0, pingSwarm.stderr)
    assert.match(pingSwarm.stdout, /2 pings, 2 answered, 0% lost/)

    assert.equal(identifySwarm.code, 0, identifySwarm.stderr)
    const info = JSON.parse(identifySwarm.stdout)
    assert.equal(info.peerId, swarm.localPeerId.toString())
    assert.equal(info.agentVersion, 'tools-test/1')
    assert.ok(info.protocols.includes('/ipfs/ping/1.0.0') && info.protocols.includes('/ipfs/id/1.0.0'))
    assert.deepEqual(info.listenAddrs, swarm.listenAddresses().map(String))
    assert.equal(info.signedPeerRecord, true)
    assert.match(info.observedAddr, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+$/)

    // The perf server speaks perf and ping only.
    assert.equal(identifyPerf.code, 1)
    assert.match(identifyPerf.stderr, /does not speak identify \(\/ipfs\/id\/1\.0\.0\)/)
  } finally {
    await swarm.close()
    await perf.close()
  }
})

test('perf --metrics: parsed as a server option', () => {
  assert.deepEqual(parsePerfArgs(['--run-server', '--metrics', '127.0.0.1:9464']).metrics, { host: '127.0.0.1', port: 9464 })
  assert.deepEqual(parsePerfArgs(['--run-server', '--metrics', '[::1]:0']).metrics, { host: '::1', port: 0 })
  assert.deepEqual(parsePerfArgs(['--run-server', '--metrics', ':9000']).metrics, { host: '127.0.0.1', port: 9000 })
  assert.equal('metrics' in parsePerfArgs(['--run-server']), false)
  assert.throws(() => parsePerfArgs(['--run-server', '--metrics', 'nope']), InvalidArgumentError)
  assert.throws(() => parsePerfArgs(['--run-server', '--metrics', '1.2.3.4:99999']), InvalidArgumentError)
  assert.throws(() => parsePerfArgs(['--server-address', '1.2.3.4:1', '--metrics', ':9000']), /server option/)
})

test('perf --run-server --metrics over TCP: connections and bytes by protocol move after a perf run', { skip: !addonBuilt && 'native addon not built' }, async () => {
  const server = await runServer(parsePerfArgs(['--run-server', '--server-address', '/ip4/127.0.0.1/tcp/0', '--metrics', '127.0.0.1:0']), quietIO)
  try {
    assert.ok(server.metricsUrl !== undefined)
    const before = await scrape(server.metricsUrl)
    assert.equal(before.status, 200)
    assert.equal(before.contentType, 'application/openmetrics-text; version=1.0.0; charset=utf-8')
    const m0 = parseOpenMetrics(before.body)
    assert.equal(m0.get('libp2p_swarm_listen_addresses'), 1)
    assert.equal(m0.get('libp2p_swarm_connections_opened_total{direction="inbound",transport="tcp"}') ?? 0, 0)

    const upload = 3 * 1024 * 1024
    const download = 1024 * 1024
    await runClient(parsePerfArgs(['--server-address', server.addrs[0]?.toString() as string, '--upload-bytes', String(upload), '--download-bytes', String(download)]), quietIO)
    // The client's close reaches the server asynchronously.
    let m1 = parseOpenMetrics((await scrape(server.metricsUrl)).body)
    for (let i = 0; i < 100 && (m1.get('libp2p_swarm_connections_closed_total{cause="remote",direction="inbound",transport="tcp"}') ?? 0) < 1; i++) {
      await new Promise(resolve => setTimeout(resolve, 20))
      m1 = parseOpenMetrics((await scrape(server.metricsUrl)).body)
    }
    assert.equal(m1.get('libp2p_swarm_connections_opened_total{direction="inbound",transport="tcp"}'), 1)
    assert.equal(m1.get('libp2p_swarm_connections_closed_total{cause="remote",direction="inbound",transport="tcp"}'), 1)
    assert.equal(m1.get('libp2p_swarm_connections{direction="inbound",transport="tcp"}') ?? 0, 0)
    assert.equal(m1.get('libp2p_swarm_connection_upgrade_duration_seconds_count{direction="inbound",transport="tcp"}'), 1)
    const perfIn = m1.get('libp2p_swarm_protocol_bytes_total{direction="in",protocol="/perf/1.0.0",transport="tcp"}') ?? 0
    const perfOut = m1.get('libp2p_swarm_protocol_bytes_total{direction="out",protocol="/perf/1.0.0",transport="tcp"}') ?? 0
    assert.ok(perfIn >= upload && perfIn < upload + 4096, `perf bytes in: ${perfIn}`)
    assert.ok(perfOut >= download && perfOut < download + 4096, `perf bytes out: ${perfOut}`)
    assert.ok((m1.get('libp2p_swarm_transport_bytes_total{direction="in",transport="tcp"}') ?? 0) >= perfIn)
  } finally {
    await server.close()
  }
})
