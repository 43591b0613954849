/**
 * The addon loaded only inside worker_threads Workers: every way a worker ends (process.exit with
 * live connections, close then return, close then process.exit, terminate() in the middle of a
 * transfer), TCP and QUIC, threaded and inline, must leave the process running. Node unloads a
 * worker's addons when its environment goes (the main thread never does), and before the addon
 * pinned itself (native/binding/addon.cpp PinAddonInProcess) every such exit crashed the process
 * with SIGSEGV: libmimalloc, unloaded with us, had left a pthread-key destructor that the worker's
 * thread ran as it exited. The scenarios run in a child process (worker-exit-peer.ts) so a crash
 * fails this test instead of killing the runner.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const SCENARIOS = ['exit', 'close', 'close-exit', 'terminate']
const TRANSPORTS = ['tcp', 'quic']
const THREADS = [1, 0]

describe('addon loaded only in worker threads', () => {
  it('every way a worker exits (TCP and QUIC, threaded and inline) leaves the process alive', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'worker-exit-peer.ts'), '1', SCENARIOS.join(','), TRANSPORTS.join(','), THREADS.join(',')],
      { encoding: 'utf8', timeout: 60000 })
    assert.equal(r.signal, null, `killed by ${String(r.signal)}; stdout: ${r.stdout} stderr: ${r.stderr}`)
    assert.equal(r.status, 0, `stdout: ${r.stdout} stderr: ${r.stderr}`)
    const lines = r.stdout.trim().split('\n')
    const expected: string[] = []
    for (const transport of TRANSPORTS) {
      for (const t of THREADS) {
        for (const s of SCENARIOS) expected.push(`ok ${transport} ${t} ${s}`)
      }
    }
    assert.deepEqual(lines.slice(0, -1), expected)
    assert.equal(lines.at(-1), `done ${expected.length} workers, addon still mapped`)
  })
})
