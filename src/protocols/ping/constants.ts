/** The ping protocol (libp2p/specs ping/ping.md). */
export const PING_PROTOCOL = '/ipfs/ping/1.0.0'
/** Each ping is 32 random bytes, echoed back unchanged (ping spec). */
export const PING_LENGTH = 32
/** A ping without its echo after this long fails: rust-libp2p ping's default timeout (20 s). */
export const PING_TIMEOUT_MS = 20_000
