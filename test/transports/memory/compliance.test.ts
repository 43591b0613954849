import { multiaddr } from '@multiformats/multiaddr'
import type { Connection } from '../../../src/core/transport.ts'
import { memory, MemoryNetwork } from '../../../src/transports/memory/index.ts'
import { streamTransportCompliance } from '../../compliance/stream-transport.ts'
import { makeContext } from '../../helpers/node-context.ts'

const connect = (latencyMs: number) => async (serverProtocols: string[]) => {
  const network = new MemoryNetwork({ latencyMs })
  const st = memory({ network })(makeContext(serverProtocols))
  const ct = memory({ network })(makeContext())
  const listener = await st.listen(multiaddr('/memory/compliance'))
  const accepted = new Promise<Connection>(resolve => { listener.once('connection', resolve) })
  const client = await ct.dial(multiaddr('/memory/compliance'))
  const server = await accepted
  return { client, server, close: async () => { await ct.close(); await st.close() } }
}

streamTransportCompliance('memory', connect(0), { maxBufferedBeforeBackpressure: 16 * 1024 * 1024 })
streamTransportCompliance('memory+latency', connect(3), { maxBufferedBeforeBackpressure: 16 * 1024 * 1024 })
