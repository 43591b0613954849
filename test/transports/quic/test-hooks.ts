/**
 * TEST ONLY: QUIC transports that present a libp2p TLS certificate which is wrong in one chosen
 * way. Validity and a missing extension go through the addon's test-only arguments of
 * quicCertRequest/quicCertFinish (native/binding/quic_cert.cpp), which throw unless
 * LIBP2P_NATIVE_TEST_HOOKS=1; `enableTestHooks()` sets it for this test process only, and nothing
 * in src/ passes those arguments, so a production node cannot present such a certificate. A bad
 * host signature or another key's extension are only what this side signs.
 */
import type { TransportContext } from '../../../src/core/transport.ts'
import type { PrivateKey } from '../../../src/identity/index.ts'
import type { NativeHost } from '../../../src/native/index.ts'
import { QuicTransport, type QuicOptions } from '../../../src/transports/quic/index.ts'

/** What the hook builds (Unix seconds; `extension: false` leaves the libp2p extension out). */
export interface TestCertificateSpec {
  notBefore: number
  notAfter: number
  extension: boolean
  publicKey?: Uint8Array
  sign?: (message: Uint8Array) => Uint8Array
}

/** The addon entries with their test-only arguments (see the top of the file). */
interface HookedAddonHost {
  quicCertRequest: (notBefore: number, notAfter: number) => Uint8Array
  quicCertFinish: (publicKey: Uint8Array, signature: Uint8Array) => void
}

/** Replaces `host`'s certificate with one built from `spec` (before its first listen or dial). */
function installCertificate (host: NativeHost, spec: TestCertificateSpec): void {
  // NativeHost keeps the addon object private; the test-only arguments are for this file alone.
  const addon = (host as unknown as { host: HookedAddonHost }).host
  const message = addon.quicCertRequest(spec.notBefore, spec.notAfter)
  if (!spec.extension) {
    addon.quicCertFinish(new Uint8Array(0), new Uint8Array(0))
    return
  }
  if (spec.publicKey === undefined || spec.sign === undefined) throw new Error('an extension needs publicKey and sign')
  addon.quicCertFinish(spec.publicKey, spec.sign(message))
}

export function enableTestHooks (): void {
  process.env.LIBP2P_NATIVE_TEST_HOOKS = '1'
}

const DAY = 24 * 3600
const now = (): number => Math.floor(Date.now() / 1000)

/** The ways a certificate can be bad, each with what the verifier must say (src/native/protocol.ts TlsErrors). */
export type BadCertificate = 'no extension' | 'bad signature' | 'expired' | 'not yet valid' | 'other key'

/**
 * The spec for `kind`, for a node whose host key is `key`. 'other key' is a certificate that is
 * valid in itself but names `other` instead of the node's own identity (a PeerId the dialer did
 * not ask for).
 */
export function badCertificateSpec (kind: BadCertificate, key: PrivateKey, other?: PrivateKey): TestCertificateSpec {
  const valid = { notBefore: now() - DAY, notAfter: now() + 365 * DAY }
  const signedBy = (k: PrivateKey): Pick<TestCertificateSpec, 'publicKey' | 'sign'> => ({ publicKey: k.publicKey.toProtobuf(), sign: (m) => k.sign(m) })
  switch (kind) {
    case 'no extension': return { ...valid, extension: false }
    // the host key signs other bytes than "libp2p-tls-handshake:" || SPKI
    case 'bad signature': return { ...valid, extension: true, publicKey: key.publicKey.toProtobuf(), sign: (m) => key.sign(m.subarray(1)) }
    case 'expired': return { notBefore: now() - 2 * DAY, notAfter: now() - DAY, extension: true, ...signedBy(key) }
    case 'not yet valid': return { notBefore: now() + DAY, notAfter: now() + 2 * DAY, extension: true, ...signedBy(key) }
    case 'other key':
      if (other === undefined) throw new Error('\'other key\' needs the other key')
      return { ...valid, extension: true, ...signedBy(other) }
  }
}

/** A QUIC transport whose host presents the certificate `spec` instead of its own. */
export class BadCertificateQuic extends QuicTransport {
  private readonly spec: TestCertificateSpec

  constructor (context: TransportContext, options: QuicOptions, spec: TestCertificateSpec) {
    super(context, options)
    this.spec = spec
  }

  protected override createHost (threads: number): NativeHost {
    const host = super.createHost(threads)
    try {
      installCertificate(host, this.spec)  // before the first listen/dial: each thread takes it then
    } catch (err) {
      host.close()  // the transport never saw this host: stop its threads here
      throw err
    }
    return host
  }
}
