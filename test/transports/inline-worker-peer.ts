/**
 * Child of inline.test.ts: a worker runs inline TCP transports with an echo stream kept busy, and
 * is terminated in the middle of that traffic. Records still being delivered when JS can no longer
 * run must be dropped, not turned into a fatal Napi::Error (native/binding/host.cpp deliver_batch).
 * The addon is loaded in this thread too, as an application using it on both sides would.
 */
import { Worker, isMainThread, parentPort } from 'node:worker_threads'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Connection } from '../../src/core/transport.ts'
import type { Stream } from '../../src/core/stream.ts'
import { generateKeyPair, peerIdFromPrivateKey } from '../../src/identity/index.ts'
import { StaticProtocolTable } from '../../src/utils/protocol-table.ts'
import { tcp } from '../../src/transports/tcp/index.ts'
import { loadAddon } from '../../src/native/host.ts'
import { echo } from './tcp/helpers.ts'

const ECHO = '/echo/1.0.0'

if (isMainThread) {
  loadAddon()
  const tsx = new URL('../../node_modules/tsx/dist/esm/api/index.mjs', import.meta.url).href
  const w = new Worker(`import(${JSON.stringify(tsx)}).then(async ({ register }) => { register(); await import(${JSON.stringify(import.meta.url)}) })`, { eval: true })
  w.on('error', (err) => { console.error(err); process.exit(1) })
  w.once('message', () => {
    // let the echo run a little, then terminate mid-traffic
    setTimeout(() => { void w.terminate().then(() => { console.log('terminated a busy inline worker') }) }, 200)
  })
} else {
  const node = (): ReturnType<ReturnType<typeof tcp>> => {
    const privateKey = generateKeyPair('Ed25519')
    return tcp({ ioThreads: 0 })({ privateKey, peerId: peerIdFromPrivateKey(privateKey), protocols: new StaticProtocolTable([ECHO]) })
  }
  const server = node()
  const client = node()
  const l = await server.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
  l.on('connection', (c: Connection) => { c.on('stream', (s: Stream) => { echo(s) }) })
  const conn = await client.dial(l.addrs()[0] as Multiaddr)
  const s = await conn.openStream(ECHO)
  const chunk = new Uint8Array(64 * 1024)
  s.on('data', () => {})
  parentPort?.postMessage('busy')
  for (;;) {
    if (!s.send(chunk)) await s.onDrain()
  }
}
