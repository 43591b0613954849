/**
 * The README examples, run as two processes over TCP: ping prints RTTs and exits; a chat line
 * typed in one process appears in the other and is acknowledged. Skipped without the addon.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))
const skip = !existsSync(new URL('../../build/Release/libp2p_native.node', import.meta.url)) && 'native addon not built'

function run (script: string, args: string[]): { child: ChildProcess, output: () => string, waitFor: (re: RegExp, ms?: number) => Promise<RegExpMatchArray> } {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  const waiters: Array<() => void> = []
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); for (const w of waiters.splice(0)) w() })
  child.stderr?.on('data', (d: Buffer) => { out += d.toString() })
  const waitFor = async (re: RegExp, ms = 20_000): Promise<RegExpMatchArray> => {
    const end = Date.now() + ms
    while (true) {
      const m = out.match(re)
      if (m !== null) return m
      if (Date.now() > end) throw new Error(`timed out waiting for ${re} in:\n${out}`)
      await new Promise<void>(resolve => { waiters.push(resolve); setTimeout(resolve, 100) })
    }
  }
  return { child, output: () => out, waitFor }
}

async function exitCode (child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode
  return await new Promise(resolve => child.once('exit', resolve))
}

test('examples/ping.ts: two processes, RTTs, clean exit', { skip, timeout: 60_000 }, async () => {
  const server = run('examples/ping.ts', [])
  try {
    const [, addr] = await server.waitFor(/listening on (\S+)/)
    const client = run('examples/ping.ts', [addr as string, '2'])
    assert.equal(await exitCode(client.child), 0, client.output())
    assert.equal(client.output().match(/ping \S+: \d+\.\d\d ms/g)?.length, 2, client.output())
    assert.match(client.output(), /runs libp2p-native-example\/ping/)
  } finally {
    server.child.kill('SIGINT')
    await exitCode(server.child)
  }
})

test('examples/chat.ts: a line typed in one process appears in the other and is acknowledged', { skip, timeout: 60_000 }, async () => {
  const a = run('examples/chat.ts', [])
  let b: ReturnType<typeof run> | undefined
  try {
    const [, addr] = await a.waitFor(/listening on (\S+)/)
    b = run('examples/chat.ts', [addr as string])
    await b.waitFor(/joined/)
    b.child.stdin?.write('hello from b\n')
    await a.waitFor(/<\w{6}> hello from b/)
    await b.waitFor(/delivered in \d+\.\d ms/)
    b.child.stdin?.end()
    assert.equal(await exitCode(b.child), 0)
  } finally {
    a.child.stdin?.end()
    await exitCode(a.child)
    if (b !== undefined && b.child.exitCode === null) b.child.kill()
  }
})
