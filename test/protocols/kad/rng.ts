/** A seeded PRNG (xorshift32) so property tests are reproducible: a failing seed can be re-run. */
export class Rng {
  private s: number
  constructor (seed: number) { this.s = (seed >>> 0) || 0x9e3779b9 }
  /** Uniform in [0, 2^32). */
  u32 (): number {
    let x = this.s
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    this.s = x
    return x
  }
  /** Uniform integer in [0, n). */
  int (n: number): number { return Math.floor((this.u32() / 0x100000000) * n) }
  bytes (n: number): Uint8Array {
    const b = new Uint8Array(n)
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff
    return b
  }
  pick<T> (items: readonly T[]): T { return items[this.int(items.length)] as T }
  shuffle<T> (items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      const t = items[i] as T; items[i] = items[j] as T; items[j] = t
    }
    return items
  }
}
