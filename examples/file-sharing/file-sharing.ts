/**
 * File sharing in the manner of rust-libp2p's file-sharing example: a node shares a file by
 * announcing itself in the DHT as a provider of the file's CID; another node finds the providers
 * through the DHT and fetches the file from one of them with request-response.
 *
 * The file is cut into 256 KiB chunks (Bitswap's usual block size). Each chunk is addressed by a
 * CIDv1 (raw, sha2-256) and a manifest (CBOR list of the chunk CIDs, codec dag-cbor) by the root
 * CID that is provided. A fetcher checks every chunk against its CID, so a provider cannot send
 * anything else. `FileSharingNode` wraps a Swarm of { kad, files }; `main.ts` is the CLI.
 */
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { Encoder } from 'cbor-x'
import type { Multiaddr } from '@multiformats/multiaddr'
import { SwarmBuilder } from '../../src/core/swarm/builder.ts'
import { combine } from '../../src/core/combine.ts'
import type { Swarm } from '../../src/core/swarm/swarm.ts'
import type { TransportFactory } from '../../src/core/transport.ts'
import { peerIdFromPrivateKey, type PrivateKey } from '../../src/identity/index.ts'
import type { PeerId } from '../../src/identity/peer-id.ts'
import { Kademlia } from '../../src/protocols/kad/behaviour.ts'
import type { KadConfig } from '../../src/protocols/kad/config.ts'
import type { KadEvent, PeerInfo, QueryId } from '../../src/protocols/kad/types.ts'
import { RequestResponseBehaviour, cborCodec, type RequestResponseEvent } from '../../src/protocols/request-response/index.ts'

export const FILE_PROTOCOL = '/libp2p-native/file-sharing/1.0.0'
/** Chunk size: Bitswap's default block size (256 KiB), well under request-response's 10 MiB response limit. */
export const CHUNK_SIZE = 256 * 1024
/** Chunk requests in flight at once per fetch: enough to keep a loopback or LAN link busy. */
export const FETCH_CONCURRENCY = 4
const RAW = 0x55
const DAG_CBOR = 0x71

interface ChunkRequest { cid: string }
interface ChunkResponse { data?: Uint8Array, error?: string }

const cbor = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false, variableMapSize: true })

function makeBehaviour (key: PrivateKey, kad: Partial<KadConfig>) {
  return combine({
    kad: new Kademlia({ peerId: peerIdFromPrivateKey(key), config: kad }),
    files: new RequestResponseBehaviour<ChunkRequest, ChunkResponse>({ codec: cborCodec(), protocols: [FILE_PROTOCOL] })
  })
}
type Behaviour = ReturnType<typeof makeBehaviour>

export interface FileSharingOptions {
  /** Default: TCP. Tests pass a memory transport. */
  transport?: TransportFactory
  listen: Multiaddr[]
  /** Known DHT peers (`addr` without /p2p/, `peer`). */
  bootstrap?: Array<{ peer: PeerId, addr: Multiaddr }>
  kad?: Partial<KadConfig>
}

export class FileSharingNode {
  readonly swarm: Swarm<Behaviour>
  /** CID text → bytes of every block this node serves (manifests and chunks). */
  private readonly blocks = new Map<string, Uint8Array>()

  private constructor (swarm: Swarm<Behaviour>) {
    this.swarm = swarm
    swarm.on('behaviour', (e) => {
      if (e.event.behaviour !== 'files') return
      const ev = e.event.event as RequestResponseEvent<ChunkRequest, ChunkResponse>
      if (ev.type !== 'request') return
      const data = this.blocks.get(ev.request.cid)
      swarm.behaviour.members.files.sendResponse(ev.channel, data === undefined ? { error: 'not found' } : { data })
    })
  }

  static async create (options: FileSharingOptions): Promise<FileSharingNode> {
    let builder = SwarmBuilder.withNewIdentity()
    builder = options.transport !== undefined ? builder.withTransport(options.transport) : builder.withTcp()
    const swarm = await builder.withBehaviour(key => makeBehaviour(key, { mode: 'server', autoRefresh: false, ...options.kad }))
      .withSwarmConfig({ idleConnectionTimeout: 30_000 }).build()
    for (const a of options.listen) await swarm.listen(a)
    const node = new FileSharingNode(swarm)
    for (const b of options.bootstrap ?? []) node.kad.addAddress(b.peer, b.addr)
    if ((options.bootstrap ?? []).length > 0) await node.query(k => k.bootstrap())
    return node
  }

  get kad (): Kademlia { return this.swarm.behaviour.members.kad }
  get peerId (): PeerId { return this.swarm.localPeerId }

  /**
   * Stores the file's blocks and provides its root CID: locally at once, and to the closest DHT
   * peers (`announcedTo` of them; 0 when this node knows none yet, as for the first node of a
   * network: peers that ask it directly still find it, as in rust-libp2p's example).
   */
  async share (file: Uint8Array): Promise<{ root: CID, announcedTo: number }> {
    const chunkCids: string[] = []
    for (let off = 0; off < file.byteLength || off === 0; off += CHUNK_SIZE) {
      const chunk = file.subarray(off, Math.min(off + CHUNK_SIZE, file.byteLength))
      const cid = CID.createV1(RAW, await sha256.digest(chunk))
      this.blocks.set(cid.toString(), chunk)
      chunkCids.push(cid.toString())
      if (file.byteLength === 0) break
    }
    const manifest = cbor.encode({ size: file.byteLength, chunks: chunkCids }) as Uint8Array
    const root = CID.createV1(DAG_CBOR, await sha256.digest(manifest))
    this.blocks.set(root.toString(), manifest)
    const r = await this.query(k => k.startProviding(root.multihash.bytes))
    return { root, announcedTo: r.result.type === 'startProviding' ? r.result.success : 0 }
  }

  /** Finds providers of `root` through the DHT and fetches the file from them, verifying every block. */
  async fetch (root: CID): Promise<Uint8Array> {
    const events = await this.queryAll(k => k.getProviders(root.multihash.bytes))
    const providers: PeerInfo[] = events.flatMap(e => e.result.type === 'getProviders' ? e.result.providers : []).filter(p => !p.peer.equals(this.peerId))
    if (providers.length === 0) throw new Error(`no provider of ${root.toString()} found`)
    let lastError: Error | undefined
    for (const provider of providers) {
      try {
        const manifestBytes = await this.block(provider, root)
        const manifest = cbor.decode(manifestBytes) as { size: number, chunks: string[] }
        const chunks: Uint8Array[] = new Array(manifest.chunks.length)
        let next = 0
        await Promise.all(Array.from({ length: FETCH_CONCURRENCY }, async () => {
          while (next < manifest.chunks.length) {
            const i = next++
            chunks[i] = await this.block(provider, CID.parse(manifest.chunks[i] as string))
          }
        }))
        const out = Buffer.concat(chunks)
        if (out.byteLength !== manifest.size) throw new Error(`size ${out.byteLength} != manifest size ${manifest.size}`)
        return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
      } catch (err) {
        lastError = err as Error
      }
    }
    throw lastError ?? new Error('fetch failed')
  }

  async close (): Promise<void> {
    await this.swarm.close()
  }

  /** One block from one provider, checked against its CID. */
  private async block (provider: PeerInfo, cid: CID): Promise<Uint8Array> {
    const files = this.swarm.behaviour.members.files
    const response = await new Promise<ChunkResponse>((resolve, reject) => {
      let id = -1
      const listener = (e: any): void => {
        if (e.event.behaviour !== 'files') return
        const ev = e.event.event as RequestResponseEvent<ChunkRequest, ChunkResponse>
        if (ev.type === 'response' && ev.requestId === id) { this.swarm.off('behaviour', listener); resolve(ev.response) }
        if (ev.type === 'outboundFailure' && ev.requestId === id) { this.swarm.off('behaviour', listener); reject(ev.error) }
      }
      this.swarm.on('behaviour', listener)
      id = files.sendRequest(provider.peer, { cid: cid.toString() }, { addresses: provider.addrs })
    })
    if (response.data === undefined) throw new Error(`${provider.peer.toString()} does not have ${cid.toString()}: ${response.error ?? 'no data'}`)
    const data = new Uint8Array(response.data)
    const digest = await sha256.digest(data)
    if (!Buffer.from(digest.bytes).equals(Buffer.from(cid.multihash.bytes))) throw new Error(`block ${cid.toString()} does not match its CID`)
    return data
  }

  private async query (start: (k: Kademlia) => QueryId): Promise<Extract<KadEvent, { type: 'outboundQueryProgressed' }>> {
    const events = await this.queryAll(start)
    return events[events.length - 1] as Extract<KadEvent, { type: 'outboundQueryProgressed' }>
  }

  private async queryAll (start: (k: Kademlia) => QueryId): Promise<Array<Extract<KadEvent, { type: 'outboundQueryProgressed' }>>> {
    const events: Array<Extract<KadEvent, { type: 'outboundQueryProgressed' }>> = []
    let id = -1
    const done = new Promise<typeof events>((resolve) => {
      const listener = (e: any): void => {
        if (e.event.behaviour !== 'kad') return
        const ev = e.event.event as KadEvent
        if (ev.type !== 'outboundQueryProgressed' || ev.id !== id) return
        events.push(ev)
        if (ev.step.last) { this.swarm.off('behaviour', listener); resolve(events) }
      }
      this.swarm.on('behaviour', listener)
    })
    id = start(this.kad)
    return await done
  }
}
