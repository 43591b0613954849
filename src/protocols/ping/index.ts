/** Ping (`/ipfs/ping/1.0.0`): a behaviour reporting RTTs and failures, its handler, and the wire protocol. */
export { PingBehaviour, DEFAULT_PING_INTERVAL_MS, DEFAULT_PING_MAX_FAILURES, type PingConfig, type PingEvent, type PingResult } from './behaviour.ts'
export { PingHandler, type PingHandlerEvent, type PingHandlerConfig } from './handler.ts'
export { PING_PROTOCOL, PING_LENGTH, PING_TIMEOUT_MS } from './constants.ts'
export { ping, PingSession, handlePingStream } from './protocol.ts'

import { PingBehaviour, type PingConfig } from './behaviour.ts'
/** `ping({ intervalMs: 1000 })` */
export function pingBehaviour (config?: PingConfig): PingBehaviour {
  return new PingBehaviour(config)
}
