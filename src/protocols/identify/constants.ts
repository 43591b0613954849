/** Identify (libp2p/specs identify/README.md). */
export const IDENTIFY_PROTOCOL = '/ipfs/id/1.0.0'
export const IDENTIFY_PUSH_PROTOCOL = '/ipfs/id/push/1.0.0'
/** The protocol family string the spec names; sent as `protocolVersion`. */
export const DEFAULT_PROTOCOL_VERSION = 'ipfs/0.1.0'
export const DEFAULT_AGENT_VERSION = 'libp2p-native/0.1.0'
/**
 * Largest Identify message accepted. js-libp2p's identify uses 8 KiB (rust-libp2p 4 KiB); we take
 * the larger so js-libp2p peers with many protocols and addresses are understood.
 */
export const MAX_IDENTIFY_MESSAGE_SIZE = 8 * 1024
/** Listen addresses and protocols kept from one message; the rest is ignored (address book bound). */
export const MAX_IDENTIFY_ADDRESSES = 32
export const MAX_IDENTIFY_PROTOCOLS = 256
/** A string field longer than this is a violation (an agent string is short). */
export const MAX_IDENTIFY_STRING_LENGTH = 1024
/** Re-identify each connection this often; rust-libp2p's identify interval default (5 min). */
export const DEFAULT_IDENTIFY_INTERVAL_MS = 5 * 60 * 1000
/** An identify exchange (open, read, verify) must finish within this; js-libp2p uses 5 s. */
export const DEFAULT_IDENTIFY_TIMEOUT_MS = 5_000
/**
 * After answering an identify request we wait this long for the requester to close first (see
 * handler.ts: js-libp2p 3 cannot read a message that arrives with our FIN). Requesters close right
 * after reading, within a round trip; 1 s covers slow links without holding streams long.
 */
export const IDENTIFY_CLOSE_GRACE_MS = 1_000
/**
 * Identify exchanges in progress per connection; an inbound stream beyond it is reset. A peer needs
 * one request and the odd push at a time; rust-libp2p's identify handler allows 10.
 */
export const MAX_CONCURRENT_IDENTIFY_STREAMS = 10
/**
 * A failed identify request (stream not opened in time, I/O error, exchange past its deadline) is
 * retried after this delay, doubled per retry, instead of only at the next interval (5 min). Not in
 * rust-libp2p or js-libp2p, which wait for the interval: a request the remote never saw (a busy
 * node, a stream lost in transit) would leave the peer unidentified for minutes. 1 s lets a busy
 * remote catch up and is small beside the 5 s exchange timeout.
 */
export const IDENTIFY_RETRY_DELAY_MS = 1_000
/** Retries after a failed request before waiting for the interval: 3 (1 s, 2 s, 4 s) spans about half a minute with timeouts. */
export const MAX_IDENTIFY_RETRIES = 3
