/**
 * Key files: the keys protobuf `PrivateKey` bytes, as go-libp2p, kubo and js-libp2p store them,
 * written with mode 0600 (owner read/write only).
 */
import { readFile, writeFile, rename, chmod, stat } from 'node:fs/promises'
import type { PrivateKey } from './types.ts'
import { InvalidArgumentError } from '../core/errors.ts'
import { privateKeyFromProtobuf } from './keys/index.ts'
import { generateKeyPair } from './keys/index.ts'
import { MAX_KEY_PROTOBUF_LENGTH } from './keys/protobuf.ts'

/** Owner read/write only: a private key file must not be readable by others. */
export const KEY_FILE_MODE = 0o600

export class KeyFileError extends InvalidArgumentError {
  readonly path: string
  constructor (path: string, message: string, options?: { cause?: unknown }) {
    super(`key file ${path}: ${message}`)
    this.path = path
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause
  }
}

/** Writes the key atomically (temporary file, then rename) with mode 0600. */
export async function saveKeyFile (path: string, key: PrivateKey): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, key.toProtobuf(), { mode: KEY_FILE_MODE, flag: 'w' })
  await chmod(tmp, KEY_FILE_MODE)
  await rename(tmp, path)
}

/** Reads a key file; throws KeyFileError saying what is wrong with it. */
export async function loadKeyFile (path: string): Promise<PrivateKey> {
  let info
  try {
    info = await stat(path)
  } catch (err) {
    throw new KeyFileError(path, `cannot read: ${(err as Error).message}`, { cause: err })
  }
  if (!info.isFile()) throw new KeyFileError(path, 'not a regular file')
  if (info.size > MAX_KEY_PROTOBUF_LENGTH) throw new KeyFileError(path, `is ${info.size} bytes, larger than any libp2p private key (${MAX_KEY_PROTOBUF_LENGTH})`)
  const bytes = await readFile(path)
  if (bytes.byteLength === 0) throw new KeyFileError(path, 'is empty')
  try {
    return privateKeyFromProtobuf(bytes)
  } catch (err) {
    throw new KeyFileError(path, `is not a libp2p PrivateKey protobuf: ${(err as Error).message}`, { cause: err })
  }
}

/** Loads the key at `path`, or generates an Ed25519 key and saves it there if the file is absent. */
export async function loadOrCreateKeyFile (path: string): Promise<PrivateKey> {
  try {
    await stat(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new KeyFileError(path, `cannot read: ${(err as Error).message}`, { cause: err })
    const key = generateKeyPair('Ed25519')
    await saveKeyFile(path, key)
    return key
  }
  return await loadKeyFile(path)
}
