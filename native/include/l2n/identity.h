// libp2p identity keys (peer-ids spec, libp2p/specs peer-ids/peer-ids.md): the keys protobuf
// `PublicKey { required KeyType Type = 1; required bytes Data = 2; }`, signature verification for
// the four key types, and PeerIds. Verification only: our own signatures are made in TypeScript.
//
//   type       Data                                   signature
//   Ed25519    32-byte public key (RFC 8032)          64 bytes, Ed25519 over msg        (libsodium)
//   Secp256k1  33-byte compressed SEC1 point          DER ECDSA over SHA-256(msg)       (OpenSSL)
//   ECDSA      DER SubjectPublicKeyInfo, P-256/384/521 DER ECDSA over SHA-256(msg)      (OpenSSL)
//   RSA        DER SubjectPublicKeyInfo (PKIX)        RSASSA-PKCS1-v1_5 with SHA-256    (OpenSSL)
//
// Nothing here throws, allocates on the verify path beyond OpenSSL's own key objects, or keeps state.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace l2n::identity {

enum class KeyType : uint8_t { kRSA = 0, kEd25519 = 1, kSecp256k1 = 2, kECDSA = 3 };  // keys.proto

// kBadProtobuf: not a PublicKey message (malformed, or Type/Data missing or of the wrong wire type).
// kUnsupportedKeyType: a Type value outside keys.proto's enum.
// kBadKey: Data is not a valid key of its type, or is outside the size bounds below.
// kBadSignature: the key is fine but the signature does not verify (or is malformed).
// What the caller must do with any error: treat the peer as unauthenticated (close the connection).
enum class Error : uint8_t { kNone, kBadProtobuf, kUnsupportedKeyType, kBadKey, kBadSignature };

// go-libp2p refuses RSA keys under 2048 bits (crypto.MinRsaKeyBits) and over 8192 bits
// (maxRsaKeyBits); verifying an 8192-bit signature costs about 1 ms of CPU, the DoS ceiling we accept.
inline constexpr int kMinRsaBits = 2048;
inline constexpr int kMaxRsaBits = 8192;
// An RSA-8192 SubjectPublicKeyInfo is about 1.06 KB (1025-byte modulus plus DER framing); twice
// that leaves room for a long public exponent. Every other key type is far smaller.
inline constexpr size_t kMaxKeyDataLength = 2048;
// Data plus the protobuf framing (two tags and two varints of at most 3 bytes for this length).
inline constexpr size_t kMaxKeyProtobufLength = kMaxKeyDataLength + 8;
// RSA signatures are as long as the modulus; the longest ECDSA one (P-521, DER) is 139 bytes.
inline constexpr size_t kMaxSignatureLength = kMaxRsaBits / 8;
inline constexpr size_t kEd25519KeyLength = 32;        // RFC 8032
inline constexpr size_t kEd25519SignatureLength = 64;  // RFC 8032
inline constexpr size_t kSecp256k1KeyLength = 33;      // compressed SEC1 point: 0x02/0x03 || x
// peer-ids spec: keys protobufs up to this length are inlined with the identity multihash.
inline constexpr size_t kMaxInlineKeyLength = 42;
inline constexpr uint8_t kMultihashIdentity = 0x00;
inline constexpr uint8_t kMultihashSha256 = 0x12;

// A parsed PublicKey: `data` points into the protobuf given to parse_public_key().
struct PublicKey {
  KeyType type = KeyType::kEd25519;
  const uint8_t* data = nullptr;
  size_t len = 0;
};

// Decodes the protobuf (fields in any order, unknown fields skipped, the last of a repeated field
// wins, as protobuf decoders do). Checks framing, the Type value and kMaxKeyDataLength; the key
// itself is checked by verify_key(). Errors: kBadProtobuf, kUnsupportedKeyType, kBadKey.
Error parse_public_key(const uint8_t* key_protobuf, size_t len, PublicKey& out);

// The canonical encoding (Type then Data, minimal varints): what PeerIds are computed from.
std::vector<uint8_t> encode_public_key(KeyType type, const uint8_t* data, size_t len);

// Verifies `sig` over `msg` with the key. Errors: kBadKey, kBadSignature.
Error verify_key(const PublicKey& key, const uint8_t* msg, size_t msg_len, const uint8_t* sig,
                 size_t sig_len);

// parse_public_key() then verify_key(). Errors: all of the above.
Error verify(const uint8_t* key_protobuf, size_t key_len, const uint8_t* msg, size_t msg_len,
             const uint8_t* sig, size_t sig_len);

// The PeerId (multihash bytes) of a key: the key is parsed and re-encoded canonically, then
// identity-hashed (0x00, varint length, bytes) when the encoding is <= kMaxInlineKeyLength bytes,
// else SHA-256 hashed (0x12 0x20 digest). Empty when the protobuf does not parse.
std::vector<uint8_t> peer_id_from_public_key(const uint8_t* key_protobuf, size_t len);
std::vector<uint8_t> peer_id_from_public_key(const PublicKey& key);

}  // namespace l2n::identity
