/**
 * The Identify message codec (libp2p/specs identify/README.md; `signedPeerRecord` = 8 as js-libp2p,
 * go-libp2p and rust-libp2p send it):
 *
 *   message Identify {
 *     optional string protocolVersion = 5; optional string agentVersion = 6;
 *     optional bytes publicKey = 1;        repeated bytes listenAddrs = 2;
 *     optional bytes observedAddr = 4;     repeated string protocols = 3;
 *     optional bytes signedPeerRecord = 8;
 *   }
 *
 * Decoding is bounded: the caller limits the message size; list fields stop growing at their
 * caps; unparsable multiaddrs are skipped (the spec lets peers send addresses we do not know).
 */
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { reader, writer } from 'protons-runtime'
import { ProtocolViolationError } from '../../core/errors.ts'
import { IDENTIFY_PROTOCOL, MAX_IDENTIFY_ADDRESSES, MAX_IDENTIFY_PROTOCOLS, MAX_IDENTIFY_STRING_LENGTH } from './constants.ts'

export interface IdentifyMessage {
  protocolVersion?: string
  agentVersion?: string
  /** The keys protobuf of the sender's public key. */
  publicKey?: Uint8Array
  listenAddrs: Multiaddr[]
  observedAddr?: Multiaddr
  protocols: string[]
  signedPeerRecord?: Uint8Array
}

export function encodeIdentify (m: IdentifyMessage): Uint8Array {
  const w = writer()
  if (m.publicKey !== undefined) w.uint32(10).bytes(m.publicKey)
  for (const a of m.listenAddrs) w.uint32(18).bytes(a.bytes)
  for (const p of m.protocols) w.uint32(26).string(p)
  if (m.observedAddr !== undefined) w.uint32(34).bytes(m.observedAddr.bytes)
  if (m.protocolVersion !== undefined) w.uint32(42).string(m.protocolVersion)
  if (m.agentVersion !== undefined) w.uint32(50).string(m.agentVersion)
  if (m.signedPeerRecord !== undefined) w.uint32(66).bytes(m.signedPeerRecord)
  return w.finish()
}

function checkString (s: string, field: string): string {
  if (s.length > MAX_IDENTIFY_STRING_LENGTH) throw new ProtocolViolationError(IDENTIFY_PROTOCOL, `${field} is longer than ${MAX_IDENTIFY_STRING_LENGTH}`)
  return s
}

function parseAddr (bytes: Uint8Array): Multiaddr | undefined {
  try { return multiaddr(bytes) } catch { return undefined }
}

/** Decodes one message; throws ProtocolViolationError on malformed protobuf. */
export function decodeIdentify (bytes: Uint8Array): IdentifyMessage {
  const m: IdentifyMessage = { listenAddrs: [], protocols: [] }
  try {
    const r = reader(bytes)
    while (r.pos < r.len) {
      const tag = r.uint32()
      switch (tag >>> 3) {
        case 1: m.publicKey = r.bytes(); break
        case 2: {
          const a = parseAddr(r.bytes())
          if (a !== undefined && m.listenAddrs.length < MAX_IDENTIFY_ADDRESSES) m.listenAddrs.push(a)
          break
        }
        case 3: {
          const p = checkString(r.string(), 'protocol')
          if (m.protocols.length < MAX_IDENTIFY_PROTOCOLS) m.protocols.push(p)
          break
        }
        case 4: {
          const a = parseAddr(r.bytes())
          if (a !== undefined) m.observedAddr = a
          break
        }
        case 5: m.protocolVersion = checkString(r.string(), 'protocolVersion'); break
        case 6: m.agentVersion = checkString(r.string(), 'agentVersion'); break
        case 8: m.signedPeerRecord = r.bytes(); break
        default: r.skipType(tag & 7)
      }
    }
  } catch (err) {
    if (err instanceof ProtocolViolationError) throw err
    throw new ProtocolViolationError(IDENTIFY_PROTOCOL, 'malformed Identify message', 'ERR_PROTOCOL_VIOLATION', { cause: err })
  }
  return m
}
