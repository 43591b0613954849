/**
 * NativeHost's 'microtask' flush: a stream open and the first send that follows its await (a
 * microtask hop) reach native in ONE submit, one wake-up of the I/O thread, rather than one each.
 * The setup trace (bench/perf/setup-trace.ts) had the client's stream open and its first send as
 * two submits 40-55 us apart, and QUIC sent them in two packets. Other commands still go out at
 * the first microtask after them. Counted by wrapping the addon host's submit(). Also: openStream's protocol list
 * is encoded once per distinct list (submit lends the buffer: native copies it).
 */
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { NativeHost, type AddonHost } from '../../src/native/host.ts'
import { Op } from '../../src/native/protocol.ts'
import { buildNoisePayload, generateKeyPair, generateNoiseStaticKeyPair } from '../../src/identity/index.ts'

function makeHost (threads: number, flush: 'microtask' | 'immediate'): { host: NativeHost, submits: number[], batches: Array<{ words: Uint32Array, buffers: Array<Uint8Array | undefined> }> } {
  const statics = generateNoiseStaticKeyPair()
  const host = new NativeHost({
    threads,
    staticSecret: statics.secretKey,
    staticPublic: statics.publicKey,
    payload: buildNoisePayload(generateKeyPair('Ed25519'), statics.publicKey, ['/yamux/1.0.0']),
    maxStreamWindow: 16 * 1024 * 1024,
    flush
  })
  const addon = (host as unknown as { host: AddonHost }).host
  const submits: number[] = []
  const batches: Array<{ words: Uint32Array, buffers: Array<Uint8Array | undefined> }> = []
  const submit = addon.submit.bind(addon)
  // The method is a read-only property of the native class: shadow it on the instance.
  Object.defineProperty(addon, 'submit', {
    value: (words: Uint32Array, count: number, buffers: Array<Uint8Array | undefined>): number => {
      submits.push(count)
      batches.push({ words: words.slice(0, count * 8), buffers: [...buffers] })
      return submit(words, count, buffers)
    }
  })
  return { host, submits, batches }
}

const turn = async (): Promise<void> => { await new Promise<void>(resolve => setImmediate(resolve)) }
const hop = async (): Promise<string> => 'resolved'

const data = new Uint8Array([1])
// A connection id native does not know: it refuses the commands, which is not the point here.
const CONN = 54321

for (const threads of [1, 0]) {
  it(`a stream open and the send after its await go out in one submit (threads ${threads})`, async () => {
    const { host, submits } = makeHost(threads, 'microtask')
    try {
      await turn()
      submits.length = 0
      // As a dialer does: `const s = await conn.openStream(p); s.send(x)` (awaits are microtask hops).
      host.openStream(CONN, 1, ['/a/1.0.0'])
      await hop()
      await Promise.resolve()
      host.send(CONN, 1, data)
      assert.deepEqual(submits, [], 'submitted at the next microtask, not inside send()')
      await turn()
      assert.deepEqual(submits, [2])
      // Started from a microtask (as when a native delivery resolves a dial): the same.
      await new Promise<void>((resolve) => {
        queueMicrotask(() => {
          host.openStream(CONN, 2, ['/a/1.0.0'])
          void hop().then(() => { host.send(CONN, 2, data); resolve() })
        })
      })
      await turn()
      assert.deepEqual(submits, [2, 2])
      // An open that no send follows still goes out, once the microtasks have drained.
      host.openStream(CONN, 3, ['/a/1.0.0'])
      await turn()
      assert.deepEqual(submits, [2, 2, 1])
      // Other commands are submitted at the first microtask after them, as before: a reply sent
      // from a loop is not held back by the JS that runs after it.
      host.send(CONN, 2, data)
      await hop()
      await Promise.resolve()
      host.send(CONN, 2, data)
      await turn()
      assert.deepEqual(submits, [2, 2, 1, 1, 1])
      // A turn that queues nothing submits nothing.
      await turn()
      assert.deepEqual(submits, [2, 2, 1, 1, 1])
    } finally {
      host.close()
    }
  })
}

for (const threads of [1, 0]) {
  it(`a connection release rides with the next submit, or goes alone within LAZY_FLUSH_MS (threads ${threads})`, async () => {
    const { host, submits, batches } = makeHost(threads, 'microtask')
    try {
      await turn()
      submits.length = 0
      batches.length = 0
      // Released after its close record, as dispatch does: no submit (no I/O-thread wake-up) of its own.
      host.releaseConnection(CONN)
      await turn()
      await turn()
      assert.deepEqual(submits, [], 'a release alone waits')
      // The next command that is waited for takes it along, in order.
      host.send(CONN, 1, data)
      await turn()
      assert.deepEqual(submits, [2])
      const ops = (b: { words: Uint32Array }): number[] => Array.from({ length: b.words.length / 8 }, (_, i) => b.words[i * 8] as number)
      assert.deepEqual(ops(batches[0] as { words: Uint32Array }), [Op.releaseConn, Op.send])
      // Alone, it still goes out: bounded by the timer (20 ms), not left until some later command.
      host.releaseConnection(CONN + 1)
      await new Promise(resolve => setTimeout(resolve, 60))
      assert.deepEqual(submits, [2, 1])
      // close() submits what is queued before the threads stop.
      host.releaseConnection(CONN + 2)
      host.close()
      assert.deepEqual(submits, [2, 1, 1])
    } finally {
      host.close()
    }
  })
}

it("'immediate' flush still submits once per turn of the event loop", async () => {
  const { host, submits } = makeHost(1, 'immediate')
  try {
    await turn()
    submits.length = 0
    host.openStream(CONN, 1, ['/a/1.0.0'])
    await hop()
    host.send(CONN, 1, data)
    await turn()
    await turn()
    assert.deepEqual(submits, [2])
  } finally {
    host.close()
  }
})

it('openStream encodes each protocol list once and names the right list in every command', async () => {
  const { host, batches } = makeHost(1, 'microtask')
  try {
    await turn()
    batches.length = 0
    // Streams of a connection that does not exist: native refuses them, which is not the point here.
    const lists = [['/a/1.0.0'], ['/b/1.0.0', '/a/1.0.0'], ['/a/1.0.0'], ['/b/1.0.0'], ['/b/1.0.0', '/a/1.0.0']]
    lists.forEach((list, i) => { host.openStream(CONN, 100 + i, list) })
    await turn()
    assert.equal(batches.length, 1)
    const { words, buffers } = batches[0] as { words: Uint32Array, buffers: Array<Uint8Array | undefined> }
    const seen = lists.map((_, i) => buffers[words[i * 8 + 3] as number] as Uint8Array)
    assert.deepEqual(seen.map(b => new TextDecoder().decode(b)), lists.map(l => l.join('\n')))
    assert.equal(seen[0], seen[2], 'the same list reuses its bytes')
    assert.equal(seen[1], seen[4])
    assert.notEqual(seen[0], seen[3])
  } finally {
    host.close()
  }
})
