// Interop check of the native QUIC engine (l2n/quic.h + libp2p TLS) against js-libp2p 3 with
// @chainsafe/libp2p-quic 2.1.1 (quinn + rustls libp2p-tls through napi), before the I/O layer
// exists: builds quic_interop_driver.cpp (engine + multistream-select on a plain UDP socket) and
// runs /ipfs/ping/1.0.0 both ways, then a wrong expected PeerId on each side.
// Run: node --import tsx native/test/tools/quic_js_interop.mjs   (exit 0 when every case passes;
// tsx because it loads test/helpers/polyfill.ts for Promise.withResolvers on Node 20)
import '../../../test/helpers/polyfill.ts'
import { execFileSync, spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { createLibp2p } from 'libp2p'
import { quic } from '@chainsafe/libp2p-quic'
import { ping } from '@libp2p/ping'
import { generateKeyPair, publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromPublicKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..')
const out = path.join(root, 'build-quic-interop')
fs.mkdirSync(out, { recursive: true })
const srcs = ['crypto', 'identity', 'tls', 'quic', 'multistream'].flatMap((d) =>
  fs.readdirSync(path.join(root, 'native/core', d)).filter((f) => f.endsWith('.cpp')).map((f) => path.join(root, 'native/core', d, f)))
const bin = path.join(out, 'quic_interop_driver')
const pc = execFileSync('pkg-config', ['--cflags', '--libs', 'libngtcp2', 'libngtcp2_crypto_gnutls', 'gnutls', 'openssl', 'libsodium', 'hogweed', 'nettle', 'gmp']).toString().trim().split(/\s+/)
execFileSync('c++', ['-std=c++20', '-O1', '-I', path.join(root, 'native/include'), '-I', path.join(root, 'native'),
  path.join(root, 'native/test/tools/quic_interop_driver.cpp'), ...srcs, ...pc, '-o', bin], { stdio: 'inherit' })

const hex = (u8) => Buffer.from(u8).toString('hex')
const SEED = 5
const nativePublic = crypto.createPublicKey(crypto.createPrivateKey({
  key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.alloc(32, SEED)]), format: 'der', type: 'pkcs8'
})).export({ format: 'der', type: 'spki' }).subarray(12)
const nativePeer = peerIdFromPublicKey(publicKeyFromRaw(nativePublic))

async function jsNode () {
  return createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: ['/ip4/127.0.0.1/udp/0/quic-v1'] },
    transports: [quic()],
    services: { ping: ping() },
    connectionManager: { inboundConnectionThreshold: 1_000_000 }
  })
}

function driver (args) {
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  const lines = []
  const waiters = []
  child.stderr.on('data', (d) => {
    stderr += d
    for (const l of d.toString().split('\n').filter(Boolean)) { lines.push(l); for (const w of [...waiters]) w() }
  })
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)))
  const waitLine = (prefix) => new Promise((resolve, reject) => {
    const check = () => { const l = lines.find((x) => x.startsWith(prefix)); if (l) { resolve(l); return true } return false }
    if (check()) return
    const w = () => { if (check()) waiters.splice(waiters.indexOf(w), 1) }
    waiters.push(w)
    setTimeout(() => reject(new Error(`no "${prefix}" from driver: ${stderr}`)), 10000)
  })
  return { child, exited, waitLine, stderr: () => stderr.trim().replace(/\n/g, ' | ') }
}

const withTimeout = (p, ms) => Promise.race([p, new Promise((resolve) => setTimeout(() => resolve('timeout'), ms))])

async function nativeDials ({ wrongPeer }) {
  const node = await jsNode()
  const [, host, port] = node.getMultiaddrs()[0].toString().match(/^\/ip4\/([^/]+)\/udp\/(\d+)\/quic-v1/)
  const expect = wrongPeer ? hex(peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toMultihash().bytes) : hex(node.peerId.toMultihash().bytes)
  const d = driver(['dial', host, String(port), expect, String(SEED), '3'])
  const code = await withTimeout(d.exited, 15000)
  const sawNative = node.getConnections().some((c) => c.remotePeer.equals(nativePeer)) || code === 0
  await node.stop()
  return { code, log: d.stderr(), sawNative }
}

async function jsDials ({ wrongPeer }) {
  const node = await jsNode()
  const d = driver(['listen', String(SEED)])
  const port = Number((await d.waitLine('listening ')).split(' ')[1])
  const target = wrongPeer ? peerIdFromPrivateKey(await generateKeyPair('Ed25519')) : nativePeer
  let rtts = []
  let err = null
  try {
    const ma = multiaddr(`/ip4/127.0.0.1/udp/${port}/quic-v1/p2p/${target}`)
    for (let i = 0; i < 3; i++) rtts.push(await node.services.ping.ping(ma, { signal: AbortSignal.timeout(5000) }))
  } catch (e) {
    err = e
  }
  await node.stop()
  const code = await withTimeout(d.exited, 5000)
  if (code === 'timeout') d.child.kill()
  return { rtts, err, log: d.stderr() }
}

let failed = 0
const report = (ok, name, detail) => { if (!ok) failed++; console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`) }

{
  const r = await nativeDials({ wrongPeer: false })
  report(r.code === 0 && /ping ok 3/.test(r.log), 'native dials js, 3 pings', `exit ${r.code}; ${r.log}`)
}
{
  const r = await jsDials({ wrongPeer: false })
  report(r.err === null && r.rtts.length === 3 && r.log.includes(`peer `), 'js dials native, 3 pings', `rtts ${r.rtts.join(',')} ms; ${r.err ?? ''}; native: ${r.log}`)
}
{
  const r = await nativeDials({ wrongPeer: true })
  report(r.code !== 0 && /closed certificate rejected peer id mismatch/.test(r.log), 'native dials js expecting another peer', `exit ${r.code}; ${r.log}`)
}
{
  const r = await jsDials({ wrongPeer: true })
  report(r.err !== null && r.rtts.length === 0, 'js dials native expecting another peer', `${r.err}; native: ${r.log}`)
}
console.log(`${4 - failed} passed, ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)
