/**
 * The IP diversity filter (go-libp2p-kbucket's peerdiversity, Go's `RoutingTablePeerDiversityFilter`):
 * a routing table may hold at most `maxPerGroupGlobal` peers of one network group, and at most
 * `maxPerGroupPerBucket` in one bucket. A group is an IPv4 /16 (Go) or an IPv6 /32 (ours: Go uses
 * the origin ASN; see IpDiversityConfig.ipv6PrefixLength for why /32). A peer belongs to the groups
 * of all its public IP addresses and is admitted only if every one of them has room.
 *
 * Exempt (never counted, always admitted), as in Go: loopback, private (RFC 1918, RFC 4193 ULA),
 * link-local, and addresses without IP (memory transport, DNS names not yet resolved).
 */
import type { Multiaddr } from '@multiformats/multiaddr'
import type { IpDiversityConfig } from '../config.ts'

/** Parses dotted IPv4 into 4 bytes, or undefined. */
export function parseIPv4 (s: string): Uint8Array | undefined {
  const parts = s.split('.')
  if (parts.length !== 4) return undefined
  const out = new Uint8Array(4)
  for (let i = 0; i < 4; i++) {
    const p = parts[i] as string
    if (!/^\d{1,3}$/.test(p)) return undefined
    const v = Number(p)
    if (v > 255) return undefined
    out[i] = v
  }
  return out
}

/** Parses IPv6 text (with `::` and an embedded IPv4 tail) into 16 bytes, or undefined. */
export function parseIPv6 (s: string): Uint8Array | undefined {
  const zone = s.indexOf('%')
  if (zone >= 0) s = s.slice(0, zone)
  const halves = s.split('::')
  if (halves.length > 2) return undefined
  const parse = (part: string): number[] | undefined => {
    if (part === '') return []
    const out: number[] = []
    const groups = part.split(':')
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i] as string
      if (i === groups.length - 1 && g.includes('.')) {
        const v4 = parseIPv4(g)
        if (v4 === undefined) return undefined
        out.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number))
        continue
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined
      out.push(parseInt(g, 16))
    }
    return out
  }
  const head = parse(halves[0] as string)
  const tail = halves.length === 2 ? parse(halves[1] as string) : []
  if (head === undefined || tail === undefined) return undefined
  const fill = 8 - head.length - tail.length
  if (halves.length === 1 ? fill !== 0 : fill < 1) return undefined
  const words = [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail]
  const out = new Uint8Array(16)
  words.forEach((w, i) => { out[2 * i] = w >> 8; out[2 * i + 1] = w & 0xff })
  return out
}

function isExemptV4 (b: Uint8Array): boolean {
  const [a, c] = [b[0] as number, b[1] as number]
  return a === 10 || a === 127 || a === 0 ||
    (a === 172 && c >= 16 && c <= 31) || (a === 192 && c === 168) ||
    (a === 169 && c === 254) || (a === 100 && c >= 64 && c <= 127) // CGNAT, RFC 6598
}

function isExemptV6 (b: Uint8Array): boolean {
  if (b.every((x, i) => i === 15 ? x === 1 : x === 0)) return true // ::1
  if (b.every(x => x === 0)) return true // ::
  const first = b[0] as number
  if ((first & 0xfe) === 0xfc) return true // fc00::/7 ULA
  if (first === 0xfe && ((b[1] as number) & 0xc0) === 0x80) return true // fe80::/10
  return false
}

function prefixGroup (family: '4' | '6', b: Uint8Array, bits: number): string {
  const bytes = Math.ceil(bits / 8)
  const out = Uint8Array.from(b.subarray(0, bytes))
  const rem = bits % 8
  if (rem !== 0) out[bytes - 1] = (out[bytes - 1] as number) & (0xff << (8 - rem))
  return `ip${family}/${bits}:${Buffer.from(out).toString('hex')}`
}

/** The diversity groups of a peer's addresses (deduplicated); exempt addresses add none. */
export function groupsOf (addrs: readonly Multiaddr[], cfg: IpDiversityConfig): string[] {
  const groups = new Set<string>()
  for (const addr of addrs) {
    const first = addr.getComponents()[0]
    if (first === undefined || first.value === undefined) continue
    if (first.name === 'ip4') {
      const b = parseIPv4(first.value)
      if (b !== undefined && !isExemptV4(b)) groups.add(prefixGroup('4', b, cfg.ipv4PrefixLength))
    } else if (first.name === 'ip6') {
      const b = parseIPv6(first.value)
      if (b === undefined || isExemptV6(b)) continue
      // IPv4-mapped (::ffff:a.b.c.d) counts as its IPv4 address.
      if (b.subarray(0, 10).every(x => x === 0) && b[10] === 0xff && b[11] === 0xff) {
        const v4 = b.subarray(12)
        if (!isExemptV4(v4)) groups.add(prefixGroup('4', v4, cfg.ipv4PrefixLength))
        continue
      }
      groups.add(prefixGroup('6', b, cfg.ipv6PrefixLength))
    }
  }
  return [...groups]
}

/** Counts per group in the whole table and per bucket. Pure bookkeeping; the table calls it. */
export class DiversityFilter {
  private readonly global = new Map<string, number>()
  private readonly perBucket = new Map<string, number>()
  /** Groups each admitted peer was counted under, so removal undoes exactly what was added. */
  private readonly peerGroups = new Map<string, { bucket: number, groups: string[] }>()

  constructor (readonly config: IpDiversityConfig) {}

  /** Whether a peer with these addresses may enter `bucket`; names the full group when not. */
  check (addrs: readonly Multiaddr[], bucket: number): { ok: true } | { ok: false, group: string, scope: 'table' | 'bucket' } {
    for (const g of groupsOf(addrs, this.config)) {
      if ((this.global.get(g) ?? 0) >= this.config.maxPerGroupGlobal) return { ok: false, group: g, scope: 'table' }
      if ((this.perBucket.get(`${bucket}|${g}`) ?? 0) >= this.config.maxPerGroupPerBucket) return { ok: false, group: g, scope: 'bucket' }
    }
    return { ok: true }
  }

  add (peerKey: string, addrs: readonly Multiaddr[], bucket: number): void {
    this.remove(peerKey)
    const groups = groupsOf(addrs, this.config)
    for (const g of groups) {
      this.global.set(g, (this.global.get(g) ?? 0) + 1)
      this.perBucket.set(`${bucket}|${g}`, (this.perBucket.get(`${bucket}|${g}`) ?? 0) + 1)
    }
    this.peerGroups.set(peerKey, { bucket, groups })
  }

  remove (peerKey: string): void {
    const entry = this.peerGroups.get(peerKey)
    if (entry === undefined) return
    this.peerGroups.delete(peerKey)
    for (const g of entry.groups) {
      dec(this.global, g)
      dec(this.perBucket, `${entry.bucket}|${g}`)
    }
  }

  /** Peers counted under a group in the whole table (for tests and metrics). */
  count (group: string): number {
    return this.global.get(group) ?? 0
  }
}

function dec (m: Map<string, number>, k: string): void {
  const v = (m.get(k) ?? 0) - 1
  if (v <= 0) m.delete(k)
  else m.set(k, v)
}
