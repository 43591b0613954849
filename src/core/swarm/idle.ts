/**
 * Idle-connection timing, as a pure state machine: a connection is idle when its handler does not
 * keep it alive and no outbound stream is being opened; it is closed once it has stayed idle for
 * `idleConnectionTimeout` (rust-libp2p's `with_idle_connection_timeout`). Streams the handler holds
 * do not count by themselves: a handler that needs its streams says so in `keepAlive()` (rust marks
 * such streams instead; ping's echo stream is the usual example of one that must not count).
 */

/**
 * Default idle timeout. rust-libp2p defaults to 0 (close at once when unused), which surprises
 * users who dial a peer and find the connection gone before they open a stream; js-libp2p never
 * closes idle connections and relies on its pruner. 10 s keeps a just-dialed connection long enough
 * for the first request while bounding what idle peers cost.
 */
export const DEFAULT_IDLE_CONNECTION_TIMEOUT_MS = 10_000

export class IdleTimer {
  /** Monotonic ms when the connection became idle, or undefined while kept alive. */
  private idleSince: number | undefined
  private readonly timeoutMs: number

  constructor (timeoutMs: number, now: number, initiallyKeptAlive = false) {
    this.timeoutMs = timeoutMs
    this.idleSince = initiallyKeptAlive ? undefined : now
  }

  /** Records the current keep-alive state; returns the close deadline, or undefined. */
  update (keepAlive: boolean, now: number): number | undefined {
    if (keepAlive) {
      this.idleSince = undefined
      return undefined
    }
    this.idleSince ??= now
    return this.idleSince + this.timeoutMs
  }

  get deadline (): number | undefined {
    return this.idleSince === undefined ? undefined : this.idleSince + this.timeoutMs
  }

  expired (now: number): boolean {
    return this.idleSince !== undefined && now >= this.idleSince + this.timeoutMs
  }
}
