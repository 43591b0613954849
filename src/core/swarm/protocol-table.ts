/**
 * The node's ProtocolTable: the union of the inbound protocols of every live connection handler,
 * reference-counted per protocol. Transports negotiate inbound streams against it (native ones
 * mirror it on 'change'), so a protocol is accepted exactly while some handler declares it.
 */
import { EventEmitter } from 'node:events'
import type { ProtocolTable } from '../transport.ts'

export class RefCountedProtocolTable extends EventEmitter implements ProtocolTable {
  private readonly counts = new Map<string, number>()
  private cached: readonly string[] | undefined

  list (): readonly string[] {
    this.cached ??= Object.freeze([...this.counts.keys()])
    return this.cached
  }

  has (protocol: string): boolean {
    return this.counts.has(protocol)
  }

  /** Applies a handler's change of protocols from `before` to `after`; emits 'change' if the union changed. */
  update (before: readonly string[], after: readonly string[]): void {
    if (before === after) return
    let changed = false
    for (const p of after) {
      const n = this.counts.get(p) ?? 0
      this.counts.set(p, n + 1)
      if (n === 0) changed = true
    }
    for (const p of before) {
      const n = this.counts.get(p)
      if (n === undefined) continue
      if (n <= 1) {
        this.counts.delete(p)
        changed = true
      } else {
        this.counts.set(p, n - 1)
      }
    }
    if (changed) {
      this.cached = undefined
      this.emit('change', this.list())
    }
  }
}
