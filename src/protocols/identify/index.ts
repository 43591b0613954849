/** Identify (`/ipfs/id/1.0.0`, `/ipfs/id/push/1.0.0`): behaviour, handler, message codec. */
export { IdentifyBehaviour, type IdentifyConfig, type IdentifyEvent } from './behaviour.ts'
export { IdentifyHandler, type IdentifyInfo, type IdentifyHandlerEvent, type IdentifyHandlerIn } from './handler.ts'
export { encodeIdentify, decodeIdentify, type IdentifyMessage } from './message.ts'
export * from './constants.ts'

import { IdentifyBehaviour, type IdentifyConfig } from './behaviour.ts'
export function identify (config: IdentifyConfig): IdentifyBehaviour {
  return new IdentifyBehaviour(config)
}
