/**
 * Native log lines (native/io/log.h) arrive through src/log: a TCP connection's upgrade and close
 * are logged as `native:tcp` records with the connection id and error code when the filter enables
 * them, and no log record crosses the JS boundary when it does not (counted by the binding).
 */
import { it } from 'node:test'
import { connect } from 'node:net'
import assert from 'node:assert/strict'
import { NativeHost, type ConnectionSink, type ConnInfo } from '../../src/native/host.ts'
import { Code } from '../../src/native/protocol.ts'
import { LogConfig, type LogRecord } from '../../src/log/index.ts'
import { buildNoisePayload, generateKeyPair, generateNoiseStaticKeyPair } from '../../src/identity/index.ts'
import { withTimeout } from '../helpers/timeout.ts'

const YAMUX = '/yamux/1.0.0'

function makeHost (log: LogConfig): NativeHost {
  const statics = generateNoiseStaticKeyPair()
  const host = new NativeHost({
    threads: 1,
    staticSecret: statics.secretKey,
    staticPublic: statics.publicKey,
    payload: buildNoisePayload(generateKeyPair('Ed25519'), statics.publicKey, [YAMUX]),
    maxStreamWindow: 16 * 1024 * 1024,
    flush: 'microtask',
    log
  })
  host.setProtocols(['/echo/1.0.0'])
  return host
}

function connSink (onClosed: (code: number) => void): ConnectionSink {
  const none = (): void => {}
  return {
    onStreamInbound: none, onStreamOpened: none, onStreamOpenFailed: none, onData: none, onRemoteFin: none,
    onRemoteReset: none, onWritten: none, onWriteClosed: none, onStreamReleased: none, onClosed
  }
}

/**
 * The listeners' handles, kept reachable for the whole file: a listener handle that JS drops is
 * closed by its finalizer (native/binding/host_child.h), so a test that kept only the port lost its
 * listener at the first GC (seen as refused dials after ~200 of 400 connections).
 */
const keptListeners: unknown[] = []

async function timeout<T> (p: Promise<T>, what: string, ms = 5000): Promise<T> {
  return await withTimeout(p, ms, what)
}

/** Listener on `server`, dial from `client`, then the client aborts: resolves with both ends' ids and close codes. */
async function connectAndClose (server: NativeHost, client: NativeHost): Promise<{ dialId: number, inboundId: number, serverCode: number }> {
  let serverClosed!: (code: number) => void
  const serverDone = new Promise<number>(resolve => { serverClosed = resolve })
  let inbound!: (info: ConnInfo) => void
  const inboundOpen = new Promise<ConnInfo>(resolve => { inbound = resolve })
  const port = await timeout(new Promise<number>((resolve, reject) => {
    server.listen(server.newId(), '127.0.0.1', 0, {
      onListening: (_host, p, _family, handle) => { keptListeners.push(handle); resolve(p) },
      onListenFailed: (code) => { reject(new Error(`listen failed ${code}`)) },
      onClosed: () => {},
      onInbound: (info) => { inbound(info); return connSink(serverClosed) },
      onInboundFailed: () => {}
    })
  }), 'listening')
  const dialId = client.newId()
  let clientClosed!: (code: number) => void
  const clientDone = new Promise<number>(resolve => { clientClosed = resolve })
  await timeout(new Promise<ConnInfo>((resolve, reject) => {
    client.dial(dialId, '127.0.0.1', port, undefined, {
      onOpen: (info) => { resolve(info); return connSink(clientClosed) },
      onFailed: (code) => { reject(new Error(`dial failed ${code}`)) }
    })
  }), 'dial')
  const info = await timeout(inboundOpen, 'inbound')
  client.closeConnection(dialId, false)
  await timeout(clientDone, 'client close')
  const serverCode = await timeout(serverDone, 'server close')
  return { dialId, inboundId: info.id, serverCode }
}

it('native:tcp logs a connection upgrade and close through the logger, with its id and code', async () => {
  const seen: LogRecord[] = []
  const log = new LogConfig('warn,native:tcp=debug', (r) => { seen.push(r) })
  const server = makeHost(log)
  const client = makeHost(log)
  try {
    const { dialId, inboundId, serverCode } = await connectAndClose(server, client)
    // Log records are delivered with the connection records of the same batch; give the last batch a turn.
    await new Promise(resolve => setTimeout(resolve, 50))
    const native = seen.filter(r => r.component.startsWith('native:'))
    const of = (id: number): LogRecord[] => native.filter(r => r.fields?.conn === id)
    const up = of(dialId).find(r => r.msg.startsWith('connection upgraded'))
    assert.ok(up !== undefined, `outbound upgrade logged: ${JSON.stringify(native)}`)
    assert.equal(up.component, 'native:tcp')
    assert.equal(up.level, 'debug')
    assert.match(up.msg, /outbound to 127\.0\.0\.1:\d+/)
    assert.ok(of(inboundId).some(r => r.msg.startsWith('connection upgraded') && /inbound from/.test(r.msg)), 'inbound upgrade logged')
    const localClose = of(dialId).find(r => r.msg.startsWith('connection closed'))
    assert.ok(localClose !== undefined, 'local close logged')
    assert.equal(localClose.fields?.code, Code.localAbort)
    assert.match(localClose.msg, /closed locally/)
    const remoteClose = of(inboundId).find(r => r.msg.startsWith('connection closed'))
    assert.ok(remoteClose !== undefined, 'remote close logged')
    assert.equal(remoteClose.fields?.code, serverCode)
    assert.notEqual(serverCode, 0)
    assert.ok(client.logRecords() >= 2 && server.logRecords() >= 2, 'records counted at the boundary')
  } finally {
    server.close()
    client.close()
  }
})

it('with native logs off no log record crosses the boundary; a filter change turns them on', async () => {
  const seen: LogRecord[] = []
  const log = new LogConfig('info,native=warn', (r) => { seen.push(r) })
  const server = makeHost(log)
  const client = makeHost(log)
  try {
    await connectAndClose(server, client)
    await new Promise(resolve => setTimeout(resolve, 50))
    assert.equal(client.logRecords() + server.logRecords(), 0)
    assert.deepEqual(seen.filter(r => r.component.startsWith('native:')), [])
    log.setFilter('native:tcp=debug')
    const { dialId } = await connectAndClose(server, client)
    await new Promise(resolve => setTimeout(resolve, 50))
    assert.ok(client.logRecords() > 0, 'records after the filter change')
    assert.ok(seen.some(r => r.component === 'native:tcp' && r.fields?.conn === dialId && r.msg.startsWith('connection upgraded')))
    // Back off again: the count stops growing.
    log.setFilter('off')
    const before = client.logRecords() + server.logRecords()
    await connectAndClose(server, client)
    await new Promise(resolve => setTimeout(resolve, 50))
    assert.equal(client.logRecords() + server.logRecords(), before)
  } finally {
    server.close()
    client.close()
  }
})

/** Listens on 127.0.0.1 (port 0: any); resolves with the port, or rejects with the failure code. */
function listenOn (host: NativeHost, port: number, onInbound: (info: ConnInfo) => ConnectionSink, onInboundFailed: (code: number) => void = () => {}): Promise<number> {
  return timeout(new Promise<number>((resolve, reject) => {
    host.listen(host.newId(), '127.0.0.1', port, {
      onListening: (_host, p, _family, handle) => { keptListeners.push(handle); resolve(p) },
      onListenFailed: (code) => { reject(Object.assign(new Error(`listen failed ${code}`), { nativeCode: code })) },
      onClosed: () => {},
      onInbound,
      onInboundFailed
    })
  }), 'listen')
}

/** Polls `find` until it returns a value or `ms` pass (then returns undefined for the assertion). */
async function eventually<T> (find: () => T | undefined, ms = 2000): Promise<T | undefined> {
  const deadline = Date.now() + ms
  while (true) {
    const found = find()
    if (found !== undefined || Date.now() >= deadline) return found
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

it('a protocol violation and a listener error are logged at warn with their codes', async () => {
  const seen: LogRecord[] = []
  const log = new LogConfig('native=warn', (r) => { seen.push(r) })
  const server = makeHost(log)
  try {
    let failed!: (code: number) => void
    const inboundFailed = new Promise<number>(resolve => { failed = resolve })
    const port = await listenOn(server, 0, () => connSink(() => {}), (code) => { failed(code) })
    // A multistream-select header that is not /multistream/1.0.0: varint length 3, "ab\n".
    const socket = connect(port, '127.0.0.1', () => { socket.write(Uint8Array.of(3, 0x61, 0x62, 0x0a)) })
    socket.on('error', () => {})
    const code = await timeout(inboundFailed, 'inbound failure')
    socket.destroy()
    assert.ok(code >= Code.multistreamBase && code < Code.noiseBase, `multistream error code, got ${code}`)
    // The log line and the failure record may cross in different batches: wait for the line.
    const violation = await eventually(() => seen.find(r => r.component === 'native:tcp' && r.fields?.code === code))
    assert.ok(violation !== undefined, `violation logged: ${JSON.stringify(seen)}`)
    assert.equal(violation.level, 'warn')
    assert.match(violation.msg, /multistream-select negotiation failed/)
    assert.ok(typeof violation.fields?.conn === 'number' && violation.fields.conn !== 0, 'the inbound connection id')
    // The same port again: the listener error is logged with its code.
    const err = await listenOn(server, port, () => connSink(() => {})).then(() => undefined, (e: Error & { nativeCode: number }) => e)
    assert.ok(err !== undefined, 'second listen on the same port fails')
    const listenLine = await eventually(() => seen.find(r => r.component === 'native:tcp' && r.msg.includes(`listen on 127.0.0.1:${port} failed`)))
    assert.ok(listenLine !== undefined, `listener error logged: ${JSON.stringify(seen)}`)
    assert.equal(listenLine.fields?.code, err.nativeCode)
  } finally {
    server.close()
  }
})

it('lines beyond kMaxLogBytesPerBatch in one batch are dropped and counted in one record', async () => {
  // 400 connections closed by one submit: the client's thread writes 400 close lines (about 57
  // bytes each, 22 KiB) in one loop iteration, over the 16 KiB budget (native/io/log.h).
  const N = 400
  const clientSeen: LogRecord[] = []
  const clientLog = new LogConfig('native:tcp=debug,native:io=warn', (r) => { clientSeen.push(r) })
  const server = makeHost(new LogConfig('off', () => {}))
  const client = makeHost(clientLog)
  try {
    let serverClosed = 0
    let allServerClosed!: () => void
    const serverDone = new Promise<void>(resolve => { allServerClosed = resolve })
    // The dialer's connection is open once it sent its last handshake message; the server's only
    // once it read that message. Closing before then would close some that the server never
    // announced, and whose close it therefore never reports: wait for all N on both sides.
    let serverOpened = 0
    let allServerOpened!: () => void
    const serverOpen = new Promise<void>(resolve => { allServerOpened = resolve })
    const port = await listenOn(server, 0, () => {
      if (++serverOpened === N) allServerOpened()
      return connSink(() => { if (++serverClosed === N) allServerClosed() })
    })
    let clientClosed = 0
    let allClientClosed!: () => void
    const clientDone = new Promise<void>(resolve => { allClientClosed = resolve })
    const ids = Array.from({ length: N }, () => client.newId())
    await timeout(Promise.all(ids.map(id => new Promise<void>((resolve, reject) => {
      client.dial(id, '127.0.0.1', port, undefined, {
        onOpen: () => { resolve(); return connSink(() => { if (++clientClosed === N) allClientClosed() }) },
        onFailed: (code) => { reject(new Error(`dial failed ${code}`)) }
      })
    }))), 'dials', 20000)
    await timeout(serverOpen, 'server opens', 20000)
    for (const id of ids) client.closeConnection(id, false)
    await timeout(clientDone, 'client closes')
    await timeout(serverDone, 'server closes')
    await new Promise(resolve => setTimeout(resolve, 50))
    const lines = clientSeen.filter(r => r.component === 'native:tcp')
    const dropped = clientSeen.filter(r => r.component === 'native:io' && typeof r.fields?.dropped === 'number')
    assert.ok(dropped.length > 0, 'a dropped-lines record')
    assert.equal(dropped[0]?.level, 'warn')
    const droppedLines = dropped.reduce((n, r) => n + (r.fields?.dropped as number), 0)
    // Every line is either delivered or counted: N upgrades and N closes.
    assert.equal(lines.length + droppedLines, 2 * N)
    assert.ok(lines.filter(r => r.msg.startsWith('connection closed')).length < N, 'some close lines were dropped')
    assert.equal(server.logRecords(), 0)
  } finally {
    server.close()
    client.close()
  }
})
