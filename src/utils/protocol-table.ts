/**
 * A plain ProtocolTable for code that runs without a Swarm (the perf CLI, transport tests): a set
 * of protocol ids with add/remove, emitting 'change' as the Swarm's table does.
 */
import { EventEmitter } from 'node:events'
import type { ProtocolTable } from '../core/transport.ts'

export class StaticProtocolTable extends EventEmitter implements ProtocolTable {
  private readonly protocols = new Set<string>()
  private cached: readonly string[] | undefined

  constructor (protocols: Iterable<string> = []) {
    super()
    for (const p of protocols) this.protocols.add(p)
  }

  list (): readonly string[] {
    this.cached ??= Object.freeze([...this.protocols])
    return this.cached
  }

  has (protocol: string): boolean {
    return this.protocols.has(protocol)
  }

  add (protocol: string): void {
    if (this.protocols.has(protocol)) return
    this.protocols.add(protocol)
    this.cached = undefined
    this.emit('change')
  }

  remove (protocol: string): void {
    if (!this.protocols.delete(protocol)) return
    this.cached = undefined
    this.emit('change')
  }
}
