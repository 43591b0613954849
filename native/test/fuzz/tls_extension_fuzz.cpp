// libFuzzer target for what we parse ourselves in libp2p TLS: the SignedKey extension value
// (parse_signed_key, then the keys protobuf and signature check behind it) and the outer
// certificate walk (split_certificate). Whole inputs are also fed to verify_certificate so the
// DER walk runs on certificates GnuTLS accepts as well. Seeds: native/test/corpus/tls_extension/.
#include <cstddef>
#include <cstdint>

#include "core/tls/der.h"
#include "l2n/tls.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  l2n::tls::SignedKey sk;
  if (l2n::tls::parse_signed_key(data, size, sk) == l2n::tls::Error::kNone) {
    if (sk.public_key < data || sk.public_key + sk.public_key_len > data + size) __builtin_trap();
    if (sk.signature < data || sk.signature + sk.signature_len > data + size) __builtin_trap();
    static const uint8_t msg[] = "libp2p-tls-handshake:fuzz";
    (void)l2n::tls::verify_host_signature(sk.public_key, sk.public_key_len, msg, sizeof msg - 1,
                                          sk.signature, sk.signature_len);
    (void)l2n::tls::peer_id_from_public_key(sk.public_key, sk.public_key_len);
  }
  l2n::tls::der::CertificateParts parts;
  if (l2n::tls::der::split_certificate(data, size, parts)) {
    const uint8_t* end = data + size;
    for (auto* t : {&parts.tbs, &parts.spki, &parts.signature_algorithm, &parts.signature})
      if (t->header < data || t->value + t->len > end) __builtin_trap();
  }
  l2n::tls::PeerIdentity id;
  (void)l2n::tls::verify_certificate(data, size, 1763700000, nullptr, 0, id);
  return 0;
}
