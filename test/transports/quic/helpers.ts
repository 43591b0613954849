/** Shared pieces of the native QUIC tests: live traffic to watch during bad input, genuine Initials to replay. */
import { randomBytes } from 'node:crypto'
import { createSocket, type Socket } from 'node:dgram'
import { multiaddr } from '@multiformats/multiaddr'
import type { Stream } from '../../../src/core/stream.ts'
import { quic } from '../../../src/transports/quic/index.ts'
import { makeContext } from '../../helpers/node-context.ts'
import { withTimeout } from '../tcp/helpers.ts'

/** Bound on one step; a healthy one takes milliseconds. */
export const STEP_MS = 5000

export async function until (cond: () => boolean, what: string): Promise<void> {
  await withTimeout((async () => { while (!cond()) await new Promise(r => setTimeout(r, 2)) })(), STEP_MS, what)
}

/** Ping-pong of random 4 KiB messages on one echo stream, each reply checked byte for byte. */
export class Traffic {
  rounds = 0
  private stopping = false
  readonly done: Promise<void>

  constructor (stream: Stream) {
    this.done = this.run(stream)
    this.done.catch(() => {})  // awaited in stop(); a failure must not go unhandled meanwhile
  }

  private async run (stream: Stream): Promise<void> {
    const it = stream[Symbol.asyncIterator]()
    while (!this.stopping) {
      const payload = randomBytes(4096)
      stream.send(payload)
      const parts: Buffer[] = []
      let got = 0
      while (got < payload.length) {
        const r = await it.next()
        if (r.done === true) throw new Error('echo stream ended early')
        parts.push(Buffer.from(r.value))
        got += r.value.byteLength
      }
      if (!Buffer.concat(parts).equals(payload)) throw new Error(`echo ${this.rounds} corrupted`)
      this.rounds++
      await new Promise(r => setTimeout(r, 2))
    }
    await stream.closeWrite()
  }

  /** Resolves after `n` more round trips (rejects if the stream failed). */
  async more (n: number, what: string): Promise<void> {
    const target = this.rounds + n
    await withTimeout(Promise.race([this.done.then(() => { throw new Error('traffic stopped') }), until(() => this.rounds >= target, what)]), STEP_MS, what)
  }

  async stop (): Promise<void> {
    this.stopping = true
    await withTimeout(this.done, STEP_MS, 'traffic stops')
  }
}

/** A UDP socket bound to an ephemeral port on 127.0.0.1. */
export async function bound (type: 'udp4'): Promise<Socket> {
  const s = createSocket(type)
  await new Promise<void>(resolve => { s.bind(0, '127.0.0.1', resolve) })
  return s
}

/**
 * First Initial of each of `n` dials to a recording socket, keyed by destination connection id:
 * genuine Initials (each with a fresh destination connection id) to replay or damage.
 */
export async function recordInitials (n: number): Promise<Buffer[]> {
  const trap = await bound('udp4')
  const port = trap.address().port
  const byDcid = new Map<string, Buffer>()
  trap.on('message', (msg: Buffer) => {
    // long header, v1, type Initial (bits 4-5 = 00), at least 1200 bytes (RFC 9000 14.1)
    if (msg.length < 1200 || ((msg[0] as number) & 0xf0) !== 0xc0 || msg.readUInt32BE(1) !== 1) return
    const dcid = msg.subarray(6, 6 + (msg[5] as number)).toString('hex')
    if (!byDcid.has(dcid)) byDcid.set(dcid, Buffer.from(msg))
  })
  // An I/O thread of its own: inline (ioThreads 0) this thread would send all n Initials before it
  // reads any, and the trap's receive buffer (rmem_default) holds about 90 of them.
  const dialer = quic({ handshakeTimeoutMs: 500, ioThreads: 1 })(makeContext())
  const dials = Array.from({ length: n }, async () => await dialer.dial(multiaddr(`/ip4/127.0.0.1/udp/${port}/quic-v1`)).catch(() => undefined))
  await Promise.all(dials)
  await dialer.close()
  trap.close()
  return [...byDcid.values()]
}
