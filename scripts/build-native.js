#!/usr/bin/env node
// Builds the addon with cmake-js against this Node's own headers (never downloads any).
// Env: LIBP2P_NATIVE_ALLOCATOR=system|mimalloc|jemalloc, LIBP2P_NATIVE_MARCH_NATIVE=1,
//      LIBP2P_NATIVE_BUILD_TYPE=Release|RelWithDebInfo|Debug, LIBP2P_NATIVE_OUT=<dir> (default build/).
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const nodeDir = resolve(dirname(process.execPath), '..')
if (!existsSync(join(nodeDir, 'include', 'node', 'node_api.h'))) {
  console.error(`build-native: Node headers not found under ${nodeDir}/include/node; install them (Debian: nodejs headers) first`)
  process.exit(1)
}
// Default mimalloc: faster than glibc malloc in every paired round of bench/allocator (README there).
const allocator = process.env.LIBP2P_NATIVE_ALLOCATOR ?? 'mimalloc'
const marchNative = process.env.LIBP2P_NATIVE_MARCH_NATIVE === '1' ? 'ON' : 'OFF'
const buildType = process.env.LIBP2P_NATIVE_BUILD_TYPE ?? 'Release'
const out = process.env.LIBP2P_NATIVE_OUT ?? join(root, 'build')
const args = [
  join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js'), 'build',
  '--directory', root, '--out', out, '--config', buildType, '--parallel', '2', '--prefer-make',
  `--CDL2N_ALLOCATOR=${allocator}`, `--CDL2N_MARCH_NATIVE=${marchNative}`, `--CDCMAKE_BUILD_TYPE=${buildType}`,
  '--log-level', 'warn',
]
const result = spawnSync(process.execPath, args, {
  stdio: 'inherit',
  env: { ...process.env, npm_config_nodedir: nodeDir },
})
process.exit(result.status ?? 1)
