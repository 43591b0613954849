/**
 * Per-component structured logs, filtered by one environment variable in the manner of RUST_LOG:
 *   LIBP2P_LOG=info,swarm=debug,kad=trace
 * A bare level sets the default; `component=level` overrides it for a component and its
 * sub-components (`kad` covers `kad:query`). Levels: error, warn, info, debug, trace, off.
 * Logs go to stderr as JSON lines (LIBP2P_LOG_FORMAT=json, the default) or text (=text).
 *
 * A disabled level costs one boolean check: loggers expose `enabled.<level>` flags, and callers on
 * hot paths write `if (log.enabled.debug) log.debug(...)` so arguments are never built when off.
 */
export type Level = 'error' | 'warn' | 'info' | 'debug' | 'trace'
const LEVELS: readonly Level[] = ['error', 'warn', 'info', 'debug', 'trace']
const RANK: Record<Level | 'off', number> = { off: 0, error: 1, warn: 2, info: 3, debug: 4, trace: 5 }
/** Level ranks: a line of level L is written when RANK[L] <= the component's enabled rank. */
export const LEVEL_RANK: Readonly<Record<Level | 'off', number>> = RANK

export type Fields = Record<string, unknown>

export interface Logger {
  readonly component: string
  readonly enabled: Readonly<Record<Level, boolean>>
  error(msg: string, fields?: Fields): void
  warn(msg: string, fields?: Fields): void
  info(msg: string, fields?: Fields): void
  debug(msg: string, fields?: Fields): void
  trace(msg: string, fields?: Fields): void
  /** A logger for `${component}:${sub}`, filtered on its own name. */
  child(sub: string): Logger
}

export interface LogRecord { time: number, level: Level, component: string, msg: string, fields?: Fields }
export type LogSink = (record: LogRecord) => void

interface Filter { defaultRank: number, rules: Array<{ prefix: string, rank: number }> }

/** Parses a LIBP2P_LOG value; unknown level names are ignored (the rule is dropped). */
export function parseFilter (spec: string | undefined): Filter {
  const filter: Filter = { defaultRank: RANK.warn, rules: [] }
  if (spec === undefined || spec.trim() === '') return filter
  for (const part of spec.split(',')) {
    const item = part.trim()
    if (item === '') continue
    const eq = item.indexOf('=')
    if (eq < 0) {
      const rank = RANK[item as Level | 'off']
      if (rank !== undefined) filter.defaultRank = rank
      continue
    }
    const rank = RANK[item.slice(eq + 1).trim() as Level | 'off']
    if (rank !== undefined) filter.rules.push({ prefix: item.slice(0, eq).trim(), rank })
  }
  // Longest prefix first, so the most specific rule wins.
  filter.rules.sort((a, b) => b.prefix.length - a.prefix.length)
  return filter
}

function rankFor (filter: Filter, component: string): number {
  for (const rule of filter.rules) {
    if (component === rule.prefix || component.startsWith(`${rule.prefix}:`)) return rule.rank
  }
  return filter.defaultRank
}

function stderrSink (format: string): LogSink {
  if (format === 'text') {
    return (r) => {
      const extra = r.fields === undefined ? '' : ` ${JSON.stringify(r.fields, replacer)}`
      process.stderr.write(`${new Date(r.time).toISOString()} ${r.level.toUpperCase().padEnd(5)} ${r.component}: ${r.msg}${extra}\n`)
    }
  }
  return (r) => {
    process.stderr.write(`${JSON.stringify({ time: new Date(r.time).toISOString(), level: r.level, component: r.component, msg: r.msg, ...r.fields }, replacer)}\n`)
  }
}

function replacer (_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Error) return { name: value.name, message: value.message, code: (value as { code?: unknown }).code }
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON !== 'function' &&
      typeof (value as { toString?: unknown }).toString === 'function' && (value as object).constructor?.name === 'Multiaddr') {
    return String(value)
  }
  return value
}

/** A family of loggers sharing one filter and sink; tests make their own. */
export class LogConfig {
  private filter: Filter
  private sink: LogSink
  private readonly loggers = new Map<string, LoggerImpl>()
  private readonly filterListeners = new Set<() => void>()

  constructor (spec: string | undefined = process.env.LIBP2P_LOG, sink?: LogSink) {
    this.filter = parseFilter(spec)
    this.sink = sink ?? stderrSink(process.env.LIBP2P_LOG_FORMAT ?? 'json')
  }

  logger (component: string): Logger {
    let logger = this.loggers.get(component)
    if (logger === undefined) {
      logger = new LoggerImpl(this, component)
      this.loggers.set(component, logger)
    }
    return logger
  }

  /** Changes the filter at run time; existing loggers follow. */
  setFilter (spec: string): void {
    this.filter = parseFilter(spec)
    for (const logger of this.loggers.values()) logger.refresh()
    for (const listener of [...this.filterListeners]) listener()
  }

  /**
   * Calls `listener` after each setFilter (code that mirrors levels elsewhere, e.g. the native
   * I/O threads, re-reads them). Returns the function that removes it.
   */
  onFilterChange (listener: () => void): () => void {
    this.filterListeners.add(listener)
    return () => { this.filterListeners.delete(listener) }
  }

  /** The enabled rank of a component: 0 off, 1 error ... 5 trace (the numbering of LEVEL_RANK). */
  enabledRank (component: string): number {
    return rankFor(this.filter, component)
  }

  setSink (sink: LogSink): void {
    this.sink = sink
  }

  /** @internal */
  rank (component: string): number {
    return rankFor(this.filter, component)
  }

  /** @internal */
  write (record: LogRecord): void {
    this.sink(record)
  }
}

class LoggerImpl implements Logger {
  readonly component: string
  readonly enabled: Record<Level, boolean> = { error: false, warn: false, info: false, debug: false, trace: false }
  private readonly config: LogConfig

  constructor (config: LogConfig, component: string) {
    this.config = config
    this.component = component
    this.refresh()
  }

  refresh (): void {
    const rank = this.config.rank(this.component)
    for (const level of LEVELS) this.enabled[level] = RANK[level] <= rank
  }

  private log (level: Level, msg: string, fields?: Fields): void {
    if (!this.enabled[level]) return
    this.config.write(fields === undefined
      ? { time: Date.now(), level, component: this.component, msg }
      : { time: Date.now(), level, component: this.component, msg, fields })
  }

  error (msg: string, fields?: Fields): void { this.log('error', msg, fields) }
  warn (msg: string, fields?: Fields): void { this.log('warn', msg, fields) }
  info (msg: string, fields?: Fields): void { this.log('info', msg, fields) }
  debug (msg: string, fields?: Fields): void { this.log('debug', msg, fields) }
  trace (msg: string, fields?: Fields): void { this.log('trace', msg, fields) }

  child (sub: string): Logger {
    return this.config.logger(`${this.component}:${sub}`)
  }
}

/** The process-wide configuration read from LIBP2P_LOG; libraries may be given another. */
export const defaultLogConfig = new LogConfig()

/** Logger for a component under the process-wide configuration. */
export function logger (component: string): Logger {
  return defaultLogConfig.logger(component)
}
