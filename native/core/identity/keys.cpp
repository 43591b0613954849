// The keys protobuf and PeerIds (libp2p/specs peer-ids/peer-ids.md).
#include <cstring>

#include "l2n/crypto.h"
#include "l2n/identity.h"
#include "core/protobuf/reader.h"

namespace l2n::identity {
namespace {
constexpr uint32_t kFieldType = 1;
constexpr uint32_t kFieldData = 2;
constexpr uint64_t kMaxKeyType = static_cast<uint64_t>(KeyType::kECDSA);
}  // namespace

Error parse_public_key(const uint8_t* key_protobuf, size_t len, PublicKey& out) {
  if (len > kMaxKeyProtobufLength) return Error::kBadKey;
  pb::Reader r(key_protobuf, len);
  pb::Field f;
  bool have_type = false, have_data = false;
  uint64_t type = 0;
  for (;;) {
    auto res = r.next(f);
    if (res == pb::Reader::kEnd) break;
    if (res == pb::Reader::kMalformed) return Error::kBadProtobuf;
    if (f.number == kFieldType) {
      if (f.wire != pb::kVarint) return Error::kBadProtobuf;
      type = f.varint;
      have_type = true;
    } else if (f.number == kFieldData) {
      if (f.wire != pb::kLengthDelimited) return Error::kBadProtobuf;
      out.data = f.data;
      out.len = f.len;
      have_data = true;
    }
  }
  if (!have_type || !have_data) return Error::kBadProtobuf;
  if (type > kMaxKeyType) return Error::kUnsupportedKeyType;
  if (out.len > kMaxKeyDataLength) return Error::kBadKey;
  out.type = static_cast<KeyType>(type);
  return Error::kNone;
}

std::vector<uint8_t> encode_public_key(KeyType type, const uint8_t* data, size_t len) {
  // Sized once and filled in place (push_back-then-insert trips a GCC 12 -Warray-bounds false positive).
  const size_t header = 3 + pb::varint_length(len);
  std::vector<uint8_t> out(header + len);
  out[0] = kFieldType << 3 | pb::kVarint;
  out[1] = static_cast<uint8_t>(type);  // every KeyType fits one varint byte
  out[2] = kFieldData << 3 | pb::kLengthDelimited;
  size_t v = len;
  for (size_t i = 3; i < header; i++, v >>= 7) out[i] = static_cast<uint8_t>((v & 0x7f) | (i + 1 < header ? 0x80 : 0));
  if (len > 0) std::memcpy(out.data() + header, data, len);
  return out;
}

std::vector<uint8_t> peer_id_from_public_key(const PublicKey& key) {
  std::vector<uint8_t> encoded = encode_public_key(key.type, key.data, key.len);
  std::vector<uint8_t> id;
  if (encoded.size() <= kMaxInlineKeyLength) {  // so the length is a one-byte varint
    id.resize(2 + encoded.size());
    id[0] = kMultihashIdentity;
    id[1] = static_cast<uint8_t>(encoded.size());
    std::memcpy(id.data() + 2, encoded.data(), encoded.size());
  } else {
    id.resize(2 + crypto::kSha256Length);
    id[0] = kMultihashSha256;
    id[1] = crypto::kSha256Length;
    if (!crypto::sha256(encoded.data(), encoded.size(), id.data() + 2)) id.clear();
  }
  return id;
}

std::vector<uint8_t> peer_id_from_public_key(const uint8_t* key_protobuf, size_t len) {
  PublicKey key;
  if (parse_public_key(key_protobuf, len, key) != Error::kNone) return {};
  return peer_id_from_public_key(key);
}

Error verify(const uint8_t* key_protobuf, size_t key_len, const uint8_t* msg, size_t msg_len,
             const uint8_t* sig, size_t sig_len) {
  PublicKey key;
  Error e = parse_public_key(key_protobuf, key_len, key);
  if (e != Error::kNone) return e;
  return verify_key(key, msg, msg_len, sig, sig_len);
}

}  // namespace l2n::identity
