/**
 * The keys protobuf of the peer-ids spec:
 *   enum KeyType { RSA = 0; Ed25519 = 1; Secp256k1 = 2; ECDSA = 3; }
 *   message PublicKey  { required KeyType Type = 1; required bytes Data = 2; }
 *   message PrivateKey { required KeyType Type = 1; required bytes Data = 2; }
 * Encoding is deterministic (Type then Data, both always present), as PeerIds hash these bytes.
 */
import type { KeyType } from '../types.ts'
import { ProtobufError, ProtobufWriter, WIRE_LEN, WIRE_VARINT, readFields } from '../protobuf.ts'

export const KEY_TYPE_CODES: Readonly<Record<KeyType, number>> = { RSA: 0, Ed25519: 1, secp256k1: 2, ECDSA: 3 }
const KEY_TYPES_BY_CODE: readonly KeyType[] = ['RSA', 'Ed25519', 'secp256k1', 'ECDSA']

/**
 * Longest keys protobuf accepted. The largest legitimate one is an RSA private key at the
 * maximum RSA size we accept (8192 bits, see rsa.ts): PKCS#1 DER of about 4.7 KB. 16 KiB leaves
 * room and bounds what a remote or a key file can make us parse.
 */
export const MAX_KEY_PROTOBUF_LENGTH = 16 * 1024

export function encodeKeyProtobuf (type: KeyType, data: Uint8Array): Uint8Array {
  return new ProtobufWriter().varint(1, KEY_TYPE_CODES[type]).bytes(2, data).finish()
}

export interface DecodedKey { type: KeyType, data: Uint8Array }

/** Decodes a PublicKey or PrivateKey message; both fields are required. `data` is a copy. */
export function decodeKeyProtobuf (buf: Uint8Array): DecodedKey {
  if (buf.byteLength > MAX_KEY_PROTOBUF_LENGTH) throw new ProtobufError(`key protobuf longer than ${MAX_KEY_PROTOBUF_LENGTH} bytes`)
  let code: number | undefined
  let data: Uint8Array | undefined
  for (const f of readFields(buf)) {
    if (f.field === 1) {
      if (f.wireType !== WIRE_VARINT) throw new ProtobufError('key protobuf: Type has the wrong wire type')
      code = f.varint
    } else if (f.field === 2) {
      if (f.wireType !== WIRE_LEN) throw new ProtobufError('key protobuf: Data has the wrong wire type')
      data = f.bytes
    }
  }
  if (code === undefined) throw new ProtobufError('key protobuf: missing Type')
  if (data === undefined) throw new ProtobufError('key protobuf: missing Data')
  const type = KEY_TYPES_BY_CODE[code]
  if (type === undefined) throw new ProtobufError(`key protobuf: unknown key type ${code}`)
  return { type, data: data.slice() }
}
