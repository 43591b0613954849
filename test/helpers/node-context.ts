/** A TransportContext for tests that use transports without a Swarm. */
import type { TransportContext } from '../../src/core/transport.ts'
import { generateKeyPair, peerIdFromPrivateKey } from '../../src/identity/index.ts'
import { StaticProtocolTable } from '../../src/utils/protocol-table.ts'

export interface TestContext extends TransportContext {
  readonly protocols: StaticProtocolTable
}

export function makeContext (protocols: string[] = []): TestContext {
  const privateKey = generateKeyPair('Ed25519')
  return { privateKey, peerId: peerIdFromPrivateKey(privateKey), protocols: new StaticProtocolTable(protocols) }
}
