/**
 * Unit tests of the Swarm's pure parts: dial conditions and address resolution, concurrent
 * dialing, the address book, external addresses, the idle timer, the event bus and the
 * reference-counted protocol table.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { generateKeyPair, peerIdFromPrivateKey } from '../../../src/identity/index.ts'
import type { Connection } from '../../../src/core/transport.ts'
import { AbortError } from '../../../src/core/errors.ts'
import {
  AllAddressesFailedError, checkDialCondition, dialConcurrently, resolveDialAddresses
} from '../../../src/core/swarm/dial.ts'
import { AddressBook, splitP2p } from '../../../src/core/swarm/address-book.ts'
import { ExternalAddresses } from '../../../src/core/swarm/external-addresses.ts'
import { IdleTimer } from '../../../src/core/swarm/idle.ts'
import { SwarmEventBus, SwarmEventsLaggedError } from '../../../src/core/swarm/events.ts'
import { RefCountedProtocolTable } from '../../../src/core/swarm/protocol-table.ts'
import { PollQueue } from '../../../src/core/handler.ts'

const peerA = peerIdFromPrivateKey(generateKeyPair())
const peerB = peerIdFromPrivateKey(generateKeyPair())
const ma = (s: string): Multiaddr => multiaddr(s)

test('dial conditions refuse exactly what they name', () => {
  const states = [
    { connected: false, dialing: false },
    { connected: true, dialing: false },
    { connected: false, dialing: true },
    { connected: true, dialing: true }
  ]
  const allowed = (c: Parameters<typeof checkDialCondition>[0]): boolean[] => states.map(s => checkDialCondition(c, s) === undefined)
  assert.deepEqual(allowed('always'), [true, true, true, true])
  assert.deepEqual(allowed('disconnected'), [true, false, true, false])
  assert.deepEqual(allowed('notDialing'), [true, true, false, false])
  assert.deepEqual(allowed('disconnectedAndNotDialing'), [true, false, false, false])
  assert.equal(checkDialCondition('disconnected', states[1] as never)?.code, 'ERR_DIAL_CONDITION')
})

test('resolveDialAddresses dedupes, strips /p2p/, rejects other peers and undialable addresses, caps the count', () => {
  const a1 = ma('/memory/1')
  const a1p = ma(`/memory/1/p2p/${peerA.toString()}`)
  const other = ma(`/memory/2/p2p/${peerB.toString()}`)
  const tcp = ma('/ip4/127.0.0.1/tcp/1')
  const r = resolveDialAddresses(peerA, [[a1p, a1], [other, tcp, ma('/memory/3')]], a => a.toString().startsWith('/memory'))
  assert.deepEqual(r.addresses.map(String), ['/memory/1', '/memory/3'])
  assert.equal(r.rejected.length, 2)
  assert.equal(r.peerIdText, peerA.toString())
  const capped = resolveDialAddresses(undefined, [[ma('/memory/1'), ma('/memory/2'), ma('/memory/3')]], () => true, 2)
  assert.equal(capped.addresses.length, 2)
  const named = resolveDialAddresses(undefined, [[other]], () => true)
  assert.equal(named.peerIdText, peerB.toString())
})

test('splitP2p separates the peer id', () => {
  const { address, peerIdText } = splitP2p(ma(`/memory/9/p2p/${peerA.toString()}`))
  assert.equal(address.toString(), '/memory/9')
  assert.equal(peerIdText, peerA.toString())
  assert.equal(splitP2p(ma('/memory/9')).peerIdText, undefined)
})

function fakeConnection (name: string, aborted: string[]): Connection {
  const c = new EventEmitter() as unknown as Connection
  Object.assign(c, { id: name, abort: () => { aborted.push(name) } })
  return c
}

test('dialConcurrently keeps at most N in flight, the first success wins and late winners are aborted', async () => {
  const addrs = [1, 2, 3, 4, 5].map(i => ma(`/memory/${i}`))
  let inFlight = 0
  let maxInFlight = 0
  const aborted: string[] = []
  const signals: AbortSignal[] = []
  const result = await dialConcurrently(addrs, async (addr, signal) => {
    signals.push(signal)
    inFlight++
    maxInFlight = Math.max(maxInFlight, inFlight)
    const n = Number(addr.toString().split('/')[2])
    try {
      await new Promise(resolve => setTimeout(resolve, n === 3 ? 5 : n * 30))
      if (n === 1) throw new Error(`fail ${n}`)
      return fakeConnection(`c${n}`, aborted)
    } finally { inFlight-- }
  }, 2)
  assert.equal(maxInFlight, 2)
  assert.equal(result.connection.id, 'c3')
  assert.deepEqual(result.errors.map(e => e.error.message), ['fail 1'])
  assert.ok(signals.every(s => s.aborted), 'the losers are told to stop')
  await new Promise(resolve => setTimeout(resolve, 50))
  assert.deepEqual(aborted, ['c2'], 'a connection that arrives after the winner is aborted')
})

test('dialConcurrently reports every address error when all fail, and honours abort', async () => {
  const addrs = [ma('/memory/1'), ma('/memory/2'), ma('/memory/3')]
  await assert.rejects(dialConcurrently(addrs, async (a) => { throw new Error(`no ${a.toString()}`) }, 2), (err: unknown) => {
    assert.ok(err instanceof AllAddressesFailedError)
    assert.equal(err.addressErrors.length, 3)
    return true
  })
  const controller = new AbortController()
  const p = dialConcurrently(addrs, async (_a, signal) => await new Promise((_resolve, reject) => {
    signal.addEventListener('abort', () => { reject(new Error('aborted')) })
  }), 1, controller.signal)
  controller.abort()
  await assert.rejects(p, AbortError)
})

test('address book: newest first, bounded per peer and in peers, p2p suffix removed', () => {
  const book = new AddressBook({ maxPeers: 2, maxAddressesPerPeer: 2 })
  assert.equal(book.add(peerA, ma('/memory/1')), true)
  assert.equal(book.add(peerA, ma(`/memory/1/p2p/${peerA.toString()}`)), false)
  book.add(peerA, ma('/memory/2'))
  book.add(peerA, ma('/memory/3'))
  assert.deepEqual(book.get(peerA).map(String), ['/memory/3', '/memory/2'])
  const peerC = peerIdFromPrivateKey(generateKeyPair())
  book.add(peerB, ma('/memory/4'))
  book.add(peerA, ma('/memory/3')) // touch A: B becomes least recently used
  book.add(peerC, ma('/memory/5'))
  assert.equal(book.size, 2)
  assert.deepEqual(book.get(peerB), [])
  assert.equal(book.remove(peerA, ma('/memory/3')), true)
  assert.deepEqual(book.get(peerA).map(String), ['/memory/2'])
})

test('external addresses: candidates counted and bounded, confirmed bounded with eviction', () => {
  const ext = new ExternalAddresses(2, 2)
  ext.addCandidate(ma('/memory/1'))
  ext.addCandidate(ma('/memory/1'))
  ext.addCandidate(ma('/memory/2'))
  ext.addCandidate(ma('/memory/3')) // evicts /memory/2 (fewest observations)
  assert.deepEqual(ext.candidates().map(c => [c.address.toString(), c.observations]), [['/memory/1', 2], ['/memory/3', 1]])
  assert.deepEqual(ext.confirm(ma('/memory/1')), { added: true })
  assert.deepEqual(ext.confirm(ma('/memory/1')), { added: false })
  ext.confirm(ma('/memory/2'))
  const r = ext.confirm(ma('/memory/3'))
  assert.equal(r.evicted?.toString(), '/memory/1')
  assert.deepEqual(ext.confirmed().map(String), ['/memory/2', '/memory/3'])
  assert.equal(ext.expire(ma('/memory/2')), true)
  assert.equal(ext.expire(ma('/memory/2')), false)
})

test('idle timer: runs only while not kept alive, restarts after keep-alive', () => {
  const t = new IdleTimer(100, 0)
  assert.equal(t.update(false, 10), 100)
  assert.equal(t.expired(99), false)
  assert.equal(t.expired(100), true)
  assert.equal(t.update(true, 50), undefined)
  assert.equal(t.expired(1000), false)
  assert.equal(t.update(false, 200), 300)
  assert.equal(t.update(false, 250), 300, 'the deadline does not move while idle')
})

test('event bus: typed listeners, throwing listener isolated, iterators end on close, lag detected', async () => {
  const errors: unknown[] = []
  const bus = new SwarmEventBus<string>(err => errors.push(err))
  const seen: string[] = []
  bus.on('behaviour', () => { throw new Error('boom') })
  bus.on('behaviour', (e: { event: string }) => seen.push(e.event))
  const it = bus.iterator(10)
  bus.emit({ type: 'behaviour', event: 'x' })
  bus.emit({ type: 'behaviour', event: 'y' })
  assert.deepEqual(seen, ['x', 'y'])
  assert.equal(errors.length, 2)
  const first = await it.next()
  assert.deepEqual(first.value, { type: 'behaviour', event: 'x' })
  bus.close()
  assert.equal((await it.next()).value?.type, 'behaviour')
  assert.equal((await it.next()).done, true)
  assert.equal(bus.listenerCount(), 0)

  const bus2 = new SwarmEventBus<number>(() => {})
  const slow = bus2.iterator(3)
  for (let i = 0; i < 5; i++) bus2.emit({ type: 'behaviour', event: i })
  await assert.rejects(slow.next(), SwarmEventsLaggedError)
  assert.equal((await slow.next()).done, true)
})

test('protocol table: reference counts per protocol, change only when the union changes', () => {
  const table = new RefCountedProtocolTable()
  let changes = 0
  table.on('change', () => { changes++ })
  const h1 = ['/a', '/b']
  const h2 = ['/b', '/c']
  table.update([], h1)
  table.update([], h2)
  assert.deepEqual([...table.list()].sort(), ['/a', '/b', '/c'])
  assert.equal(changes, 2)
  table.update(h2, [])
  assert.equal(table.has('/b'), true, '/b is still declared by h1')
  assert.equal(table.has('/c'), false)
  table.update(h1, h1)
  assert.equal(changes, 3)
})

test('PollQueue: FIFO, wakes on push after a poll', () => {
  let wakes = 0
  const q = new PollQueue<number>()
  const cx = { now: 0, wake: () => { wakes++ } }
  assert.equal(q.poll(cx), undefined)
  q.push(1)
  q.push(2)
  assert.equal(wakes, 2)
  assert.equal(q.poll(cx), 1)
  assert.equal(q.poll(cx), 2)
  assert.equal(q.poll(cx), undefined)
  for (let i = 0; i < 3000; i++) q.push(i)
  for (let i = 0; i < 3000; i++) assert.equal(q.shift(), i)
  assert.equal(q.length, 0)
})

test('event bus: a once-style wrapper is removed by its original listener', () => {
  const bus = new SwarmEventBus<number>(() => {})
  const seen: number[] = []
  const original = (e: { event: number }): void => { seen.push(e.event) }
  bus.on('behaviour', Object.assign((e: { event: number }) => { original(e) }, { original }))
  bus.off('behaviour', original)
  bus.emit({ type: 'behaviour', event: 1 })
  assert.deepEqual(seen, [])
  assert.equal(bus.listenerCount('behaviour'), 0)
})
