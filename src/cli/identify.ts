/**
 * `libp2p-native identify <multiaddr>`: identifies a peer through a Swarm and prints one JSON
 * object: its id, agent and protocol versions, protocols, listen addresses (from its signed peer
 * record when it sent a valid one), whether that record verified, and the address it observed for us.
 * Exit code 0 on success, 1 when the peer could not be reached or identified, 2 on bad usage.
 */
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import { InvalidArgumentError } from '../core/errors.ts'
import type { TransportFactory } from '../core/transport.ts'
import { IdentifyBehaviour, IDENTIFY_PROTOCOL, type IdentifyEvent } from '../protocols/identify/index.ts'
import { StreamUpgradeError } from '../core/handler.ts'
import { parseMultiaddr } from '../utils/multiaddr.ts'
import { connectOnce } from './swarm-node.ts'

export const USAGE = `usage: libp2p-native identify <multiaddr> [--timeout ms]
`
export const DEFAULT_TIMEOUT_MS = 10_000

export interface CliIO { stdout: { write: (s: string) => unknown }, stderr: { write: (s: string) => unknown } }
const processIO: CliIO = { stdout: process.stdout, stderr: process.stderr }

export async function main (argv: string[], io: CliIO = processIO, transport?: TransportFactory): Promise<number> {
  let target, timeout
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { timeout: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true
    })
    if (values.help === true) { io.stdout.write(USAGE); return 0 }
    if (positionals.length !== 1) throw new InvalidArgumentError('one multiaddr is required')
    target = parseMultiaddr(positionals[0] as string)
    timeout = values.timeout === undefined ? DEFAULT_TIMEOUT_MS : Number(values.timeout)
    if (!Number.isSafeInteger(timeout) || timeout < 1) throw new InvalidArgumentError('--timeout must be a positive integer')
  } catch (err) {
    io.stderr.write(`libp2p-native identify: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  const started = Date.now()
  let node
  try {
    node = await connectOnce(target, key => new IdentifyBehaviour({ privateKey: key }), { transport, timeoutMs: timeout })
  } catch (err) {
    io.stderr.write(`libp2p-native identify: ${(err as Error).message}\n`)
    return 1
  }
  const { swarm, peerId } = node
  try {
    const event = await new Promise<IdentifyEvent>((resolve, reject) => {
      const timer = setTimeout(() => { cleanup(); reject(new Error(`no identify answer within ${timeout} ms`)) }, Math.max(1, timeout - (Date.now() - started)))
      const onEvent = (e: { event: IdentifyEvent }): void => {
        if (!e.event.peerId.equals(peerId) || (e.event.type !== 'received' && e.event.type !== 'error')) return
        cleanup()
        resolve(e.event)
      }
      const cleanup = (): void => { clearTimeout(timer); swarm.off('behaviour', onEvent) }
      swarm.on('behaviour', onEvent)
    })
    if (event.type === 'error') throw event.error
    if (event.type !== 'received') throw new Error('unexpected identify event')
    const { info } = event
    io.stdout.write(`${JSON.stringify({
      peerId: peerId.toString(),
      agentVersion: info.agentVersion ?? null,
      protocolVersion: info.protocolVersion ?? null,
      protocols: info.protocols,
      listenAddrs: info.listenAddrs.map(String),
      signedPeerRecord: info.signedPeerRecord !== undefined,
      observedAddr: info.observedAddr?.toString() ?? null
    }, null, 2)}\n`)
    return 0
  } catch (err) {
    io.stderr.write(`libp2p-native identify: ${describe(err as Error)}\n`)
    return 1
  } finally {
    await swarm.close()
  }
}

/** A peer without identify (a perf server, say) fails stream negotiation: say so in words. */
function describe (err: Error): string {
  const unsupported = (err instanceof StreamUpgradeError && err.kind === 'unsupported') || (err as { code?: unknown }).code === 'ERR_UNSUPPORTED_PROTOCOL'
  return unsupported ? `the peer does not speak identify (${IDENTIFY_PROTOCOL}): ${err.message}` : err.message
}

// Also runs directly (`node --import tsx src/cli/identify.ts …`); bin/libp2p-native.js lists it.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const code = await main(process.argv.slice(2))
  process.stdout.write('', () => process.exit(code))
}
