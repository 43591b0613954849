/**
 * The only TypeScript that loads the native addon (build/Release/libp2p_native.node).
 * Transports use NativeHost; errors come through errorFromCode.
 */
export { loadAddon, NativeHost } from './host.ts'
export type { Addon, AddonHost, AddonHandle, ConnInfo, ConnectionSink, ListenerSink, DialSink, NativeHostOptions, NativeQuicOptions } from './host.ts'
export { errorFromCode, nativeCodeOf, type ErrorContext } from './errors.ts'
export * as protocol from './protocol.ts'
