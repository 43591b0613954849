/**
 * src/native/protocol.ts mirrors native/io/boundary.h, native/io/limits.h and
 * native/include/l2n/errors.h by hand: this test parses the headers and compares, and checks that
 * every native error code maps to a typed error.
 */
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Code, COMMAND_WORDS, Ev, NATIVE_ID_BIT, NativeLogComponents, NativeLogLevels, NO_BUF, Op, RECORD_WORDS } from '../../src/native/protocol.ts'
import { LEVEL_RANK } from '../../src/log/index.ts'
import { errorFromCode, nativeCodeOf } from '../../src/native/errors.ts'
import {
  Libp2pError, PeerIdMismatchError, UnsupportedProtocolError, ProtocolViolationError, HandshakeError,
  TimeoutError, StreamResetError, LimitExceededError, DialError
} from '../../src/core/errors.ts'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const read = (p: string): string => readFileSync(join(root, p), 'utf8')

/** `kName = 12,` members of `enum class <name> ... { ... }`. */
function enumMembers (text: string, name: string): Map<string, number> {
  const m = new RegExp(`enum class ${name}\\b[^{]*\\{([\\s\\S]*?)\\};`).exec(text)
  assert.ok(m !== null, `enum ${name} found`)
  const out = new Map<string, number>()
  for (const e of (m[1] as string).matchAll(/k(\w+)\s*=\s*(\d+)/g)) out.set(e[1] as string, Number(e[2]))
  return out
}

/** `inline constexpr uint32_t kName = <int or base + int>;` */
function constants (text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const m of text.matchAll(/inline constexpr uint32_t k(\w+)\s*=\s*([^;]+);/g)) {
    const expr = (m[2] as string).trim()
    const sum = /^k(\w+)\s*\+\s*(\d+)$/.exec(expr)
    if (sum !== null) out.set(m[1] as string, (out.get(sum[1] as string) as number) + Number(sum[2]))
    else if (/^(0x[0-9a-f]+u?|\d+)$/i.test(expr)) out.set(m[1] as string, Number(expr.replace(/u$/i, '')))
  }
  return out
}

const lowerFirst = (s: string): string => s.charAt(0).toLowerCase() + s.slice(1)

it('command ops and record types match native/io/boundary.h', () => {
  const boundary = read('native/io/boundary.h')
  const ops = enumMembers(boundary, 'Op')
  for (const [name, value] of ops) {
    if (name === 'Adopt') continue  // internal to native
    assert.equal((Op as Record<string, number>)[lowerFirst(name)], value, `Op.${lowerFirst(name)}`)
  }
  assert.equal(Object.keys(Op).length, ops.size - 1)
  const evs = enumMembers(boundary, 'Ev')
  for (const [name, value] of evs) assert.equal((Ev as Record<string, number>)[lowerFirst(name)], value, `Ev.${lowerFirst(name)}`)
  assert.equal(Object.keys(Ev).length, evs.size)
  assert.equal(Number(/kCommandWords = (\d+)/.exec(boundary)?.[1]), COMMAND_WORDS)
  assert.equal(Number(/kNoBuf = (0x[0-9a-f]+)u/.exec(boundary)?.[1]), NO_BUF)
  assert.equal(RECORD_WORDS, 8)
  assert.equal(Number(/kNativeIdBit = (0x[0-9a-f]+)u/.exec(read('native/io/limits.h'))?.[1]), NATIVE_ID_BIT)
})

it('error codes match native/include/l2n/errors.h', () => {
  const codes = constants(read('native/include/l2n/errors.h'))
  assert.ok(codes.size > 20)
  for (const [name, value] of codes) {
    const ts = (Code as Record<string, number>)[lowerFirst(name)]
    // named members of the engine blocks (kMssUnsupportedProtocol, ...) are derived in TS
    if (ts === undefined && /^(Mss|Noise|Yamux)/.test(name)) continue
    assert.equal(ts, value, `Code.${lowerFirst(name)}`)
  }
})

it('every code maps to a typed error that carries it', () => {
  const codes = constants(read('native/include/l2n/errors.h'))
  for (const [name, value] of codes) {
    if (value === 0 || name.endsWith('Base')) continue
    const err = errorFromCode(value)
    assert.ok(err instanceof Libp2pError, name)
    assert.equal(nativeCodeOf(err), value)
    assert.notEqual(err.code, 'ERR_NATIVE', `${name} has a specific mapping`)
  }
  assert.ok(errorFromCode(codes.get('NoisePeerIdMismatch') as number, { expectedPeer: 'a', actualPeer: 'b' }) instanceof PeerIdMismatchError)
  assert.ok(errorFromCode(codes.get('MssUnsupportedProtocol') as number, { protocols: ['/x'] }) instanceof UnsupportedProtocolError)
  assert.ok(errorFromCode(Code.yamuxBase + 1) instanceof ProtocolViolationError)
  assert.ok(errorFromCode(Code.noiseBase + 2) instanceof HandshakeError)
  assert.ok(errorFromCode(Code.noiseBase + 2, { established: true }) instanceof ProtocolViolationError)
  assert.ok(errorFromCode(Code.handshakeTimeout) instanceof TimeoutError)
  assert.ok(errorFromCode(Code.streamRemoteReset) instanceof StreamResetError)
  assert.ok(errorFromCode(Code.tooManyConnections) instanceof LimitExceededError)
  assert.ok(errorFromCode(Code.connectRefused) instanceof DialError)
  assert.equal(errorFromCode(99999).code, 'ERR_NATIVE')
})

it('engine error names follow the engines’ enums (value = index)', async () => {
  const { MultistreamErrors, NoiseErrors, YamuxErrors, IdentityErrors } = await import('../../src/native/protocol.ts')
  const members = (header: string): string[] => {
    const m = /enum class Error : uint8_t \{([\s\S]*?)\};/.exec(read(header))
    assert.ok(m !== null, header)
    return (m[1] as string).replace(/\/\/[^\n]*/g, '').split(',').map(s => s.trim()).filter(s => s !== '')
  }
  const norm = (s: string): string => s.replace(/^k/, '').replace(/[^a-z0-9]/gi, '').toLowerCase()
  for (const [header, names] of [
    ['native/include/l2n/multistream.h', MultistreamErrors],
    ['native/include/l2n/noise.h', NoiseErrors],
    ['native/include/l2n/yamux.h', YamuxErrors],
    ['native/include/l2n/identity.h', IdentityErrors]
  ] as const) {
    const native = members(header).map(norm)
    assert.deepEqual(names.map(n => norm(n)), native, header)
  }
})

it('native log components and levels match native/io/log.h and src/log ranks', () => {
  const header = read('native/io/log.h')
  const comps = enumMembers(header, 'LogComponent')
  assert.equal(comps.size, NativeLogComponents.length)
  for (const [name, value] of comps) assert.equal(NativeLogComponents[value], `native:${name.toLowerCase()}`, `LogComponent k${name}`)
  assert.equal(Number(/kLogComponents = (\d+)/.exec(header)?.[1]), NativeLogComponents.length)
  const levels = enumMembers(header, 'LogLevel')
  assert.equal(levels.size, NativeLogLevels.length)
  for (const [name, value] of levels) {
    const level = NativeLogLevels[value]
    assert.equal(level, name.toLowerCase(), `LogLevel k${name}`)
    assert.equal(LEVEL_RANK[level as keyof typeof LEVEL_RANK], value, `${name} has src/log's rank`)
  }
})
