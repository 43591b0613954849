/**
 * .gitignore ignores the build output at the root (build/, build-*) but not source folders that
 * happen to be called build, such as test/build/ (this file's own folder).
 */
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const skip = existsSync(join(root, '.git')) ? false : 'not a git checkout'

/** Whether git would ignore `path` (relative to the root), tracked or not (`--no-index`). */
function ignored (path: string): boolean {
  const r = spawnSync('git', ['check-ignore', '-q', '--no-index', path], { cwd: root })
  assert.ok(r.status === 0 || r.status === 1, `git check-ignore failed: ${String(r.stderr)}`)
  return r.status === 0
}

it('ignores the root build folders but not test/build/', { skip }, () => {
  assert.equal(ignored('build/Release/libp2p_native.node'), true)
  assert.equal(ignored('build-native-test/noise_test'), true)
  assert.equal(ignored('test/build/sources-match.test.ts'), false)
  assert.equal(ignored('test/build/a-new.test.ts'), false)
})
