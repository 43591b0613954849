// libFuzzer target for the keys protobuf decoder and signature verification (l2n/identity.h).
// Input: u16be key_len || key protobuf (key_len bytes) || signature (the rest); the message is fixed,
// so seeds holding a real signature over it reach the success path. Checks, besides memory safety:
// PeerIds are well formed, and a protobuf that verifies also parses and has a PeerId.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "l2n/identity.h"

using namespace l2n::identity;

static const char kMsg[] = "libp2p-native identity test vector";

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  size_t key_len = static_cast<size_t>(data[0]) << 8 | data[1];
  if (key_len > size - 2) key_len = size - 2;
  const uint8_t* key = data + 2;
  const uint8_t* sig = key + key_len;
  size_t sig_len = size - 2 - key_len;

  PublicKey k;
  Error pe = parse_public_key(key, key_len, k);
  auto id = peer_id_from_public_key(key, key_len);
  if (pe == Error::kNone) {
    if (k.len > kMaxKeyDataLength) abort();
    if (id.empty()) abort();
    if (id[0] == kMultihashIdentity) {
      if (id.size() > 2 + kMaxInlineKeyLength) abort();
    } else if (id[0] != kMultihashSha256 || id.size() != 34) {
      abort();
    }
  } else if (!id.empty()) {
    abort();
  }
  Error ve = verify(key, key_len, reinterpret_cast<const uint8_t*>(kMsg), sizeof kMsg - 1, sig, sig_len);
  if (pe != Error::kNone && ve != pe) abort();  // parse errors surface unchanged
  return 0;
}
