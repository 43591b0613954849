/**
 * Codec micro-benchmarks: our TypeScript codecs against js-libp2p's, on the same inputs, in one run.
 *   node --import tsx bench/micro/codecs.bench.ts [timeMs per task, default 200]
 *
 * - keys protobuf (src/identity/keys/protobuf.ts) vs @libp2p/crypto's generated codec, plus the
 *   full "bytes -> key object" and "key -> PeerId text" paths that every handshake and identify runs;
 * - Kademlia message (src/protocols/kad/message.ts) vs @libp2p/kad-dht's protons codec, on a
 *   FIND_NODE response with k = 20 closer peers (the message a lookup receives most);
 * - identify message (src/protocols/identify/message.ts) vs @libp2p/identify's protons codec; ours
 *   parses the addresses into Multiaddr objects while decoding, so the js-libp2p side is timed
 *   both bare and followed by multiaddr() on each address (what @libp2p/identify then does);
 * - varint length-prefix framing (src/utils/length-prefixed.ts) vs it-length-prefixed (the
 *   framing of @libp2p/identify and @libp2p/kad-dht): one frame encoded, 64 frames decoded from
 *   one chunk through an async source (a stream delivers chunks asynchronously).
 * The kad and keys codecs of @libp2p/kad-dht and @libp2p/crypto are not exported by their
 * packages, so they are imported by file path from node_modules (same code the packages run).
 * Before timing, each pair is cross-checked (each side decodes the other's bytes) so that a
 * codec that does less work than the other cannot pass unnoticed.
 */
import { deepStrictEqual, strictEqual } from 'node:assert'
import { multiaddr } from '@multiformats/multiaddr'
import { publicKeyFromProtobuf as jsPublicKeyFromProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey as jsPeerIdFromPublicKey } from '@libp2p/peer-id'
import * as lp from 'it-length-prefixed'
import { PublicKey as JsPbPublicKey, KeyType as JsPbKeyType } from '../../node_modules/@libp2p/crypto/dist/src/keys/keys.js'
import { Message as JsKadMessage, MessageType as JsKadType, ConnectionType as JsConnType } from '../../node_modules/@libp2p/kad-dht/dist/src/message/dht.js'
import { Identify as JsIdentify } from '../../node_modules/@libp2p/identify/dist/src/pb/message.js'
import { generateKeyPair, publicKeyFromProtobuf, encodeKeyProtobuf, decodeKeyProtobuf, PeerId } from '../../src/identity/index.ts'
import { encodeMessage, decodeMessage, kadMessage, MessageType, ConnectionType, type WirePeer } from '../../src/protocols/kad/message.ts'
import { encodeIdentify, decodeIdentify } from '../../src/protocols/identify/message.ts'
import { lengthPrefixed, readLengthPrefixed } from '../../src/utils/length-prefixed.ts'
import { ByteReader } from '../../src/utils/byte-reader.ts'
import { newBench, runAndReport, OURS, JS } from './report.ts'

/** k of the Kademlia paper and of every libp2p DHT: peers in a FIND_NODE response. */
const KAD_K = 20
/** Frames per decode run and their body size: a burst of small request-response messages. */
const FRAMES = 64
const FRAME_BYTES = 64
/** Largest frame either decoder accepts here (identify's 8 KiB-class limit is far above 64 B). */
const MAX_FRAME = 4096

let sink = 0

// ---- keys ----------------------------------------------------------------------------------
const key = generateKeyPair('Ed25519')
const raw = key.publicKey.raw
const keyPb = key.publicKey.toProtobuf()
const jsKeyPb = JsPbPublicKey.encode({ Type: JsPbKeyType.Ed25519, Data: raw })
deepStrictEqual(jsKeyPb, encodeKeyProtobuf('Ed25519', raw))
deepStrictEqual(decodeKeyProtobuf(jsKeyPb).data, JsPbPublicKey.decode(keyPb).Data)
strictEqual(PeerId.fromPublicKeyProtobuf(keyPb).toString(), jsPeerIdFromPublicKey(jsPublicKeyFromProtobuf(keyPb)).toString())

// ---- kad -----------------------------------------------------------------------------------
const peers: WirePeer[] = []
for (let i = 0; i < KAD_K; i++) {
  const pb = generateKeyPair('Ed25519').publicKey.toProtobuf()
  peers.push({
    id: PeerId.fromPublicKeyProtobuf(pb).bytes,
    addrs: [multiaddr(`/ip4/10.0.${i}.1/tcp/4001`).bytes, multiaddr(`/ip6/2001:db8::${i + 1}/udp/4001/quic-v1`).bytes],
    connection: ConnectionType.CONNECTED
  })
}
const kadTarget = peers[0]?.id as Uint8Array
const ourKad = kadMessage(MessageType.FIND_NODE, { key: kadTarget, closerPeers: peers })
const jsKad = {
  type: JsKadType.FIND_NODE,
  key: kadTarget,
  closer: peers.map(p => ({ id: p.id, multiaddrs: p.addrs, connection: JsConnType.CONNECTED })),
  providers: []
}
const ourKadBytes = encodeMessage(ourKad)
const jsKadBytes = JsKadMessage.encode(jsKad)
deepStrictEqual(decodeMessage(jsKadBytes), decodeMessage(ourKadBytes))
deepStrictEqual(JsKadMessage.decode(ourKadBytes).closer.map(p => p.id), peers.map(p => p.id))

// ---- identify ------------------------------------------------------------------------------
const listenAddrs = [
  multiaddr('/ip4/192.0.2.7/tcp/4001'), multiaddr('/ip4/192.0.2.7/udp/4001/quic-v1'),
  multiaddr('/ip6/2001:db8::7/tcp/4001'), multiaddr('/ip6/2001:db8::7/udp/4001/quic-v1')
]
const protocols = ['/ipfs/id/1.0.0', '/ipfs/id/push/1.0.0', '/ipfs/ping/1.0.0', '/ipfs/kad/1.0.0', '/libp2p/circuit/relay/0.2.0/stop', '/perf/1.0.0', '/meshsub/1.1.0', '/meshsub/1.2.0']
/** A signed peer record envelope is a few hundred bytes (we only carry it here, no verification). */
const signedPeerRecord = new Uint8Array(300).fill(7)
const ourId = {
  protocolVersion: 'ipfs/0.1.0', agentVersion: 'libp2p-native/0.1.0', publicKey: keyPb, listenAddrs,
  observedAddr: multiaddr('/ip4/198.51.100.9/tcp/53211'), protocols, signedPeerRecord
}
const jsId = { ...ourId, listenAddrs: listenAddrs.map(a => a.bytes), observedAddr: ourId.observedAddr.bytes }
const ourIdBytes = encodeIdentify(ourId)
const jsIdBytes = JsIdentify.encode(jsId)
deepStrictEqual(decodeIdentify(jsIdBytes).protocols, protocols)
deepStrictEqual(decodeIdentify(jsIdBytes).listenAddrs.map(a => a.toString()), listenAddrs.map(a => a.toString()))
deepStrictEqual(JsIdentify.decode(ourIdBytes).listenAddrs, jsId.listenAddrs)

// ---- framing -------------------------------------------------------------------------------
const framePayload = new Uint8Array(FRAME_BYTES).fill(1)
deepStrictEqual(lengthPrefixed(framePayload), lp.encode.single(framePayload).subarray())
const framedChunk = new Uint8Array(Array.from({ length: FRAMES }, () => [...lengthPrefixed(framePayload)]).flat())
async function * oneChunk (): AsyncGenerator<Uint8Array> { yield framedChunk }
async function oursDecodeAll (): Promise<number> {
  const reader = new ByteReader(oneChunk())
  let n = 0
  while (await readLengthPrefixed(reader, MAX_FRAME, 'bench') !== undefined) n++
  return n
}
async function jsDecodeAll (): Promise<number> {
  let n = 0
  for await (const frame of lp.decode(oneChunk(), { maxDataLength: MAX_FRAME })) { sink ^= frame.subarray()[0] as number; n++ }
  return n
}
strictEqual(await oursDecodeAll(), FRAMES)
strictEqual(await jsDecodeAll(), FRAMES)

// ---- the run -------------------------------------------------------------------------------
const bench = newBench()
bench
  .add(`keys pb encode | ${OURS}`, () => { sink ^= encodeKeyProtobuf('Ed25519', raw)[0] as number })
  .add(`keys pb encode | ${JS}`, () => { sink ^= JsPbPublicKey.encode({ Type: JsPbKeyType.Ed25519, Data: raw })[0] as number })
  .add(`keys pb decode | ${OURS}`, () => { sink ^= decodeKeyProtobuf(keyPb).data[0] as number })
  .add(`keys pb decode | ${JS}`, () => { sink ^= (JsPbPublicKey.decode(keyPb).Data as Uint8Array)[0] as number })
  .add(`key object from pb | ${OURS}`, () => { sink ^= publicKeyFromProtobuf(keyPb).raw[0] as number })
  .add(`key object from pb | ${JS}`, () => { sink ^= jsPublicKeyFromProtobuf(keyPb).raw[0] as number })
  .add(`PeerId text from pb | ${OURS}`, () => { sink ^= PeerId.fromPublicKeyProtobuf(keyPb).toString().length })
  .add(`PeerId text from pb | ${JS}`, () => { sink ^= jsPeerIdFromPublicKey(jsPublicKeyFromProtobuf(keyPb)).toString().length })
  .add(`kad FIND_NODE resp (k=20) encode | ${OURS}`, () => { sink ^= encodeMessage(ourKad).byteLength })
  .add(`kad FIND_NODE resp (k=20) encode | ${JS}`, () => { sink ^= JsKadMessage.encode(jsKad).byteLength })
  .add(`kad FIND_NODE resp (k=20) decode | ${OURS}`, () => { sink ^= decodeMessage(ourKadBytes).closerPeers.length })
  .add(`kad FIND_NODE resp (k=20) decode | ${JS}`, () => { sink ^= JsKadMessage.decode(jsKadBytes).closer.length })
  .add(`identify encode | ${OURS}`, () => { sink ^= encodeIdentify(ourId).byteLength })
  .add(`identify encode | ${JS}`, () => { sink ^= JsIdentify.encode(jsId).byteLength })
  .add(`identify decode (addrs parsed) | ${OURS}`, () => { sink ^= decodeIdentify(ourIdBytes).listenAddrs.length })
  .add(`identify decode (addrs parsed) | ${JS}`, () => {
    const m = JsIdentify.decode(jsIdBytes)
    sink ^= m.listenAddrs.map(a => multiaddr(a)).length + (m.observedAddr !== undefined ? multiaddr(m.observedAddr).bytes.length : 0)
  })
  .add(`identify decode (bare protobuf) | ${JS}`, () => { sink ^= JsIdentify.decode(jsIdBytes).listenAddrs.length })
  .add(`lp frame encode (64 B) | ${OURS}`, () => { sink ^= lengthPrefixed(framePayload).byteLength })
  .add(`lp frame encode (64 B) | ${JS}`, () => { sink ^= lp.encode.single(framePayload).subarray().byteLength })
  .add(`lp decode 64 frames, 1 chunk, async | ${OURS}`, async () => { sink ^= await oursDecodeAll() })
  .add(`lp decode 64 frames, 1 chunk, async | ${JS}`, async () => { sink ^= await jsDecodeAll() })

await runAndReport('codecs', bench, {
  'identify decode (bare protobuf)': 'js-libp2p only: addresses left as bytes',
  'identify decode (addrs parsed)': 'js side: protobuf then multiaddr() per address'
})
if (sink === 0.5) console.log('unreachable')
