/**
 * The addon replaces three nettle functions that libgnutls calls (native/core/tls/gnutls_fast_ops.cpp)
 * and libgnutls's own peer-certificate import (gnutls_pcert_cache.cpp): when Node loads the addon,
 * the dynamic linker must bind libgnutls's references to the addon's definitions, not to
 * libhogweed's or libgnutls's own. A child node loads the addon with every symbol bound at load
 * time (LD_BIND_NOW) and the linker's binding trace on (LD_DEBUG=bindings), and this test reads
 * where each one went. It fails on an addon without the modules (they bind to libhogweed or libgnutls).
 */
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { resolve } from 'node:path'
import { findAddonPath } from '../../src/native/host.ts'

const SYMBOLS = ['nettle_ecdsa_verify', 'nettle_curve25519_mul', 'nettle_curve25519_mul_g', 'gnutls_pcert_import_x509_raw']

it('libgnutls binds nettle_ecdsa_verify, nettle_curve25519_mul(_g) and gnutls_pcert_import_x509_raw to the addon', () => {
  const addonPath = resolve(findAddonPath())
  const child = spawnSync(process.execPath, ['-e', 'require(process.argv[1])', addonPath], {
    env: { ...process.env, LD_BIND_NOW: '1', LD_DEBUG: 'bindings' },
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024
  })
  assert.equal(child.status, 0, child.stderr.slice(-2000))
  for (const sym of SYMBOLS) {
    // e.g. "binding file /lib/x86_64-linux-gnu/libgnutls.so.30 [0] to /.../libp2p_native.node [0]: normal symbol `nettle_ecdsa_verify' [HOGWEED_6]"
    const line = child.stderr.split('\n').find(l => /libgnutls\.so/.test(l.split(' to ')[0] ?? '') && l.includes(`symbol \`${sym}'`))
    assert.ok(line !== undefined, `no binding of ${sym} from libgnutls in the linker trace`)
    const target = line.split(' to ')[1] ?? ''
    assert.ok(target.startsWith(addonPath), `libgnutls's ${sym} bound to ${target.split(' ')[0]}, not to the addon`)
  }
})
