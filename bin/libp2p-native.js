#!/usr/bin/env node
// Thin launcher: runs the compiled CLI from dist/ when it exists, else the TypeScript sources
// through tsx (development, no build step). Each command is a module exporting
// `main(argv): Promise<number>` (the exit code).
import { existsSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { dirname, join } from 'node:path'

const COMMANDS = {
  perf: 'cli/perf',
  dht: 'cli/dht',
  node: 'cli/node',
  ping: 'cli/ping',
  identify: 'cli/identify'
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const [command, ...args] = process.argv.slice(2)

if (command === undefined || command === '--help' || command === '-h' || !(command in COMMANDS)) {
  process.stderr.write(`usage: libp2p-native <command> [options]\ncommands: ${Object.keys(COMMANDS).join(', ')}\n`)
  process.exit(command === undefined || command.startsWith('-') ? 0 : 2)
}

const compiled = join(root, 'dist', 'src', `${COMMANDS[command]}.js`)
let entry
if (existsSync(compiled) && process.env.LIBP2P_NATIVE_FROM_SOURCE !== '1') {
  entry = compiled
} else {
  const { register } = await import('tsx/esm/api')
  register()
  entry = join(root, 'src', `${COMMANDS[command]}.ts`)
}
const { main } = await import(pathToFileURL(entry).href)
const code = await main(args)
// Flush stdout before exiting: a perf client's final JSON line must not be lost.
process.stdout.write('', () => process.exit(code))
