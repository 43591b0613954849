/**
 * binding.gyp (node-gyp) must build exactly the sources that native/sources.cmake (cmake-js) lists:
 * the same files, once each, in the three module lists.
 */
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** Files named in `set(L2N_*_SOURCES ...)` blocks, comments stripped. */
export function cmakeSources (text: string): string[] {
  const out: string[] = []
  const re = /set\(\s*(L2N_(?:CORE|IO|BINDING)_SOURCES)\b([^)]*)\)/g
  let m: RegExpExecArray | null
  while ((m = re.exec(text)) !== null) {
    for (const line of (m[2] as string).split('\n')) {
      const item = line.replace(/#.*$/, '').trim()
      if (item !== '') out.push(...item.split(/\s+/))
    }
  }
  return out
}

/** The "sources" array of every target, from gyp's Python-literal syntax (comments, trailing commas). */
export function gypSources (text: string): string[] {
  const noComments = text.split('\n').map(l => l.replace(/^\s*#.*$/, '').replace(/\s#\s.*$/, '')).join('\n')
  const out: string[] = []
  const re = /["']sources["']\s*:\s*\[([^\]]*)\]/g
  let m: RegExpExecArray | null
  while ((m = re.exec(noComments)) !== null) {
    for (const s of (m[1] as string).matchAll(/["']([^"']+)["']/g)) out.push(s[1] as string)
  }
  return out
}

function duplicates (list: string[]): string[] {
  const seen = new Set<string>()
  return list.filter(x => seen.has(x) || !(seen.add(x), true))
}

it('binding.gyp names the same sources as native/sources.cmake', () => {
  const cmake = cmakeSources(readFileSync(join(root, 'native', 'sources.cmake'), 'utf8'))
  const gyp = gypSources(readFileSync(join(root, 'binding.gyp'), 'utf8'))
  assert.ok(cmake.length > 0, 'sources.cmake lists sources')
  assert.deepEqual(duplicates(cmake), [], 'sources.cmake names a file twice')
  assert.deepEqual(duplicates(gyp), [], 'binding.gyp names a file twice')
  const onlyCmake = cmake.filter(s => !gyp.includes(s))
  const onlyGyp = gyp.filter(s => !cmake.includes(s))
  assert.deepEqual({ onlyCmake, onlyGyp }, { onlyCmake: [], onlyGyp: [] })
  for (const s of cmake) assert.ok(existsSync(join(root, s)), `${s} exists`)
})

it('the parsers see what they should (a mismatch would be caught)', () => {
  const cmake = cmakeSources('set(L2N_CORE_SOURCES\n  a.cpp # x\n  b.cpp\n)\nset(OTHER\n c.cpp\n)\nset(L2N_IO_SOURCES\n)\n')
  assert.deepEqual(cmake, ['a.cpp', 'b.cpp'])
  const gyp = gypSources('{ "targets": [ { "sources": [\n # "z.cpp",\n "a.cpp", "b.cpp", ], "x": ["c.cpp"] } ] }')
  assert.deepEqual(gyp, ['a.cpp', 'b.cpp'])
})
