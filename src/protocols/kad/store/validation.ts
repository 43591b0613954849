/**
 * Record validation per key namespace (go-libp2p-record's `NamespacedValidator`). A record key of
 * the form `/<namespace>/<rest>` is checked by the validator registered for `<namespace>`; the
 * validator also selects the best of several valid values (a GET collects values from many peers).
 *
 * Built in: `pk` (public keys: `/pk/<peer id multihash>` → the key's protobuf, valid when the key
 * hashes to that peer id). Applications register others (e.g. `ipns`). Like Go, a key without a
 * registered namespace is rejected unless `acceptUnknownNamespaces` is set (Rust's behaviour:
 * rust-libp2p validates nothing and leaves it to the application).
 */
import { Libp2pError } from '../../../core/errors.ts'
import { PeerId } from '../../../identity/peer-id.ts'
import { publicKeyFromProtobuf } from '../../../identity/index.ts'
import { equalBytes } from '../kbucket/key.ts'

export class RecordValidationError extends Libp2pError {
  constructor (message: string) {
    super('ERR_KAD_INVALID_RECORD', message)
  }
}

export interface RecordValidator {
  /** Throws RecordValidationError when `value` is not a valid record for `key`. */
  validate(key: Uint8Array, value: Uint8Array): void
  /** The index of the best of `values` (each already valid). */
  select(key: Uint8Array, values: readonly Uint8Array[]): number
}

const PK_PREFIX = new TextEncoder().encode('/pk/')

/** `/pk/` records: the value is a public key protobuf whose PeerId is the key's suffix. */
export const publicKeyValidator: RecordValidator = {
  validate (key, value) {
    if (key.byteLength <= PK_PREFIX.byteLength || !equalBytes(key.subarray(0, PK_PREFIX.byteLength), PK_PREFIX)) {
      throw new RecordValidationError('a /pk/ record key must be /pk/ followed by a peer id')
    }
    try {
      publicKeyFromProtobuf(value)
    } catch (err) {
      throw new RecordValidationError(`a /pk/ record value must be a public key protobuf: ${(err as Error).message}`)
    }
    const id = PeerId.fromPublicKeyProtobuf(value)
    if (!equalBytes(id.bytes, key.subarray(PK_PREFIX.byteLength))) {
      throw new RecordValidationError('the public key does not match the peer id in the /pk/ key')
    }
  },
  // Every valid value for one /pk/ key is the same key: any will do.
  select () { return 0 }
}

/** The namespace of `/ns/rest`, or undefined when the key has no such form. */
export function namespaceOf (key: Uint8Array): string | undefined {
  if (key[0] !== 0x2f) return undefined // '/'
  const end = key.indexOf(0x2f, 1)
  if (end <= 1) return undefined
  return Buffer.from(key.buffer, key.byteOffset + 1, end - 1).toString('utf8')
}

export class Validators {
  private readonly map = new Map<string, RecordValidator>([['pk', publicKeyValidator]])

  constructor (extra: Readonly<Record<string, RecordValidator>> = {}, readonly acceptUnknownNamespaces = false) {
    for (const [ns, v] of Object.entries(extra)) this.register(ns, v)
  }

  register (namespace: string, validator: RecordValidator): void {
    if (namespace.includes('/') || namespace === '') throw new RecordValidationError(`bad namespace '${namespace}'`)
    this.map.set(namespace, validator)
  }

  private validatorFor (key: Uint8Array): RecordValidator | undefined {
    const ns = namespaceOf(key)
    const v = ns === undefined ? undefined : this.map.get(ns)
    if (v === undefined && !this.acceptUnknownNamespaces) {
      throw new RecordValidationError(ns === undefined ? 'record key has no /namespace/ prefix' : `no validator for namespace '${ns}'`)
    }
    return v
  }

  /** Throws RecordValidationError when the record is invalid. */
  validate (key: Uint8Array, value: Uint8Array): void {
    this.validatorFor(key)?.validate(key, value)
  }

  /**
   * The index of the best value. Without a validator (unknown namespaces accepted), the value
   * most peers returned wins, ties to the first seen.
   */
  select (key: Uint8Array, values: readonly Uint8Array[]): number {
    if (values.length === 0) throw new RecordValidationError('nothing to select from')
    const v = this.validatorFor(key)
    if (v !== undefined) {
      const i = v.select(key, values)
      if (!Number.isInteger(i) || i < 0 || i >= values.length) throw new RecordValidationError(`selector returned index ${i} of ${values.length}`)
      return i
    }
    let best = 0
    let bestCount = 0
    for (let i = 0; i < values.length; i++) {
      let count = 0
      for (const w of values) if (equalBytes(values[i] as Uint8Array, w)) count++
      if (count > bestCount) { best = i; bestCount = count }
    }
    return best
  }
}
