/** Request-response limits and defaults. */

/** A request or response not completed in this time fails; rust-libp2p's default request timeout (10 s). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000
/** Largest request accepted: rust-libp2p's cbor/json codecs cap requests at 1 MiB. */
export const DEFAULT_MAX_REQUEST_SIZE = 1024 * 1024
/** Largest response accepted: rust-libp2p's cbor/json codecs cap responses at 10 MiB. */
export const DEFAULT_MAX_RESPONSE_SIZE = 10 * 1024 * 1024
/**
 * Inbound requests in progress per connection; more are refused (stream reset). rust-libp2p's
 * `max_concurrent_streams` default is 100.
 */
export const DEFAULT_MAX_CONCURRENT_INBOUND = 100
/**
 * Requests waiting for a connection to their peer (dialing), across all peers. Beyond it
 * `sendRequest` fails at once instead of queueing without bound.
 */
export const MAX_PENDING_OUTBOUND_REQUESTS = 10_000
