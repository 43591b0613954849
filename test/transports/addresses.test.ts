/**
 * A native connection's remoteAddr and localAddr (QUIC and TCP, IPv4 and IPv6): built on first
 * read from the connOpen record's hosts and ports (src/transports/native/connection.ts; the hosts
 * decoded by src/native/host.ts decodeConnInfo), they must name the same endpoints from both sides:
 * the dialer's remoteAddr is the listener's address and its localAddr has the port (for TCP the
 * whole address) of the listener's remoteAddr, each in the transport's own form, and the same
 * object on every read.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import type { Connection, Transport } from '../../src/core/transport.ts'
import { quic } from '../../src/transports/quic/index.ts'
import { tcp } from '../../src/transports/tcp/index.ts'
import { makeContext } from '../helpers/node-context.ts'
import { withTimeout } from '../helpers/timeout.ts'

const cases = [
  { name: 'quic', listen: (ip: string) => `/${ip}/udp/0/quic-v1`, make: () => [quic()(makeContext()), quic()(makeContext())] },
  { name: 'tcp', listen: (ip: string) => `/${ip}/tcp/0`, make: () => [tcp()(makeContext()), tcp()(makeContext())] }
] as const

for (const c of cases) {
  describe(`${c.name} connection addresses`, () => {
    for (const [family, ip] of [['ip4', '127.0.0.1'], ['ip6', '::1']] as const) {
      it(`${family}: both sides name the same endpoints`, async () => {
        const [server, client] = c.make() as [Transport, Transport]
        try {
          let listener
          try {
            listener = await server.listen(multiaddr(c.listen(`${family}/${ip}`)))
          } catch (err) {
            if (family === 'ip6') return  // no IPv6 loopback on this machine
            throw err
          }
          const inbound = new Promise<Connection>(resolve => { listener.once('connection', resolve) })
          const addr = listener.addrs()[0]
          assert.ok(addr !== undefined)
          const out = await withTimeout(client.dial(addr), 5000, 'dial')
          const inc = await withTimeout(inbound, 5000, 'inbound connection')
          assert.equal(out.remoteAddr.toString(), addr.toString())
          assert.equal(out.remoteAddr, out.remoteAddr, 'built once')
          assert.ok(out.localAddr !== undefined && inc.localAddr !== undefined)
          // The same port; the dialer's host may be its socket's wildcard (a QUIC client's endpoint
          // is bound to 0.0.0.0 or ::), where the listener sees the loopback address.
          const port = (a: { toString: () => string }): string => a.toString().split('/').slice(3).join('/')
          assert.equal(port(inc.remoteAddr), port(out.localAddr))
          if (c.name === 'tcp') assert.equal(inc.remoteAddr.toString(), out.localAddr.toString())
          assert.equal(inc.localAddr.toString(), addr.toString())
          assert.match(inc.remoteAddr.toString(), new RegExp(`^/${family}/${ip.replace(/\./g, '\\.')}/${c.name === 'quic' ? 'udp/\\d+/quic-v1' : 'tcp/\\d+'}$`))
          assert.notEqual(inc.remoteAddr.toString(), inc.localAddr.toString())
          out.abort(new Error('test done'))
        } finally {
          await client.close()
          await server.close()
        }
      })
    }
  })
}
