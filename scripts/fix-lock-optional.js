#!/usr/bin/env node
// This registry serves only some platforms' binaries of packages that ship native code as
// os/cpu-restricted optional dependencies (@chainsafe/libp2p-quic, msgpackr-extract, ...), so the
// lock that `npm install` writes lacks the other platforms' entries and `npm ci` rejects it. This
// adds each missing optional entry (os/cpu/libc taken from the package name; never installed on a
// platform it does not match). Run after any `npm install` that changes the lock.
import { readFileSync, writeFileSync } from 'node:fs'

const OS = { darwin: 'darwin', linux: 'linux', win32: 'win32', freebsd: 'freebsd', android: 'android' }
const CPU = ['arm64', 'x64', 'arm', 'ia32', 'riscv64', 's390x', 'ppc64']

function platformOf (name) {
  const parts = name.split('/').pop().split('-')
  const os = parts.find(p => p in OS)
  const cpu = parts.find(p => CPU.includes(p))
  if (os === undefined || cpu === undefined) return undefined
  const out = { os: [OS[os]], cpu: [cpu] }
  if (parts.includes('musl')) out.libc = ['musl']
  else if (parts.includes('gnu') && os === 'linux') out.libc = ['glibc']
  return out
}

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'))
let added = 0
for (const entry of Object.values(lock.packages)) {
  for (const [dep, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`
    if (lock.packages[key] !== undefined) continue
    const platform = platformOf(dep)
    if (platform === undefined) continue
    lock.packages[key] = { version, ...(entry.dev === true ? { dev: true } : {}), optional: true, ...platform }
    added++
  }
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)))
writeFileSync('package-lock.json', `${JSON.stringify(lock, null, 2)}\n`)
console.error(`fix-lock-optional: added ${added} entries`)
