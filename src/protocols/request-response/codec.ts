/**
 * Request-response codecs: how a request or response value becomes the bytes of one message
 * (framing — a varint length prefix, and the size limits — is the handler's job). Three are
 * provided: raw bytes, JSON and CBOR. A user's codec implements the same four functions; decoding
 * errors should be thrown, the handler reports them as failures of that request.
 */
import { Encoder } from 'cbor-x'

export interface RequestResponseCodec<Req, Res> {
  encodeRequest(request: Req): Uint8Array
  decodeRequest(bytes: Uint8Array): Req
  encodeResponse(response: Res): Uint8Array
  decodeResponse(bytes: Uint8Array): Res
}

/** Bytes as they are (the decoded value is a copy, safe to keep). */
export function bytesCodec (): RequestResponseCodec<Uint8Array, Uint8Array> {
  return {
    encodeRequest: (r) => r,
    decodeRequest: (b) => b.slice(),
    encodeResponse: (r) => r,
    decodeResponse: (b) => b.slice()
  }
}

/** JSON text in UTF-8 (rust-libp2p's `request_response::json` uses the same wire form). */
export function jsonCodec<Req, Res> (): RequestResponseCodec<Req, Res> {
  const enc = new TextEncoder()
  const dec = new TextDecoder('utf-8', { fatal: true })
  return {
    encodeRequest: (r) => enc.encode(JSON.stringify(r)),
    decodeRequest: (b) => JSON.parse(dec.decode(b)) as Req,
    encodeResponse: (r) => enc.encode(JSON.stringify(r)),
    decodeResponse: (b) => JSON.parse(dec.decode(b)) as Res
  }
}

/**
 * Standard CBOR (RFC 8949) through cbor-x, with its non-standard extensions off (records, typed
 * array tags) so rust-libp2p's `request_response::cbor` (serde) peers read it.
 */
export function cborCodec<Req, Res> (): RequestResponseCodec<Req, Res> {
  // variableMapSize: minimal map headers (a1 rather than b9 0001), as serde encoders write them.
  // Decoded maps are objects without a prototype (no `__proto__` keys from the wire).
  const cbor = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false, variableMapSize: true })
  return {
    encodeRequest: (r) => cbor.encode(r),
    decodeRequest: (b) => cbor.decode(b) as Req,
    encodeResponse: (r) => cbor.encode(r),
    decodeResponse: (b) => cbor.decode(b) as Res
  }
}
