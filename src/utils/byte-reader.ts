/**
 * Reads exact byte counts from a Stream's async iterator, keeping what is left of a chunk for the
 * next read. Chunks are passed through as views when a read falls inside one (no copy); a read
 * that spans chunks copies into a new buffer of the requested size.
 */
import type { Stream } from '../core/stream.ts'

export class ByteReader {
  private readonly it: AsyncIterator<Uint8Array>
  private pending: Uint8Array | undefined
  private done = false

  constructor (stream: Stream | AsyncIterable<Uint8Array>) {
    this.it = stream[Symbol.asyncIterator]()
  }

  /** Exactly `n` bytes, or undefined if the stream ended first (`partial` then tells how many came). */
  async readExactly (n: number): Promise<Uint8Array | undefined> {
    const head = await this.next()
    if (head === undefined) return undefined
    if (head.byteLength >= n) {
      this.pending = head.byteLength > n ? head.subarray(n) : undefined
      return head.subarray(0, n)
    }
    const out = new Uint8Array(n)
    out.set(head, 0)
    let filled = head.byteLength
    while (filled < n) {
      const chunk = await this.next()
      if (chunk === undefined) {
        this.partial = filled
        return undefined
      }
      const take = Math.min(n - filled, chunk.byteLength)
      out.set(chunk.subarray(0, take), filled)
      filled += take
      if (take < chunk.byteLength) this.pending = chunk.subarray(take)
    }
    return out
  }

  /** Bytes received before the end when the last readExactly returned undefined. */
  partial = 0

  /** The next chunk of any size (leftovers first), or undefined at the end. */
  async next (): Promise<Uint8Array | undefined> {
    if (this.pending !== undefined) {
      const p = this.pending
      this.pending = undefined
      return p
    }
    if (this.done) return undefined
    const r = await this.it.next()
    if (r.done === true) {
      this.done = true
      return undefined
    }
    return r.value
  }
}
