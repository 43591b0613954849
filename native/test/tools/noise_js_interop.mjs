// Interop check of the native Noise engine against js-libp2p's (@chainsafe/libp2p-noise, the
// version in node_modules), before the I/O layer exists: builds noise_interop_driver.cpp with our
// crypto/identity/noise sources and runs it against the JS handshake over pipes, both roles, then
// one transport message each way, plus a dial whose expected PeerId is wrong on each side.
// Run: node native/test/tools/noise_js_interop.mjs   (exit code 0 when every case passes)
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromPublicKey } from '@libp2p/peer-id'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { logger } from '@libp2p/logger'
import { Uint8ArrayList } from 'uint8arraylist'

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..')
const noiseDir = path.join(root, 'node_modules/@chainsafe/libp2p-noise/dist/src')
const { performHandshakeInitiator, performHandshakeResponder } = await import(path.join(noiseDir, 'performHandshake.js'))
const { defaultCrypto } = await import(path.join(noiseDir, 'crypto/index.js'))
const { wrapCrypto } = await import(path.join(noiseDir, 'crypto.js'))
const noiseCrypto = wrapCrypto(defaultCrypto)  // what the Noise class hands to the handshake

const out = path.join(root, 'build-noise-interop')
fs.mkdirSync(out, { recursive: true })
const srcs = ['crypto', 'identity', 'noise'].flatMap((d) =>
  fs.readdirSync(path.join(root, 'native/core', d)).filter((f) => f.endsWith('.cpp')).map((f) => path.join(root, 'native/core', d, f)))
const bin = path.join(out, 'noise_interop_driver')
const pc = execFileSync('pkg-config', ['--cflags', '--libs', 'openssl', 'libsodium']).toString().trim().split(/\s+/)
execFileSync('c++', ['-std=c++20', '-O1', '-I', path.join(root, 'native/include'), '-I', path.join(root, 'native'),
  path.join(root, 'native/test/tools/noise_interop_driver.cpp'), ...srcs, ...pc, '-o', bin], { stdio: 'inherit' })

const hex = (u8) => Buffer.from(u8).toString('hex')
const SEED = 9
// Our identity as the JS side sees it: Ed25519 from a seed of 32 x SEED.
const nativePublic = (await import('node:crypto')).createPublicKey((await import('node:crypto')).createPrivateKey({
  key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.alloc(32, SEED)]), format: 'der', type: 'pkcs8'
})).export({ format: 'der', type: 'spki' }).subarray(12)
const nativePeer = peerIdFromPublicKey(publicKeyFromRaw(nativePublic))

// A message-oriented connection over the child's pipes: u16be-framed messages.
function pipeConnection (child) {
  let buf = Buffer.alloc(0)
  const waiters = []
  const pump = () => {
    while (waiters.length > 0 && buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
      const n = buf.readUInt16BE(0)
      const msg = buf.subarray(2, 2 + n)
      buf = buf.subarray(2 + n)
      waiters.shift().resolve(new Uint8ArrayList(new Uint8Array(msg)))  // what lpStream yields
    }
  }
  child.stdout.on('data', (d) => { buf = Buffer.concat([buf, d]); pump() })
  child.stdout.on('end', () => { while (waiters.length) waiters.shift().reject(new Error('native side closed')) })
  return {
    read: () => new Promise((resolve, reject) => { waiters.push({ resolve, reject }); pump() }),
    write: async (msg) => {
      const bytes = msg.subarray ? msg.subarray() : msg
      const len = Buffer.alloc(2)
      len.writeUInt16BE(bytes.byteLength)
      child.stdin.write(Buffer.concat([len, Buffer.from(bytes)]))
    }
  }
}

async function runCase (name, { nativeRole, nativeExpects, jsExpects, expectOk }) {
  const jsKey = await generateKeyPair('Ed25519')
  const jsPeer = peerIdFromPrivateKey(jsKey)
  const expected = nativeExpects === 'right' ? hex(jsPeer.toMultihash().bytes)
    : nativeExpects === 'wrong' ? hex(peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toMultihash().bytes) : '-'
  const child = spawn(bin, [nativeRole, expected, String(SEED)], { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d) => { stderr += d })
  const exited = new Promise((resolve) => child.on('close', (code) => resolve(code)))
  const connection = pipeConnection(child)
  const init = {
    log: logger('interop'), connection, crypto: noiseCrypto, privateKey: jsKey, prologue: new Uint8Array(0),
    s: defaultCrypto.generateX25519KeyPair(),
    remoteIdentityKey: jsExpects === 'wrong' ? (await generateKeyPair('Ed25519')).publicKey : undefined,
    extensions: { streamMuxers: ['/yamux/1.0.0'], webtransportCerthashes: [] }
  }
  let jsError = null
  let result = null
  try {
    result = nativeRole === 'initiator' ? await performHandshakeResponder(init) : await performHandshakeInitiator(init)
    const frame = await connection.read()
    const text = Buffer.from(result.decrypt(frame).subarray()).toString()
    await connection.write(result.encrypt(new TextEncoder().encode('echo: ' + text)))
  } catch (e) {
    jsError = e
    if (process.env.DEBUG_INTEROP) console.error(e)
    child.stdin.end()
  }
  const code = await exited
  const lines = stderr.trim()
  let ok
  if (expectOk) {
    ok = code === 0 && jsError === null &&
      lines.includes(`peer ${hex(jsPeer.toMultihash().bytes)}`) && lines.includes('muxers /yamux/1.0.0') &&
      lines.includes(`received echo: hello from native ${nativeRole}`) &&
      result.payload.identityKey && hex(peerIdFromPublicKey(publicKeyFromRaw(result.payload.identityKey.subarray(4))).toMultihash().bytes) === hex(nativePeer.toMultihash().bytes) &&
      result.payload.extensions?.streamMuxers?.[0] === '/yamux/1.0.0'
  } else {
    ok = code !== 0 || jsError !== null
  }
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}: native exit ${code}, js ${jsError ? 'error ' + jsError.name : 'ok'}; ${lines.replace(/\n/g, ' | ')}`)
  return ok
}

let failed = 0
for (const [name, c] of [
  ['native initiator -> js responder', { nativeRole: 'initiator', nativeExpects: 'right', expectOk: true }],
  ['js initiator -> native responder', { nativeRole: 'responder', nativeExpects: 'none', expectOk: true }],
  ['native initiator expects another peer', { nativeRole: 'initiator', nativeExpects: 'wrong', expectOk: false }],
  ['js initiator expects another peer', { nativeRole: 'responder', nativeExpects: 'none', jsExpects: 'wrong', expectOk: false }]
]) {
  if (!await runCase(name, c)) failed++
}
process.exit(failed === 0 ? 0 : 1)
