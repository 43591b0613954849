#!/usr/bin/env node
// The registry here serves only the linux-x64-gnu binary of @chainsafe/libp2p-quic, so the lock
// that `npm install` writes lacks the other platforms' optional entries and `npm ci` rejects it.
// This adds those entries (os/cpu-restricted, optional, never installed on this platform).
// Run after `npm install` changes the lock.
import { readFileSync, writeFileSync } from 'node:fs'

const PLATFORMS = {
  'darwin-arm64': { os: ['darwin'], cpu: ['arm64'] },
  'darwin-x64': { os: ['darwin'], cpu: ['x64'] },
  'linux-arm64-gnu': { os: ['linux'], cpu: ['arm64'], libc: ['glibc'] },
  'linux-arm64-musl': { os: ['linux'], cpu: ['arm64'], libc: ['musl'] },
  'linux-x64-gnu': { os: ['linux'], cpu: ['x64'], libc: ['glibc'] },
  'linux-x64-musl': { os: ['linux'], cpu: ['x64'], libc: ['musl'] },
  'win32-x64-msvc': { os: ['win32'], cpu: ['x64'] },
}
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'))
let added = 0
for (const [path, entry] of Object.entries(lock.packages)) {
  for (const [dep, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const m = /^@chainsafe\/libp2p-quic-(.+)$/.exec(dep)
    if (m === null || PLATFORMS[m[1]] === undefined) continue
    const key = `${path === '' ? '' : `${path}/`}node_modules/${dep}`.replace(/^\//, '')
    const flat = `node_modules/${dep}`
    if (lock.packages[key] !== undefined || lock.packages[flat] !== undefined) continue
    lock.packages[flat] = { version, dev: entry.dev, optional: true, license: 'MIT', ...PLATFORMS[m[1]] }
    added++
  }
}
const sorted = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)))
lock.packages = sorted
writeFileSync('package-lock.json', `${JSON.stringify(lock, null, 2)}\n`)
console.error(`fix-lock-optional: added ${added} entries`)
