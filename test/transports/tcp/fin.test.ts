/**
 * Where the native transport puts a stream's FIN, seen frame by frame from a raw peer
 * (raw-peer.ts: multistream, Noise XX and Yamux written from the specs):
 * - never on a data frame: js-libp2p's Yamux handles a frame's flags before its data and drops the
 *   data of a frame carrying FIN, so FIN travels in a frame of its own after the data;
 * - for an optimistically opened stream, not before the remote confirmed the protocol
 *   (rust-libp2p's multistream-select does the same): data may go ahead, the FIN waits.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import type { Connection, Listener } from '../../../src/core/transport.ts'
import type { Stream } from '../../../src/core/stream.ts'
import { makeNode, withTimeout, type TestNode } from './helpers.ts'
import { RawPeer, YamuxFrameReader, concat, mssLine, yamuxHeader } from './raw-peer.ts'

/** Our handler writes the sizes listed in the request, then closes its writing side at once. */
const WRITE_THEN_CLOSE = '/test/write-then-close/1.0.0'
/** Where our side opens streams towards the raw peer. */
const SINK = '/test/sink/1.0.0'
const FLAG_SYN = 1
const FLAG_ACK = 2
const FLAG_FIN = 4
const TYPE_DATA = 0
const TYPE_WINDOW_UPDATE = 1
/** How long the raw peer watches for a premature FIN: our side answers a loopback frame in well under 1 ms. */
const QUIET_MS = 200
const STEP_MS = 5_000

interface Frame { type: number, flags: number, streamId: number, length: number, body: Uint8Array }

/** Reads our frames for one stream until a frame with FIN (or `until` says stop). */
async function framesOf (raw: RawPeer, reader: YamuxFrameReader, streamId: number, until: (f: Frame) => boolean): Promise<Frame[]> {
  const out: Frame[] = []
  for (;;) {
    for (const f of reader.push(await raw.readEncrypted())) {
      if (f.streamId !== streamId) continue
      out.push(f)
      if (until(f)) return out
    }
  }
}

describe('native tcp: FIN placement', () => {
  let server: TestNode
  let listener: Listener
  let port: number
  const serverConns: Connection[] = []

  before(async () => {
    server = makeNode([WRITE_THEN_CLOSE])
    listener = await server.transport.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
    listener.on('connection', (c: Connection) => {
      serverConns.push(c)
      c.on('stream', (s: Stream) => {
        s.once('data', (req: Uint8Array) => {
          // The request is a list of sizes (u32be each): one send() per size, then closeWrite().
          const v = new DataView(req.buffer, req.byteOffset, req.byteLength)
          for (let o = 0; o + 4 <= req.byteLength; o += 4) s.send(new Uint8Array(v.getUint32(o)).fill(o / 4 + 1))
          s.closeWrite().catch(() => {})
        })
      })
    })
    port = Number(listener.addrs()[0]?.toString().split('/')[4])
  })

  after(async () => {
    await server.transport.close()
  })

  async function handshaken (): Promise<{ raw: RawPeer, conn: Connection }> {
    const n = serverConns.length
    const raw = await RawPeer.connect('127.0.0.1', port)
    await raw.handshake()
    await withTimeout((async () => { while (serverConns.length === n) await new Promise(r => setTimeout(r, 2)) })(), STEP_MS, 'server connection')
    return { raw, conn: serverConns[serverConns.length - 1] as Connection }
  }

  for (const [name, sizes] of [
    ['one small write', [100]],
    ['several small writes (coalesced into one frame)', [10, 20, 30, 40]],
    ['one large write', [100_000]],
    ['small and large writes', [5, 70_000, 7]]
  ] as Array<[string, number[]]>) {
    it(`closeWrite right after ${name}: every byte in data frames without FIN, then FIN alone`, async () => {
      const { raw } = await handshaken()
      const reader = new YamuxFrameReader()
      const request = new Uint8Array(sizes.length * 4)
      sizes.forEach((n, i) => { new DataView(request.buffer).setUint32(i * 4, n) })
      const proposal = concat(mssLine('/multistream/1.0.0'), mssLine(WRITE_THEN_CLOSE), request)
      raw.sendEncrypted(concat(yamuxHeader(0, TYPE_DATA, FLAG_SYN, 1, proposal.byteLength), proposal))
      const frames = await withTimeout(framesOf(raw, reader, 1, f => (f.flags & FLAG_FIN) !== 0), STEP_MS, 'FIN from our handler')
      const fin = frames[frames.length - 1] as Frame
      assert.ok(fin.type === TYPE_WINDOW_UPDATE || fin.length === 0, `FIN frame type ${fin.type} carries ${fin.length} bytes`)
      const data = concat(...frames.filter(f => f.type === TYPE_DATA).map(f => f.body))
      // Our multistream answer (header + protocol echo), then the handler's bytes in order.
      const answer = concat(mssLine('/multistream/1.0.0'), mssLine(WRITE_THEN_CLOSE))
      assert.deepEqual(data.subarray(0, answer.byteLength), answer)
      const expected = concat(...sizes.map((n, i) => new Uint8Array(n).fill(i + 1)))
      assert.equal(data.byteLength - answer.byteLength, expected.byteLength)
      assert.deepEqual(data.subarray(answer.byteLength), expected)
      raw.close()
    })
  }

  it('an optimistic outbound stream sends its data at once but its FIN only after the protocol is confirmed', async () => {
    const { raw, conn } = await handshaken()
    const reader = new YamuxFrameReader()
    const stream = await conn.openStream(SINK)
    const payload = new Uint8Array(100).fill(9)
    stream.send(payload)
    let closed = false
    const closing = stream.closeWrite().then(() => { closed = true })
    // Proposal and data arrive without waiting for the confirmation (optimistic, V1Lazy) ...
    const expected = concat(mssLine('/multistream/1.0.0'), mssLine(SINK), payload)
    let got = new Uint8Array(0)
    const early: Frame[] = []
    let streamId = 0
    await withTimeout((async () => {
      while (got.byteLength < expected.byteLength) {
        for (const f of reader.push(await raw.readEncrypted())) {
          early.push(f)
          if (f.streamId === 0) continue
          streamId = f.streamId
          if (f.type === TYPE_DATA) got = concat(got, f.body)
        }
      }
    })(), STEP_MS, 'proposal and data')
    assert.deepEqual(got, expected)
    assert.equal(streamId % 2, 0, 'the listener side opens even stream ids')
    // ... but no FIN while the raw peer has not answered.
    const quiet = await Promise.race([
      framesOf(raw, reader, streamId, f => (f.flags & FLAG_FIN) !== 0).then(fs => fs),
      new Promise<undefined>(resolve => setTimeout(() => { resolve(undefined) }, QUIET_MS))
    ])
    const premature = [...early, ...(quiet ?? [])].filter(f => (f.flags & FLAG_FIN) !== 0)
    assert.deepEqual(premature, [], 'no FIN before the protocol is confirmed')
    assert.equal(closed, false, 'closeWrite waits for the FIN to be written')
    // The raw peer accepts the stream and confirms the protocol: now the FIN comes, in its own frame.
    const confirm = concat(mssLine('/multistream/1.0.0'), mssLine(SINK))
    raw.sendEncrypted(concat(yamuxHeader(0, TYPE_DATA, FLAG_ACK, streamId, confirm.byteLength), confirm))
    const frames = await withTimeout(framesOf(raw, reader, streamId, f => (f.flags & FLAG_FIN) !== 0), STEP_MS, 'FIN after the confirmation')
    const fin = frames[frames.length - 1] as Frame
    assert.ok(fin.type === TYPE_WINDOW_UPDATE || fin.length === 0)
    await withTimeout(closing, STEP_MS, 'closeWrite resolves')
    raw.close()
  })
})
