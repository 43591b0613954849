/**
 * QUIC first, TCP fallback (issue 4, item 4): a dial whose addresses hold both `/quic-v1` and TCP
 * starts QUIC first and TCP after the stagger delay, or at once when QUIC fails; the first
 * connection wins, the loser is aborted, and the winner's transport is reported.
 *
 * Three layers: `dialConcurrently` with fake dials (timing and limits), the Swarm over two fake
 * IP transports that carry memory connections (fast, no sockets), and the Swarm over native TCP
 * and QUIC on loopback (skipped when the addon is not built).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { createSocket } from 'node:dgram'
import { existsSync } from 'node:fs'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Connection, DialOptions, Listener, Transport, TransportContext, TransportFactory } from '../../../src/core/transport.ts'
import { DialError } from '../../../src/core/errors.ts'
import { generateKeyPair, peerIdFromPrivateKey } from '../../../src/identity/index.ts'
import { Swarm } from '../../../src/core/swarm/swarm.ts'
import { SwarmBuilder } from '../../../src/core/swarm/builder.ts'
import { DEFAULT_FALLBACK_DIAL_DELAY_MS, dialConcurrently, isPreferredDialAddress } from '../../../src/core/swarm/dial.ts'
import { memory, MemoryNetwork, MemoryTransport } from '../../../src/transports/memory/index.ts'
import { ProbeBehaviour } from '../../helpers/probe.ts'
import { waitFor } from '../../helpers/swarm.ts'

const QUIC = multiaddr('/ip4/10.0.0.1/udp/4001/quic-v1')
const TCP = multiaddr('/ip4/10.0.0.1/tcp/4001')
const stagger = (delayMs: number) => ({ delayMs, isPreferred: isPreferredDialAddress })
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

function fakeConnection (name: string, aborted: string[]): Connection {
  const c = new EventEmitter() as unknown as Connection
  Object.assign(c, { id: name, transport: name, abort: () => { aborted.push(name) } })
  return c
}

type Behaviour = { kind: 'ok', ms: number } | { kind: 'fail', ms: number } | { kind: 'hang' }

/** A fake dialOne: records when each address started and whether its signal was aborted. */
function fakeDials (plan: Map<string, Behaviour>) {
  const t0 = performance.now()
  const started = new Map<string, number>()
  const signals = new Map<string, AbortSignal>()
  const aborted: string[] = []
  let inFlight = 0
  let maxInFlight = 0
  const dialOne = async (address: Multiaddr, signal: AbortSignal): Promise<Connection> => {
    const key = address.toString()
    started.set(key, performance.now() - t0)
    signals.set(key, signal)
    inFlight++
    maxInFlight = Math.max(maxInFlight, inFlight)
    try {
      const b = plan.get(key) ?? { kind: 'hang' }
      if (b.kind === 'hang') {
        return await new Promise<Connection>((_resolve, reject) => { signal.addEventListener('abort', () => { reject(new Error('aborted')) }, { once: true }) })
      }
      await sleep(b.ms)
      if (b.kind === 'fail') throw new Error(`refused ${key}`)
      return fakeConnection(key, aborted)
    } finally { inFlight-- }
  }
  return { dialOne, started, signals, aborted, maxInFlight: () => maxInFlight, t0 }
}

test('stagger: QUIC wins when both work and TCP is never started', async () => {
  const f = fakeDials(new Map([[QUIC.toString(), { kind: 'ok', ms: 10 }], [TCP.toString(), { kind: 'ok', ms: 1 }]]))
  // TCP listed first (newest in the address book): QUIC still goes first.
  const r = await dialConcurrently([TCP, QUIC], f.dialOne, 8, undefined, stagger(100))
  assert.equal(r.address.toString(), QUIC.toString())
  assert.equal(r.fallbackStarted, false)
  await sleep(120)
  assert.equal(f.started.has(TCP.toString()), false, 'the stagger timer is cleared once QUIC won')
})

test('stagger: a hanging QUIC dial lets TCP start after the delay; TCP wins and QUIC is aborted', async () => {
  const f = fakeDials(new Map([[TCP.toString(), { kind: 'ok', ms: 2 }]]))
  const r = await dialConcurrently([QUIC, TCP], f.dialOne, 8, undefined, stagger(60))
  assert.equal(r.address.toString(), TCP.toString())
  assert.equal(r.fallbackStarted, true)
  const tcpAt = f.started.get(TCP.toString()) as number
  assert.ok(tcpAt >= 55, `TCP started after the stagger, at ${tcpAt.toFixed(1)} ms`)
  assert.equal(f.signals.get(QUIC.toString())?.aborted, true, 'the losing QUIC attempt is aborted')
})

test('stagger: TCP starts at once when QUIC fails first', async () => {
  const f = fakeDials(new Map([[QUIC.toString(), { kind: 'fail', ms: 5 }], [TCP.toString(), { kind: 'ok', ms: 2 }]]))
  const r = await dialConcurrently([QUIC, TCP], f.dialOne, 8, undefined, stagger(5_000))
  assert.equal(r.address.toString(), TCP.toString())
  assert.deepEqual(r.errors.map(e => e.address.toString()), [QUIC.toString()])
  const tcpAt = f.started.get(TCP.toString()) as number
  assert.ok(tcpAt < 1_000, `TCP started right after QUIC failed, at ${tcpAt.toFixed(1)} ms`)
})

test('stagger: a slow QUIC success that arrives after TCP won is closed', async () => {
  const f = fakeDials(new Map([[QUIC.toString(), { kind: 'ok', ms: 80 }], [TCP.toString(), { kind: 'ok', ms: 2 }]]))
  const r = await dialConcurrently([QUIC, TCP], f.dialOne, 8, undefined, stagger(20))
  assert.equal(r.address.toString(), TCP.toString())
  await sleep(100)
  assert.deepEqual(f.aborted, [QUIC.toString()])
})

test('stagger keeps the concurrency limit, and does not delay dials without QUIC or with a delay of 0', async () => {
  const tcp2 = multiaddr('/ip4/10.0.0.2/tcp/4001')
  const tcp3 = multiaddr('/ip4/10.0.0.3/tcp/4001')
  const f = fakeDials(new Map([[TCP.toString(), { kind: 'fail', ms: 5 }], [tcp2.toString(), { kind: 'fail', ms: 5 }], [tcp3.toString(), { kind: 'ok', ms: 5 }]]))
  const r = await dialConcurrently([TCP, tcp2, tcp3, QUIC], f.dialOne, 2, undefined, stagger(30))
  assert.equal(r.address.toString(), tcp3.toString())
  assert.equal(f.maxInFlight(), 2, 'QUIC (hanging) plus one TCP at a time')
  assert.ok((f.started.get(TCP.toString()) as number) >= 25)

  const g = fakeDials(new Map([[TCP.toString(), { kind: 'ok', ms: 1 }]]))
  await dialConcurrently([TCP], g.dialOne, 8, undefined, stagger(1_000))
  assert.ok((g.started.get(TCP.toString()) as number) < 500, 'no QUIC address: no delay')

  const h = fakeDials(new Map([[TCP.toString(), { kind: 'ok', ms: 1 }]]))
  const r0 = await dialConcurrently([QUIC, TCP], h.dialOne, 8, undefined, stagger(0))
  assert.equal(r0.address.toString(), TCP.toString(), 'delay 0: both start at once')
  assert.ok((h.started.get(TCP.toString()) as number) < 500)
})

/**
 * A fake IP transport for the Swarm: dials `/ip4/…/udp/…/quic-v1` (or `/ip4/…/tcp/…`) addresses by
 * carrying a memory connection to the memory listener they are mapped to, reporting its own name
 * as the connection's transport. `behaviour` says what a dial does: connect after a delay, fail
 * after a delay, or hang until aborted (a black-holed UDP path).
 */
function fakeIp (name: 'quic-v1' | 'tcp', network: MemoryNetwork, routes: Map<string, string>, state: { behaviour: Behaviour, dials: number }): TransportFactory {
  return (context: TransportContext): Transport => {
    const inner = new MemoryTransport(context, { network })
    return {
      name,
      canDial: (addr: Multiaddr) => name === 'quic-v1' ? isPreferredDialAddress(addr) : addr.toString().includes('/tcp/'),
      canListen: () => false,
      listen: async (): Promise<Listener> => { throw new DialError('fake transport does not listen', 'ERR_NO_TRANSPORT') },
      dial: async (addr: Multiaddr, options: DialOptions = {}): Promise<Connection> => {
        state.dials++
        const b = state.behaviour
        if (b.kind === 'hang') {
          return await new Promise<Connection>((_resolve, reject) => {
            options.signal?.addEventListener('abort', () => { reject(new DialError('aborted', 'ERR_ABORTED')) }, { once: true })
          })
        }
        await sleep(b.ms)
        if (b.kind === 'fail') throw new DialError(`${name}: unreachable`, 'ERR_CONNECTION_REFUSED')
        const target = routes.get(addr.toString())
        if (target === undefined) throw new DialError('no route', 'ERR_CONNECTION_REFUSED')
        const conn = await inner.dial(multiaddr(target), options)
        return new Proxy(conn, {
          get (t, prop) {
            if (prop === 'transport') return name
            const v = Reflect.get(t, prop, t)
            return typeof v === 'function' ? v.bind(t) : v
          }
        })
      },
      close: async () => { await inner.close() }
    }
  }
}

async function fakePair (quic: Behaviour, tcp: Behaviour, fallbackDialDelay: number) {
  const network = new MemoryNetwork()
  const routes = new Map<string, string>()
  const keyB = generateKeyPair()
  const b = new Swarm({ privateKey: keyB, peerId: peerIdFromPrivateKey(keyB), transports: [memory({ network })], behaviour: new ProbeBehaviour() })
  const name = `/memory/dial-race-${process.pid}-${Math.random().toString(36).slice(2)}`
  await b.listen(multiaddr(name))
  const quicAddr = multiaddr('/ip4/10.1.1.1/udp/4001/quic-v1')
  const tcpAddr = multiaddr('/ip4/10.1.1.1/tcp/4001')
  routes.set(quicAddr.toString(), name)
  routes.set(tcpAddr.toString(), name)
  const quicState = { behaviour: quic, dials: 0 }
  const tcpState = { behaviour: tcp, dials: 0 }
  const keyA = generateKeyPair()
  const a = new Swarm({
    privateKey: keyA,
    peerId: peerIdFromPrivateKey(keyA),
    transports: [fakeIp('tcp', network, routes, tcpState), fakeIp('quic-v1', network, routes, quicState)],
    behaviour: new ProbeBehaviour(),
    config: { fallbackDialDelay }
  })
  // The address book lists the newest first: TCP ahead of QUIC, so the preference is the dialer's.
  a.addressBook.add(b.localPeerId, quicAddr)
  a.addressBook.add(b.localPeerId, tcpAddr)
  return { a, b, quicAddr, tcpAddr, quicState, tcpState }
}

test('Swarm by PeerId, both transports work: QUIC wins, TCP is not dialed, the event names QUIC', async () => {
  const p = await fakePair({ kind: 'ok', ms: 5 }, { kind: 'ok', ms: 1 }, 100)
  try {
    const est = waitFor(p.a, 'connectionEstablished')
    p.a.dial(p.b.localPeerId)
    const ev = await est
    assert.equal(ev.transport, 'quic-v1')
    assert.equal(ev.endpoint.role === 'dialer' ? ev.endpoint.address.toString() : '', p.quicAddr.toString())
    await sleep(150)
    assert.equal(p.tcpState.dials, 0)
    assert.equal(p.a.connections(p.b.localPeerId).length, 1)
  } finally {
    await Promise.all([p.a.close(), p.b.close()])
  }
})

test('Swarm by PeerId, QUIC black-holed: TCP wins after the stagger and the QUIC attempt is dropped', async () => {
  const p = await fakePair({ kind: 'hang' }, { kind: 'ok', ms: 1 }, 120)
  try {
    const est = waitFor(p.a, 'connectionEstablished')
    const t0 = performance.now()
    p.a.dial(p.b.localPeerId)
    const ev = await est
    const elapsed = performance.now() - t0
    assert.equal(ev.transport, 'tcp')
    assert.equal(ev.endpoint.role === 'dialer' ? ev.endpoint.address.toString() : '', p.tcpAddr.toString())
    assert.ok(elapsed >= 115, `TCP only after the stagger: ${elapsed.toFixed(1)} ms`)
    assert.equal(p.quicState.dials, 1)
    assert.equal(p.a.numPendingDials, 0)
  } finally {
    await Promise.all([p.a.close(), p.b.close()])
  }
})

test('Swarm by PeerId, QUIC refused: TCP starts at once, without waiting for the stagger', async () => {
  const p = await fakePair({ kind: 'fail', ms: 2 }, { kind: 'ok', ms: 1 }, 5_000)
  try {
    const est = waitFor(p.a, 'connectionEstablished')
    const t0 = performance.now()
    p.a.dial(p.b.localPeerId)
    const ev = await est
    assert.equal(ev.transport, 'tcp')
    assert.ok(performance.now() - t0 < 2_000)
  } finally {
    await Promise.all([p.a.close(), p.b.close()])
  }
})

test('fallbackDialDelay must not be negative', () => {
  const key = generateKeyPair()
  assert.throws(() => new Swarm({ privateKey: key, peerId: peerIdFromPrivateKey(key), transports: [], behaviour: new ProbeBehaviour(), config: { fallbackDialDelay: -1 } }))
})

const addonBuilt = existsSync(new URL('../../../build/Release/libp2p_native.node', import.meta.url)) || process.env.LIBP2P_NATIVE_ADDON !== undefined
const skip = !addonBuilt && 'native addon not built'

test('native TCP + QUIC on loopback: QUIC wins; a black-holed UDP port or a closed QUIC listener lets TCP win', { skip, timeout: 30_000 }, async () => {
  const node = async () => await SwarmBuilder.withNewIdentity().withTcp().withQuic()
    .withBehaviour(() => new ProbeBehaviour()).withSwarmConfig({ idleConnectionTimeout: 60_000, dialTimeout: 5_000 }).build()
  const a = await node()
  const b = await node()
  // A UDP socket that reads and never answers: QUIC Initials to it vanish, as behind a firewall.
  const blackHole = createSocket('udp4')
  await new Promise<void>(resolve => blackHole.bind(0, '127.0.0.1', resolve))
  try {
    const quicListener = await b.listen(multiaddr('/ip4/127.0.0.1/udp/0/quic-v1'))
    await b.listen(multiaddr('/ip4/127.0.0.1/tcp/0'))
    const addrs = b.listenAddresses()
    const quicAddr = addrs.find(x => x.toString().includes('/quic-v1')) as Multiaddr
    const tcpAddr = addrs.find(x => x.toString().includes('/tcp/')) as Multiaddr
    assert.ok(quicAddr !== undefined && tcpAddr !== undefined)
    a.addressBook.add(b.localPeerId, quicAddr)
    a.addressBook.add(b.localPeerId, tcpAddr)

    const first = waitFor(a, 'connectionEstablished', () => true, 10_000)
    a.dial(b.localPeerId)
    const e1 = await first
    assert.equal(e1.transport, 'quic-v1')
    assert.equal(e1.endpoint.role === 'dialer' ? e1.endpoint.address.toString() : '', quicAddr.toString())

    // Black-holed UDP: the only QUIC address goes nowhere; TCP starts after the stagger and wins.
    const c = await node()
    try {
      const holeAddr = multiaddr(`/ip4/127.0.0.1/udp/${blackHole.address().port}/quic-v1`)
      c.addressBook.add(b.localPeerId, holeAddr)
      c.addressBook.add(b.localPeerId, tcpAddr)
      const second = waitFor(c, 'connectionEstablished', () => true, 10_000)
      const t0 = performance.now()
      c.dial(b.localPeerId)
      const e2 = await second
      const elapsed = performance.now() - t0
      assert.equal(e2.transport, 'tcp')
      assert.ok(elapsed >= DEFAULT_FALLBACK_DIAL_DELAY_MS - 5, `TCP after the stagger: ${elapsed.toFixed(1)} ms`)
    } finally {
      await c.close()
    }

    // QUIC listener closed: a new dial by PeerId still connects, over TCP.
    assert.ok(b.removeListener(quicListener))
    await sleep(50)
    const third = waitFor(a, 'connectionEstablished', e => e.connectionId !== e1.connectionId, 10_000)
    a.dial({ peerId: b.localPeerId, condition: 'always' })
    const e3 = await third
    assert.equal(e3.transport, 'tcp')
  } finally {
    blackHole.close()
    await a.close()
    await b.close()
  }
})
