/**
 * Dialing: conditions (rust-libp2p's `PeerCondition`), address resolution and concurrent dialing of
 * several addresses under a limit (rust's `ConcurrentDial`). The first address to yield a
 * connection wins; the dials still running are aborted, and a connection that still arrives later
 * is closed.
 */
import type { Multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '../../identity/peer-id.ts'
import type { DialCondition } from '../behaviour.ts'
import type { Connection } from '../transport.ts'
import { AbortError, DialError } from '../errors.ts'
import { splitP2p } from './address-book.ts'
import { CODE_QUIC_V1 } from '../../utils/multiaddr.ts'

/**
 * Addresses of one peer dialed at once. rust-libp2p's `dial_concurrency_factor` defaults to 8:
 * enough to race IPv4/IPv6 and TCP/QUIC addresses, small enough not to flood a peer with sockets.
 */
export const DEFAULT_DIAL_CONCURRENCY_FACTOR = 8
/**
 * Addresses tried per dial at most. An address book or an identify message can hold many; beyond
 * this the dial is cut (js-libp2p's `maxPeerAddrsToDial` is 25).
 */
export const MAX_ADDRESSES_PER_DIAL = 25
/** Per-address dial timeout. js-libp2p and rust-libp2p (TCP connect + upgrade) both use ~10 s. */
export const DEFAULT_DIAL_TIMEOUT_MS = 10_000
/**
 * How long a dial gives its preferred (QUIC) addresses before it also starts the fallback (TCP)
 * ones, when a peer has both. RFC 8305 (Happy Eyeballs v2) recommends a 250 ms "Connection
 * Attempt Delay": far above a healthy handshake (QUIC here connects in ~1-2 ms on loopback, tens
 * of ms across the internet) and short enough that a peer behind a UDP-blocking firewall still
 * connects over TCP with little delay. 0 starts every address at once (no preference).
 */
export const DEFAULT_FALLBACK_DIAL_DELAY_MS = 250

/** Addresses the dialer prefers: QUIC, one round trip to a secure multiplexed connection. */
export function isPreferredDialAddress (addr: Multiaddr): boolean {
  return addr.getComponents().some(c => c.code === CODE_QUIC_V1)
}

/** The dial was refused by its condition; not an I/O failure. */
export class DialConditionError extends DialError {
  readonly condition: DialCondition
  constructor (condition: DialCondition, message: string) {
    super(message, 'ERR_DIAL_CONDITION')
    this.condition = condition
  }
}

export class NoAddressesError extends DialError {
  constructor (peer: string | undefined) {
    super(peer === undefined ? 'no address to dial' : `no known address for peer ${peer}`, 'ERR_NO_ADDRESSES')
  }
}

/** All addresses failed; `addressErrors` says why each did. */
export class AllAddressesFailedError extends DialError {
  readonly addressErrors: ReadonlyArray<{ address: Multiaddr, error: Error }>
  constructor (addressErrors: ReadonlyArray<{ address: Multiaddr, error: Error }>) {
    const first = addressErrors[0]?.error
    super(`all ${addressErrors.length} addresses failed${first === undefined ? '' : ` (first: ${first.message})`}`, 'ERR_ALL_ADDRESSES_FAILED', { cause: first })
    this.addressErrors = addressErrors
  }
}

/** Returns undefined when the dial may proceed, or the error that refuses it. */
export function checkDialCondition (condition: DialCondition, state: { connected: boolean, dialing: boolean }): DialConditionError | undefined {
  const refuseConnected = condition === 'disconnected' || condition === 'disconnectedAndNotDialing'
  const refuseDialing = condition === 'notDialing' || condition === 'disconnectedAndNotDialing'
  if (refuseConnected && state.connected) return new DialConditionError(condition, 'peer is already connected')
  if (refuseDialing && state.dialing) return new DialConditionError(condition, 'a dial to the peer is already in progress')
  return undefined
}

/**
 * Merges address lists in order of preference, removes duplicates and `/p2p/` suffixes, drops
 * addresses whose `/p2p/` names another peer, and keeps at most `max`.
 * Returns the peer named by the addresses' `/p2p/` when no peer was given and they agree on one.
 */
export function resolveDialAddresses (
  peerId: PeerId | undefined,
  lists: ReadonlyArray<readonly Multiaddr[]>,
  canDial: (addr: Multiaddr) => boolean,
  max = MAX_ADDRESSES_PER_DIAL
): { addresses: Multiaddr[], peerIdText: string | undefined, rejected: Array<{ address: Multiaddr, error: Error }> } {
  const seen = new Set<string>()
  const addresses: Multiaddr[] = []
  const rejected: Array<{ address: Multiaddr, error: Error }> = []
  let expected = peerId?.toString()
  for (const list of lists) {
    for (const addr of list) {
      const { address, peerIdText } = splitP2p(addr)
      if (peerIdText !== undefined) {
        if (expected === undefined) expected = peerIdText
        else if (expected !== peerIdText) {
          rejected.push({ address: addr, error: new DialError(`address names peer ${peerIdText}, not ${expected}`, 'ERR_PEER_ID_MISMATCH') })
          continue
        }
      }
      const key = address.toString()
      if (seen.has(key)) continue
      seen.add(key)
      if (!canDial(address)) {
        rejected.push({ address, error: new DialError(`no transport can dial ${key}`, 'ERR_NO_TRANSPORT') })
        continue
      }
      if (addresses.length < max) addresses.push(address)
    }
  }
  return { addresses, peerIdText: expected, rejected }
}

export interface ConcurrentDialResult {
  connection: Connection
  address: Multiaddr
  /** Addresses that failed before the winner. */
  errors: Array<{ address: Multiaddr, error: Error }>
  /** Whether the fallback addresses had been started when the winner arrived (staggered dials). */
  fallbackStarted: boolean
}

/** A staggered dial (Happy Eyeballs): preferred addresses first, the others after `delayMs`. */
export interface DialStagger {
  /** Delay before the fallback addresses start, unless every preferred one failed sooner. */
  delayMs: number
  isPreferred: (address: Multiaddr) => boolean
}

/**
 * Dials `addresses` with at most `concurrency` in flight. Resolves with the first connection;
 * rejects with `AllAddressesFailedError`, or with `AbortError` when `signal` fires.
 *
 * With `stagger`, when the addresses hold both preferred and other ones: the preferred ones are
 * dialed first (in their order), and the others start `stagger.delayMs` later, or at once when
 * every preferred attempt has failed. The concurrency limit counts attempts in flight as before;
 * a fallback address waiting for its delay does not hold a slot. The first connection wins; the
 * attempts still running are aborted, and one that still yields a connection has it closed.
 */
export async function dialConcurrently (
  addresses: readonly Multiaddr[],
  dialOne: (address: Multiaddr, signal: AbortSignal) => Promise<Connection>,
  concurrency: number,
  signal?: AbortSignal,
  stagger?: DialStagger
): Promise<ConcurrentDialResult> {
  if (addresses.length === 0) throw new AllAddressesFailedError([])
  const preferred = stagger === undefined ? [] : addresses.filter(a => stagger.isPreferred(a))
  const staggered = stagger !== undefined && stagger.delayMs > 0 && preferred.length > 0 && preferred.length < addresses.length
  const ordered = staggered ? [...preferred, ...addresses.filter(a => !(stagger as DialStagger).isPreferred(a))] : addresses
  /** Index in `ordered` of the first fallback address; addresses from here wait for the release. */
  const fallbackFrom = staggered ? preferred.length : ordered.length
  let fallbackReleased = !staggered
  let preferredFailed = 0
  let staggerTimer: ReturnType<typeof setTimeout> | undefined
  const controller = new AbortController()
  const errors: Array<{ address: Multiaddr, error: Error }> = []
  let next = 0
  let inFlight = 0
  let settled = false
  return await new Promise<ConcurrentDialResult>((resolve, reject) => {
    const finish = (): void => {
      signal?.removeEventListener('abort', onAbort)
      if (staggerTimer !== undefined) clearTimeout(staggerTimer)
    }
    const onAbort = (): void => {
      if (settled) return
      settled = true
      finish()
      controller.abort()
      reject(new AbortError('dial aborted'))
    }
    if (signal !== undefined) {
      if (signal.aborted) { onAbort(); return }
      signal.addEventListener('abort', onAbort, { once: true })
    }
    const release = (): void => {
      if (fallbackReleased || settled) return
      fallbackReleased = true
      if (staggerTimer !== undefined) clearTimeout(staggerTimer)
      launch()
    }
    const launch = (): void => {
      while (!settled && inFlight < concurrency && next < ordered.length && (fallbackReleased || next < fallbackFrom)) {
        const index = next++
        const address = ordered[index] as Multiaddr
        inFlight++
        dialOne(address, controller.signal).then(connection => {
          inFlight--
          if (settled) {
            // Lost the race: another address won or the dial was aborted.
            connection.abort(new AbortError('concurrent dial already succeeded'))
            return
          }
          settled = true
          finish()
          controller.abort()
          resolve({ connection, address, errors, fallbackStarted: staggered && fallbackReleased })
        }, (err: unknown) => {
          inFlight--
          if (settled) return
          errors.push({ address, error: err instanceof Error ? err : new Error(String(err)) })
          if (index < fallbackFrom && ++preferredFailed === fallbackFrom) {
            release()
            if (settled) return
          }
          if (inFlight === 0 && next >= ordered.length) {
            settled = true
            finish()
            reject(new AllAddressesFailedError(errors))
            return
          }
          launch()
        })
      }
    }
    if (staggered) staggerTimer = setTimeout(release, (stagger as DialStagger).delayMs)
    launch()
  })
}
