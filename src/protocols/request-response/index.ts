/** Request-response over any codec: behaviour, handler, codecs (bytes, JSON, CBOR), limits. */
export { RequestResponseBehaviour, type RequestResponseConfig, type RequestResponseEvent, type ResponseChannel, type ProtocolSupport } from './behaviour.ts'
export { RequestResponseHandler, type OutboundRequestId, type InboundRequestId } from './handler.ts'
export { bytesCodec, jsonCodec, cborCodec, type RequestResponseCodec } from './codec.ts'
export * from './constants.ts'

import { RequestResponseBehaviour, type RequestResponseConfig } from './behaviour.ts'
export function requestResponse<Req, Res> (config: RequestResponseConfig<Req, Res>): RequestResponseBehaviour<Req, Res> {
  return new RequestResponseBehaviour(config)
}
