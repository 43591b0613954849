/**
 * Multiaddr helpers on @multiformats/multiaddr: the `/p2p/<id>` suffix, IP and port conversions,
 * and the address forms the perf CLI accepts (`1.2.3.4:4001`, `[::1]:4001`, a full multiaddr).
 */
import { multiaddr, type Multiaddr, type Component } from '@multiformats/multiaddr'
import { isIPv4, isIPv6 } from 'node:net'
import { PeerId } from '../identity/peer-id.ts'
import { InvalidArgumentError } from '../core/errors.ts'

/** Multiaddr protocol codes (multiformats/multicodec table). */
export const CODE_IP4 = 4
export const CODE_TCP = 6
export const CODE_UDP = 273
export const CODE_IP6 = 41
export const CODE_DNS = 53
export const CODE_DNS4 = 54
export const CODE_DNS6 = 55
export const CODE_P2P = 421
export const CODE_QUIC_V1 = 461
export const CODE_MEMORY = 777

export type { Multiaddr }

/** Parses a multiaddr, turning the library's errors into InvalidArgumentError. */
export function parseMultiaddr (text: string): Multiaddr {
  try {
    return multiaddr(text)
  } catch (err) {
    throw new InvalidArgumentError(`invalid multiaddr ${JSON.stringify(text)}: ${(err as Error).message}`)
  }
}

/**
 * Splits a trailing `/p2p/<id>` off an address. Only the last component is considered: a relay
 * address (`…/p2p/<relay>/p2p-circuit/p2p/<target>`) keeps its inner `/p2p/` in `addr`.
 */
export function splitPeerId (addr: Multiaddr): { addr: Multiaddr, peerId: PeerId | undefined } {
  const components = addr.getComponents()
  const last = components[components.length - 1]
  if (last === undefined || last.code !== CODE_P2P || last.value === undefined) return { addr, peerId: undefined }
  return { addr: multiaddr(components.slice(0, -1)), peerId: PeerId.parse(last.value) }
}

/** The PeerId of the address's trailing `/p2p/` component, if any. */
export function getPeerId (addr: Multiaddr): PeerId | undefined {
  return splitPeerId(addr).peerId
}

/** The address without a trailing `/p2p/<id>`. */
export function withoutPeerId (addr: Multiaddr): Multiaddr {
  return splitPeerId(addr).addr
}

/** Appends `/p2p/<id>`, replacing any trailing one. */
export function withPeerId (addr: Multiaddr, peerId: PeerId): Multiaddr {
  return multiaddr([...withoutPeerId(addr).getComponents(), { code: CODE_P2P, name: 'p2p', value: peerId.toString() }])
}

export type IpTransport = 'tcp' | 'udp' | 'quic-v1'

/**
 * Addresses recently made by ipPortToMultiaddr, by transport, ip and port (most recent last).
 * Every native connection asks for its remote and local address, and parsing them cost ~8 us each
 * (CPU profile of the QUIC connection-setup bench, about a tenth of the listener's JS per
 * connection) although they repeat: one listen address for all inbound connections, one UDP
 * socket port for all of a QUIC dialer's connections. Multiaddr objects are immutable, so
 * connections can share one.
 */
const addrCache = new Map<string, Multiaddr>()
/** Entries kept: the distinct local/remote address pairs of a busy node's recent connections; ~200 B each. */
const ADDR_CACHE_SIZE = 256

/** `/ip4/<ip>/tcp/<port>`, `/ip6/…/udp/<port>`, or `/ip…/udp/<port>/quic-v1`. */
export function ipPortToMultiaddr (ip: string, port: number, transport: IpTransport = 'tcp'): Multiaddr {
  const key = `${transport} ${ip} ${port}`
  const cached = addrCache.get(key)
  if (cached !== undefined) {
    addrCache.delete(key)  // keep the most recently used last (evicted last)
    addrCache.set(key, cached)
    return cached
  }
  const family = isIPv4(ip) ? 'ip4' : isIPv6(ip) ? 'ip6' : undefined
  if (family === undefined) throw new InvalidArgumentError(`not an IP address: ${ip}`)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`invalid port ${port}`)
  const base = `/${family}/${ip}/${transport === 'tcp' ? 'tcp' : 'udp'}/${port}`
  const addr = multiaddr(transport === 'quic-v1' ? `${base}/quic-v1` : base)
  if (addrCache.size >= ADDR_CACHE_SIZE) addrCache.delete(addrCache.keys().next().value as string)
  addrCache.set(key, addr)
  return addr
}

export interface IpPort {
  family: 4 | 6
  ip: string
  port: number
  transport: IpTransport
}

/**
 * The IP, port and transport of an address that starts `/ip4|ip6/…/tcp|udp/…` (optionally
 * `/quic-v1`, then anything such as `/p2p/`). Undefined for other addresses (dns, memory, …).
 */
export function multiaddrToIpPort (addr: Multiaddr): IpPort | undefined {
  const c: Component[] = addr.getComponents()
  const ip = c[0]
  const port = c[1]
  if (ip === undefined || port === undefined || ip.value === undefined || port.value === undefined) return undefined
  if (ip.code !== CODE_IP4 && ip.code !== CODE_IP6) return undefined
  if (port.code !== CODE_TCP && port.code !== CODE_UDP) return undefined
  let transport: IpTransport = port.code === CODE_TCP ? 'tcp' : 'udp'
  if (transport === 'udp' && c[2]?.code === CODE_QUIC_V1) transport = 'quic-v1'
  return { family: ip.code === CODE_IP4 ? 4 : 6, ip: ip.value, port: Number(port.value), transport }
}

/**
 * Parses the perf binary's `--server-address`: `1.2.3.4:4001`, `[::1]:4001`, or a full multiaddr
 * (with or without `/p2p/`). `host:port` forms become `/ip4|ip6/…` with `transport`.
 */
export function parseServerAddress (text: string, transport: IpTransport = 'tcp'): { addr: Multiaddr, peerId: PeerId | undefined } {
  const s = text.trim()
  if (s.startsWith('/')) return splitPeerId(parseMultiaddr(s))
  let host: string
  let portText: string
  if (s.startsWith('[')) {
    const close = s.indexOf(']')
    if (close < 0 || s[close + 1] !== ':') throw new InvalidArgumentError(`invalid address ${JSON.stringify(text)}: expected [ipv6]:port`)
    host = s.slice(1, close)
    portText = s.slice(close + 2)
  } else {
    const colon = s.lastIndexOf(':')
    if (colon < 0) throw new InvalidArgumentError(`invalid address ${JSON.stringify(text)}: expected ip:port, [ipv6]:port or a multiaddr`)
    host = s.slice(0, colon)
    portText = s.slice(colon + 1)
    if (host.includes(':')) throw new InvalidArgumentError(`invalid address ${JSON.stringify(text)}: write IPv6 addresses as [ipv6]:port`)
  }
  if (!/^\d{1,5}$/.test(portText)) throw new InvalidArgumentError(`invalid port in ${JSON.stringify(text)}`)
  return { addr: ipPortToMultiaddr(host, Number(portText), transport), peerId: undefined }
}
