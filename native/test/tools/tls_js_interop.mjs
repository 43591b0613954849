// Interop check of the native /tls/1.0.0 engine (l2n::tls::Session) against js-libp2p's
// @libp2p/tls (the version in node_modules), before the I/O layer exists: builds
// tls_interop_driver.cpp with our tls/identity/crypto sources and runs it against Node's TLS 1.3
// with @libp2p/tls's own certificate generation (generateCertificate) and verification
// (verifyPeerCertificate) and the options its TLS class uses (TLS 1.3 only, ALPN with an early
// muxer before "libp2p", client certificate required), over the child's stdin/stdout. Both sides
// offer /yamux/1.0.0, so ALPN must settle on it (early muxer negotiation).
// Cases: both roles, then a wrong expected PeerId on each side.
// Run: node native/test/tools/tls_js_interop.mjs   (exit code 0 when every case passes)
import { execFileSync, spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { Duplex } from 'node:stream'
import { TLSSocket, connect } from 'node:tls'
import { generateKeyPair, privateKeyFromRaw, publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromPublicKey } from '@libp2p/peer-id'

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..')
const { generateCertificate, verifyPeerCertificate } = await import(path.join(root, 'node_modules/@libp2p/tls/dist/src/utils.js'))

const out = path.join(root, 'build-tls-interop')
fs.mkdirSync(out, { recursive: true })
const srcs = ['crypto', 'identity', 'tls'].flatMap((d) =>
  fs.readdirSync(path.join(root, 'native/core', d)).filter((f) => f.endsWith('.cpp')).map((f) => path.join(root, 'native/core', d, f)))
const bin = path.join(out, 'tls_interop_driver')
const pc = execFileSync('pkg-config', ['--cflags', '--libs', 'gnutls', 'openssl', 'libsodium', 'hogweed', 'nettle', 'gmp']).toString().trim().split(/\s+/)
execFileSync('c++', ['-std=c++20', '-O1', '-I', path.join(root, 'native/include'), '-I', path.join(root, 'native'),
  path.join(root, 'native/test/tools/tls_interop_driver.cpp'), ...srcs, ...pc, '-o', bin], { stdio: 'inherit' })

const hex = (u8) => Buffer.from(u8).toString('hex')
const SEED = 7
// The native side's identity: Ed25519 from a seed of 32 x SEED (libsodium's seed keypair = RFC 8032).
const nativePublic = crypto.createPublicKey(crypto.createPrivateKey({
  key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.alloc(32, SEED)]), format: 'der', type: 'pkcs8'
})).export({ format: 'der', type: 'spki' }).subarray(12)
const nativePeer = peerIdFromPublicKey(publicKeyFromRaw(nativePublic))

async function runCase ({ name, nativeRole, nativeExpects, jsExpects, wantOk }) {
  const jsKey = await generateKeyPair('Ed25519')
  const jsPeer = peerIdFromPrivateKey(jsKey)
  const expectedHex = nativeExpects === 'js' ? hex(jsPeer.toMultihash().bytes) : nativeExpects === 'wrong' ? hex(peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toMultihash().bytes) : '-'
  const child = spawn(bin, [nativeRole, expectedHex, String(SEED)], { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d) => { stderr += d })
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)))

  const duplex = new Duplex({
    read () {},
    write (chunk, _enc, cb) { child.stdin.write(chunk, cb) },
    final (cb) { child.stdin.end(); cb() }
  })
  child.stdout.on('data', (d) => duplex.push(d))
  child.stdout.on('end', () => duplex.push(null))
  child.stdin.on('error', () => {})

  const isServer = nativeRole === 'client'
  const opts = {
    ...await generateCertificate(jsKey),
    isServer,
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    rejectUnauthorized: false,
    ALPNProtocols: ['/yamux/1.0.0', 'libp2p']
  }
  const socket = isServer
    // @libp2p/tls's server choice: the first offered protocol that is one of its muxers, else libp2p.
    ? new TLSSocket(duplex, { ...opts, requestCert: true, ALPNCallback: ({ protocols }) => protocols.find((p) => p === '/yamux/1.0.0') ?? (protocols.includes('libp2p') ? 'libp2p' : undefined) })
    : connect({ socket: duplex, ...opts })
  const result = await new Promise((resolve) => {
    let received = ''
    let verified = null
    // Success ends gracefully (our message is flushed first; the driver exits once it has it);
    // failure tears everything down.
    const finish = (r) => {
      if (r.ok) socket.end()
      else { socket.destroy(); child.stdin.end() }
      resolve(r)
    }
    const check = () => {
      if (received === 'hello from native' && verified) finish({ ok: true, verified, received, alpn: socket.alpnProtocol })
    }
    socket.on('error', (err) => finish({ ok: false, err: String(err) }))
    socket.on(isServer ? 'secure' : 'secureConnect', async () => {
      try {
        const want = jsExpects === 'native' ? nativePeer : jsExpects === 'wrong' ? peerIdFromPrivateKey(await generateKeyPair('Ed25519')) : undefined
        verified = await verifyPeerCertificate(new Uint8Array(socket.getPeerCertificate().raw), want)
        socket.write('hello from js')
        check()  // our message may have arrived while the certificate was being verified
      } catch (err) {
        finish({ ok: false, err: String(err) })
      }
    })
    socket.on('data', (d) => {
      received += d.toString()
      check()
    })
    setTimeout(() => finish({ ok: false, err: 'timeout' }), 5000)
  })
  const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => { child.kill(); resolve('killed') }, 3000))])
  // Both sides offer /yamux/1.0.0 before libp2p, so ALPN settles the muxer (early negotiation).
  const nativeOk = code === 0 && stderr.includes(`peer ${hex(jsPeer.toMultihash().bytes)}`) && stderr.includes('muxer /yamux/1.0.0') && stderr.includes('received hello from js')
  const jsOk = result.ok && result.verified.equals(nativePeer) && result.alpn === '/yamux/1.0.0'
  const pass = wantOk ? (nativeOk && jsOk) : (!nativeOk && !jsOk)
  console.log(`${pass ? 'ok  ' : 'FAIL'} ${name}: native exit ${code}, ${stderr.trim().replace(/\n/g, ' | ')}; js ${result.ok ? `peer ${result.verified} alpn ${result.alpn}` : result.err}`)
  return pass
}

const cases = [
  { name: 'native client -> js server', nativeRole: 'client', nativeExpects: 'js', jsExpects: 'none', wantOk: true },
  { name: 'js client -> native server', nativeRole: 'server', nativeExpects: 'none', jsExpects: 'native', wantOk: true },
  { name: 'native client expects another peer', nativeRole: 'client', nativeExpects: 'wrong', jsExpects: 'none', wantOk: false },
  { name: 'js client expects another peer', nativeRole: 'server', nativeExpects: 'none', jsExpects: 'wrong', wantOk: false }
]
let failed = 0
for (const c of cases) if (!await runCase(c)) failed++
console.log(`${cases.length - failed} passed, ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)
