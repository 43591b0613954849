/**
 * Transports the CLI can use, by name. Each is loaded lazily, so a transport whose module is not
 * built (or not written yet) only fails when it is asked for, with an error that says so.
 */
import type { TransportFactory } from '../core/transport.ts'
import { Libp2pError } from '../core/errors.ts'

export interface TransportEntry {
  /** Module path relative to this file, without extension (.ts from source, .js from dist/). */
  module: string
  /** Name of the factory function it exports: `(options) => TransportFactory`. */
  exportName: string
}

export const TRANSPORTS: Readonly<Record<string, TransportEntry>> = {
  tcp: { module: '../transports/tcp/index', exportName: 'tcp' },
  'quic-v1': { module: '../transports/quic/index', exportName: 'quic' },
  memory: { module: '../transports/memory/index', exportName: 'memory' }
}

export class TransportUnavailableError extends Libp2pError {
  readonly transport: string
  constructor (transport: string, message: string, options?: { cause?: unknown }) {
    super('ERR_TRANSPORT_UNAVAILABLE', message, options)
    this.transport = transport
  }
}

type FactoryMaker = (options?: Record<string, unknown>) => TransportFactory

/** Loads the factory of transport `name`; throws TransportUnavailableError if it cannot be used. */
export async function loadTransport (name: string, options: Record<string, unknown> = {}, registry: Readonly<Record<string, TransportEntry>> = TRANSPORTS): Promise<TransportFactory> {
  const entry = registry[name]
  if (entry === undefined) {
    throw new TransportUnavailableError(name, `unknown transport "${name}" (known: ${Object.keys(registry).join(', ')})`)
  }
  let mod: Record<string, unknown>
  try {
    const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js'
    const specifier = new URL(entry.module + ext, import.meta.url).href
    mod = await import(specifier) as Record<string, unknown>
  } catch (err) {
    const code = (err as { code?: string }).code
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_UNSUPPORTED_DIR_IMPORT') {
      throw new TransportUnavailableError(name, `transport "${name}" is not available in this build yet: ${(err as Error).message}`, { cause: err })
    }
    throw new TransportUnavailableError(name, `transport "${name}" failed to load: ${(err as Error).message}`, { cause: err })
  }
  const make = mod[entry.exportName]
  if (typeof make !== 'function') {
    throw new TransportUnavailableError(name, `transport "${name}": ${entry.module} does not export ${entry.exportName}() yet`)
  }
  return (make as FactoryMaker)(options)
}
