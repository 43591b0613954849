// Host-key signatures and PeerIds for the libp2p TLS extension: thin forwards to l2n/identity.h
// (keys protobuf, the four key types, PeerId rules), mapping its errors onto the TLS ones.
#include "l2n/identity.h"
#include "l2n/tls.h"

namespace l2n::tls {

Error verify_host_signature(const uint8_t* key_pb, size_t key_len, const uint8_t* msg,
                            size_t msg_len, const uint8_t* sig, size_t sig_len) {
  switch (identity::verify(key_pb, key_len, msg, msg_len, sig, sig_len)) {
    case identity::Error::kNone: return Error::kNone;
    case identity::Error::kBadProtobuf: return Error::kBadExtension;
    case identity::Error::kUnsupportedKeyType: return Error::kUnsupportedKeyType;
    case identity::Error::kBadKey: return Error::kBadExtension;  // malformed key, or RSA size out of bounds
    case identity::Error::kBadSignature: return Error::kBadHostSignature;
  }
  return Error::kBadHostSignature;
}

std::vector<uint8_t> peer_id_from_public_key(const uint8_t* key_pb, size_t len) {
  return identity::peer_id_from_public_key(key_pb, len);
}

}  // namespace l2n::tls
