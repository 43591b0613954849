/**
 * The addon loaded only inside worker_threads Workers: every way a worker ends (process.exit with
 * live connections, close then return, close then process.exit, terminate() in the middle of a
 * transfer, and a client worker exiting while the server worker it talks to goes on), TCP and QUIC,
 * threaded and inline, must leave the process running. Node unloads a worker's addons when its
 * environment goes (never the main thread's). Before native/binding/addon.cpp's teardown fixes,
 * every such exit crashed the process with SIGSEGV on the default (mimalloc) build: libmimalloc,
 * unloaded with us, had left a pthread-key destructor that the worker's thread ran as it exited.
 * On a system-allocator build the exits with live Hosts crashed in uv__finish_close (close
 * callbacks run after the unload) and terminate() could throw an uncaught Napi::Error. The
 * scenarios run in a child process (worker-exit-peer.ts) so a crash fails this test instead of
 * killing the runner.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadAddon } from '../../src/native/host.ts'

const here = dirname(fileURLToPath(import.meta.url))
const SCENARIOS = ['exit', 'close', 'close-exit', 'terminate', 'pair']
const TRANSPORTS = ['tcp', 'quic']
const THREADS = [1, 0]

/** Runs every scenario once in a child process and checks that each worker ended as it should. */
function runScenarios (env: NodeJS.ProcessEnv, addonAfter: 'still mapped' | 'unloaded'): void {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'worker-exit-peer.ts'), '1', SCENARIOS.join(','), TRANSPORTS.join(','), THREADS.join(',')],
    { encoding: 'utf8', timeout: 60000, env })
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
  const workers = expected.length + TRANSPORTS.length * THREADS.length  // a pair is two workers
  assert.equal(lines.at(-1), `done ${workers} workers, addon ${addonAfter}`)
}

describe('addon loaded only in worker threads', () => {
  it('every way a worker exits (TCP and QUIC, threaded and inline, alone or with a peer worker) leaves the process alive', () => {
    runScenarios(process.env, 'still mapped')
  })

  // The pin keeps the code of a close callback mapped even if it ran after the unload; this checks
  // the teardown order itself (async cleanup hook) with the addon really unloaded at every exit.
  // Only where nothing else needs the pin: the system allocator (scripts/test-io-asan.sh's build).
  const { allocator } = loadAddon()  // in this runner only; the child's main thread never loads it
  it('the same with the addon unloaded at each exit (test hook, system-allocator builds)',
    { skip: allocator === 'system' ? false : `the ${allocator} build needs the pin at every worker exit` }, () => {
      runScenarios({ ...process.env, LIBP2P_NATIVE_TEST_HOOKS: '1', LIBP2P_NATIVE_TEST_UNPINNED: '1' }, 'unloaded')
    })
})
