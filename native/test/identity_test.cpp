// Identity tests with byte vectors: the keys protobuf, PeerIds (the peer-ids spec's Ed25519 vector
// and keys made by js-libp2p), signature verification for each key type, and rejection of bad
// protobufs, keys and signatures. The secp256k1/ECDSA/RSA vectors were produced once by
// native/test/tools/gen_identity_vectors.mjs (js-libp2p's @libp2p/crypto and node:crypto) and are
// embedded here as hex; PeerIds are the ones js-libp2p (or node:crypto's SHA-256) computed.
#include "check.h"
#include "l2n/crypto.h"
#include "l2n/identity.h"

using namespace l2n::identity;
using l2n_test::bytes;
using l2n_test::hex;
using l2n_test::to_hex;

namespace {
// peer-ids spec test vector (also rust-libp2p's keypair_protobuf_roundtrip_ed25519): the public key
// protobuf of seed 7e0830617c...ee7d and its PeerId 12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq,
// whose multihash bytes js-libp2p's peerIdFromString() gives as 0x00 0x24 || protobuf.
const char* kSpecEd25519Key = "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
const char* kSpecEd25519Peer = "0024080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
// RFC 8032 §7.1 TEST 2: public key, message 0x72 and signature.
const char* kRfc8032Pub = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
const char* kRfc8032Sig =
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c"
    "387b2eaeb4302aeeb00d291612bb0c00";

const char* kMsgHex = "6c69627032702d6e6174697665206964656e74697479207465737420766563746f72";  // "libp2p-native identity test vector"
// secp256k1 (js-libp2p verifies: true)
const char* kSecp256k1Key =
    "0802122102555fb14544cbd1211e3d55b50d39ac9c8e005a0fc8f589d908ae160c79b848f6";
const char* kSecp256k1Sig =
    "30450221009297bd08df901bf68c7500be83add91bb148a7d522039d3fc3a96a83587cf8470220768f71f72455439bde"
    "cc14fab6bc945c04bb702d1c6dd5d93f0bbec61b7db2b7";
const char* kSecp256k1Peer =
    "00250802122102555fb14544cbd1211e3d55b50d39ac9c8e005a0fc8f589d908ae160c79b848f6";
// RSA 2048 (js-libp2p verifies: true)
const char* kRsa2048JsKey =
    "080012a60230820122300d06092a864886f70d01010105000382010f003082010a02820101008a55e447141f16df9071"
    "f97a856e77ac21cf5d41dbf2bd3d6cdf283e8ae5f937ddbd26eb1dcb9395bc5fe520349689ad0568d080cb29c8f75441"
    "6264095ef82b44369f010c14af6489a497591f066bc71d492cd17d7b22c21362f640c02b73b82220cfd4590b6b7f8d61"
    "893e9ddbed248175d6ee903d8c8b921d0159e132d20f282a8b9e7af47e40316ff1ca0bdd214c57f2dc7e802fbf5137ff"
    "a0c6a1275d8d464f666ee56429ff12c43fa561da0a8efd73b124369844fb6ba97075664e52eac1c4a231ec55f54b0ee1"
    "6c97d4e4099f7e28a89a6e4c440fc40d4a0601bfccb81386d24e8a586adbd1c85a275532bfbb23cd555178d8afe07cf7"
    "17c028e6b7a30203010001";
const char* kRsa2048JsSig =
    "45f3a3eacfa3aabba23417926e8f993e71e499d2aaca52a0cb345acc70d38caf2ab9e2dab1c33a9ba5cdd75d0dd2579a"
    "8972d01be742e1c218a9d92c6c7fa057caa126099c583c58cf071a1e669a2e97f6143029d6ae83ae2d1c8a89159fad9c"
    "dbb94f780563fb6f75a0aa97a047cc02b2265e215808ae503290bcbd71a5eb32d82c10586d125d0f4bed7f631ac767a7"
    "71ca82048a90f8e3f71f918152332a625ec259b1dbc328bd5dbdc9ed2fdefe0c6ed4a40970dcd8bfbb67f3bb2d9f2693"
    "be20c55b33dc16cb6736494b6143f3941098128c4bc823d2852e1c597f00dcc7fc879f656feece5600cde465ccfacae9"
    "d43ad10bc20b50aa3afd5f508ad067fc";
const char* kRsa2048JsPeer =
    "1220d0a967b0886deb9b70bcbd1a75c5adcee2e6b9d4decfc34184dac1c7fbe5f0fb";
// node:crypto prime256v1 (verifies: true)
const char* kEcdsaP256Key =
    "0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004b482af6ffab5eaeda5a673e04ab762c4e7"
    "4ec628b667f47a2b1e2d9a588c956cc0e320972a965f7c8bd137a8ab3b033d4833e3a9b0aff8fb3d8ae9074cd43cf4";
const char* kEcdsaP256Sig =
    "3045022100b5ae30520806dd3b7ef3e007a277ee63e4232070b25ecca143062439dc98169e022064ca32f98306ed13fc"
    "4e333c8fa669a4a58348d9cb1a2e749c0db3822750b386";
const char* kEcdsaP256Peer =
    "1220be180e7b6806a1fabb991976aee5892778482173c4ef34c1cec066f3ff464b5e";
// node:crypto secp384r1 (verifies: true)
const char* kEcdsaP384Key =
    "080312783076301006072a8648ce3d020106052b8104002203620004f98d083f521c6c8223ba624e7aff5af84e0f48b5"
    "9c57522fb11f962c3ca896222b3d67c7066a2c78a1ad8cd0263dc76a699509541d7ef5b5eef1caaf486b3427a379f56d"
    "f390f7796ea76a38a36934d63a7c0e9ab2f6810c549c4294288ceb1f";
const char* kEcdsaP384Sig =
    "306502304986f6a36bbf5c2b64981d234970f1785bb0d7b503aa91aadb75f18b2209b84c35b4486bd3715549559b27b2"
    "cda67b24023100db6d3144254b10c601b8c238685576450362e6dd2a3da65a5c262754460c24658aa4bb3837b72add4d"
    "bf04b8323e68e8";
const char* kEcdsaP384Peer =
    "1220e5a90f0da0102d7752e96993be851d9b065ea1ce1b13f3982949ab1553ebced4";
// node:crypto RSA 1024 (verifies: true)
const char* kRsa1024Key =
    "080012a20130819f300d06092a864886f70d010101050003818d0030818902818100bf1b86f12c429e9c891d91c28d09"
    "72f7f6c28cd584e3a28e4bd586526dc20813bc0966fdd439ee1a1672d6ebc89df80b09c1f7a1c477a929e0de43b40047"
    "798f11d12668023c962a021e4cf90b38e649c60451f69b3cf860954d4ff77cd26f935a989541f7764fb5cf657d324d75"
    "7b2d08600100574baea894502d3781848d010203010001";
const char* kRsa1024Sig =
    "05a8e0984558d614188ca15c2e04294b706f5fc0dc65813da00896b170cf1d402e7a301d07f80e59b6f6760657c8eeb3"
    "91094758f3ef6fb91afaab55685c8729463a506153daaa805fd1fe41cc286d520dc53d4d534bb322d9fd891e874b01ce"
    "1f3863d4b88aa4ca43ca08a5f17ae5c7a9dc8ce6069d0a8c5202f17680879d5e";
const char* kRsa1024Peer =
    "12209f3e2402e4c9f62bdbb0d9691265b81177a871c2cc602eada93ddc5f37f975e2";

std::vector<uint8_t> key_pb(uint8_t type, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out = {0x08, type, 0x12};
  size_t n = data.size();
  while (n >= 0x80) { out.push_back(static_cast<uint8_t>(n | 0x80)); n >>= 7; }
  out.push_back(static_cast<uint8_t>(n));
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// The Data bytes of a key protobuf built by key_pb-style framing (2-byte length for long keys).
std::vector<uint8_t> data_of(const std::vector<uint8_t>& pb) {
  PublicKey k;
  if (parse_public_key(pb.data(), pb.size(), k) != Error::kNone) return {};
  return std::vector<uint8_t>(k.data, k.data + k.len);
}

Error verify_hex(const char* key, const std::vector<uint8_t>& msg, const char* sig) {
  auto k = hex(key);
  auto s = hex(sig);
  return verify(k.data(), k.size(), msg.data(), msg.size(), s.data(), s.size());
}

std::vector<uint8_t> flip(std::vector<uint8_t> v, size_t pos) {
  v[pos % v.size()] ^= 0x01;
  return v;
}
}  // namespace

TEST(parse_spec_ed25519_key) {
  auto pb = hex(kSpecEd25519Key);
  PublicKey k;
  CHECK(parse_public_key(pb.data(), pb.size(), k) == Error::kNone);
  CHECK(k.type == KeyType::kEd25519);
  CHECK_EQ(k.len, size_t{32});
  CHECK_EQ(to_hex(k.data, k.len), "1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e");
  CHECK(encode_public_key(k.type, k.data, k.len) == pb);
  CHECK_EQ(to_hex(peer_id_from_public_key(pb.data(), pb.size())), std::string(kSpecEd25519Peer));
}

TEST(peer_ids_match_js_libp2p) {
  auto s = hex(kSecp256k1Key);  // 37 bytes: identity multihash
  CHECK_EQ(to_hex(peer_id_from_public_key(s.data(), s.size())), std::string(kSecp256k1Peer));
  auto r = hex(kRsa2048JsKey);  // sha2-256 multihash
  CHECK_EQ(to_hex(peer_id_from_public_key(r.data(), r.size())), std::string(kRsa2048JsPeer));
  auto e = hex(kEcdsaP256Key);
  CHECK_EQ(to_hex(peer_id_from_public_key(e.data(), e.size())), std::string(kEcdsaP256Peer));
  auto e3 = hex(kEcdsaP384Key);
  CHECK_EQ(to_hex(peer_id_from_public_key(e3.data(), e3.size())), std::string(kEcdsaP384Peer));
  auto r1 = hex(kRsa1024Key);  // computable even though verification refuses its size
  CHECK_EQ(to_hex(peer_id_from_public_key(r1.data(), r1.size())), std::string(kRsa1024Peer));
}

TEST(peer_id_inline_boundary_is_42_bytes) {
  // Type Ed25519 with 38 data bytes encodes to 42 bytes (inlined); 39 data bytes to 43 (hashed).
  std::vector<uint8_t> d38(38, 0xab), d39(39, 0xab);
  auto pb42 = key_pb(1, d38), pb43 = key_pb(1, d39);
  CHECK_EQ(pb42.size(), size_t{42});
  auto id42 = peer_id_from_public_key(pb42.data(), pb42.size());
  CHECK_EQ(id42.size(), size_t{44});
  CHECK_EQ(id42[0], 0x00);
  CHECK_EQ(id42[1], 42);
  CHECK(std::vector<uint8_t>(id42.begin() + 2, id42.end()) == pb42);
  auto id43 = peer_id_from_public_key(pb43.data(), pb43.size());
  CHECK_EQ(id43.size(), size_t{34});
  CHECK_EQ(id43[0], 0x12);
  CHECK_EQ(id43[1], 0x20);
  uint8_t digest[32];
  CHECK(l2n::crypto::sha256(pb43.data(), pb43.size(), digest));
  CHECK_EQ(to_hex(id43.data() + 2, 32), to_hex(digest, 32));
}

TEST(peer_id_uses_canonical_encoding) {
  // Data before Type and an unknown field in between: same key, same PeerId as the canonical form.
  auto canon = hex(kSpecEd25519Key);
  auto odd = hex("12201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e" "1803" "0801");
  PublicKey k;
  CHECK(parse_public_key(odd.data(), odd.size(), k) == Error::kNone);
  CHECK(k.type == KeyType::kEd25519);
  CHECK(peer_id_from_public_key(odd.data(), odd.size()) == peer_id_from_public_key(canon.data(), canon.size()));
}

TEST(verify_ed25519) {
  auto pb = key_pb(1, hex(kRfc8032Pub));
  auto sig = hex(kRfc8032Sig);
  std::vector<uint8_t> msg = {0x72};
  CHECK(verify(pb.data(), pb.size(), msg.data(), 1, sig.data(), sig.size()) == Error::kNone);
  auto bad = flip(sig, 5);
  CHECK(verify(pb.data(), pb.size(), msg.data(), 1, bad.data(), bad.size()) == Error::kBadSignature);
  CHECK(verify(pb.data(), pb.size(), msg.data(), 1, sig.data(), 63) == Error::kBadSignature);
  std::vector<uint8_t> other = {0x73};
  CHECK(verify(pb.data(), pb.size(), other.data(), 1, sig.data(), sig.size()) == Error::kBadSignature);
  auto short_key = key_pb(1, std::vector<uint8_t>(31, 1));
  CHECK(verify(short_key.data(), short_key.size(), msg.data(), 1, sig.data(), sig.size()) == Error::kBadKey);
}

TEST(verify_secp256k1) {
  auto msg = hex(kMsgHex);
  CHECK(verify_hex(kSecp256k1Key, msg, kSecp256k1Sig) == Error::kNone);
  auto sig = hex(kSecp256k1Sig);
  auto key = hex(kSecp256k1Key);
  for (size_t pos : {size_t{10}, sig.size() - 1}) {
    auto bad = flip(sig, pos);
    CHECK(verify(key.data(), key.size(), msg.data(), msg.size(), bad.data(), bad.size()) == Error::kBadSignature);
  }
  auto other = flip(msg, 0);
  CHECK(verify(key.data(), key.size(), other.data(), other.size(), sig.data(), sig.size()) == Error::kBadSignature);
  // Truncated DER, an empty signature, and a raw r||s signature are not DER ECDSA.
  CHECK(verify(key.data(), key.size(), msg.data(), msg.size(), sig.data(), sig.size() - 1) == Error::kBadSignature);
  CHECK(verify(key.data(), key.size(), msg.data(), msg.size(), sig.data(), 0) == Error::kBadSignature);
  std::vector<uint8_t> raw(sig.begin() + 5, sig.begin() + 37);
  raw.insert(raw.end(), sig.end() - 32, sig.end());
  CHECK(verify(key.data(), key.size(), msg.data(), msg.size(), raw.data(), raw.size()) == Error::kBadSignature);
}

TEST(secp256k1_bad_keys) {
  auto msg = hex(kMsgHex);
  auto sig = hex(kSecp256k1Sig);
  auto data = data_of(hex(kSecp256k1Key));
  CHECK_EQ(data.size(), size_t{33});
  auto wrong_prefix = data;
  wrong_prefix[0] = 0x04;  // uncompressed marker on a compressed-length point
  std::vector<uint8_t> x_out_of_range(33, 0xff);  // x >= p
  x_out_of_range[0] = 0x02;
  std::vector<uint8_t> uncompressed(65, 0x04);
  for (auto& d : {wrong_prefix, x_out_of_range, uncompressed, std::vector<uint8_t>(data.begin(), data.end() - 1)}) {
    auto pb = key_pb(2, d);
    CHECK(verify(pb.data(), pb.size(), msg.data(), msg.size(), sig.data(), sig.size()) == Error::kBadKey);
  }
  // The other parity of the same x is a different (valid) point: the signature must fail.
  auto other_parity = data;
  other_parity[0] ^= 0x01;
  auto pb = key_pb(2, other_parity);
  CHECK(verify(pb.data(), pb.size(), msg.data(), msg.size(), sig.data(), sig.size()) == Error::kBadSignature);
}

TEST(verify_ecdsa) {
  auto msg = hex(kMsgHex);
  CHECK(verify_hex(kEcdsaP256Key, msg, kEcdsaP256Sig) == Error::kNone);
  CHECK(verify_hex(kEcdsaP384Key, msg, kEcdsaP384Sig) == Error::kNone);
  CHECK(verify_hex(kEcdsaP256Key, msg, kEcdsaP384Sig) == Error::kBadSignature);
  auto key = hex(kEcdsaP256Key);
  auto bad = flip(hex(kEcdsaP256Sig), 20);
  CHECK(verify(key.data(), key.size(), msg.data(), msg.size(), bad.data(), bad.size()) == Error::kBadSignature);
  // A trailing byte after the SubjectPublicKeyInfo, or a truncated one, is not a key.
  auto spki = data_of(key);
  auto trailing = spki;
  trailing.push_back(0);
  auto sig = hex(kEcdsaP256Sig);
  for (auto& d : {trailing, std::vector<uint8_t>(spki.begin(), spki.end() - 1)}) {
    auto pb = key_pb(3, d);
    CHECK(verify(pb.data(), pb.size(), msg.data(), msg.size(), sig.data(), sig.size()) == Error::kBadKey);
  }
}

TEST(verify_rsa) {
  auto msg = hex(kMsgHex);
  CHECK(verify_hex(kRsa2048JsKey, msg, kRsa2048JsSig) == Error::kNone);
  auto key = hex(kRsa2048JsKey);
  auto sig = hex(kRsa2048JsSig);
  auto bad = flip(sig, 100);
  CHECK(verify(key.data(), key.size(), msg.data(), msg.size(), bad.data(), bad.size()) == Error::kBadSignature);
  CHECK(verify(key.data(), key.size(), msg.data(), msg.size(), sig.data(), sig.size() - 1) == Error::kBadSignature);
  auto other = flip(msg, 3);
  CHECK(verify(key.data(), key.size(), other.data(), other.size(), sig.data(), sig.size()) == Error::kBadSignature);
  // 1024-bit keys are below kMinRsaBits, even with a valid signature.
  CHECK(verify_hex(kRsa1024Key, msg, kRsa1024Sig) == Error::kBadKey);
}

TEST(key_type_must_match_data) {
  auto msg = hex(kMsgHex);
  auto rsa = data_of(hex(kRsa2048JsKey));
  auto ec = data_of(hex(kEcdsaP256Key));
  auto ec_as_rsa = key_pb(0, ec);
  auto rsa_as_ec = key_pb(3, rsa);
  auto sig = hex(kRsa2048JsSig);
  auto esig = hex(kEcdsaP256Sig);
  CHECK(verify(ec_as_rsa.data(), ec_as_rsa.size(), msg.data(), msg.size(), esig.data(), esig.size()) == Error::kBadKey);
  CHECK(verify(rsa_as_ec.data(), rsa_as_ec.size(), msg.data(), msg.size(), sig.data(), sig.size()) == Error::kBadKey);
  // An Ed25519 key sent as secp256k1, and a secp256k1 point sent as an ECDSA SPKI.
  auto ed_as_k1 = key_pb(2, hex(kRfc8032Pub));
  CHECK(verify(ed_as_k1.data(), ed_as_k1.size(), msg.data(), msg.size(), esig.data(), esig.size()) == Error::kBadKey);
  auto k1_as_ec = key_pb(3, data_of(hex(kSecp256k1Key)));
  CHECK(verify(k1_as_ec.data(), k1_as_ec.size(), msg.data(), msg.size(), esig.data(), esig.size()) == Error::kBadKey);
}

TEST(unsupported_key_type) {
  auto pb = hex("08041220" "1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e");
  PublicKey k;
  CHECK(parse_public_key(pb.data(), pb.size(), k) == Error::kUnsupportedKeyType);
  auto big = hex("08ffffffff0f1200");  // type 2^32-1
  CHECK(parse_public_key(big.data(), big.size(), k) == Error::kUnsupportedKeyType);
  uint8_t sig[64] = {};
  CHECK(verify(pb.data(), pb.size(), nullptr, 0, sig, 64) == Error::kUnsupportedKeyType);
  CHECK(peer_id_from_public_key(pb.data(), pb.size()).empty());
}

TEST(bad_protobufs) {
  PublicKey k;
  const char* cases[] = {
      "",                      // empty: both required fields missing
      "0801",                  // Data missing
      "1200",                  // Type missing
      "080112",                // truncated length
      "08011221" "00",         // length beyond the end
      "0a0101" "1200",         // Type with the wrong wire type (bytes)
      "0801" "1001",           // Data (field 2) with the wrong wire type (varint)
      "0801" "1200" "0b",      // group start (wire type 3)
      "0801" "1200" "0f",      // wire type 7
      "0001" "0801" "1200",    // field number 0
      "08ffffffffffffffffff7f" "1200",  // varint longer than 64 bits
      "0801" "1200" "19" "0102",        // truncated fixed64
  };
  for (const char* c : cases) {
    auto pb = hex(c);
    Error e = parse_public_key(pb.data(), pb.size(), k);
    if (e != Error::kBadProtobuf) std::fprintf(stderr, "  case %s -> %d\n", c, static_cast<int>(e));
    CHECK(e == Error::kBadProtobuf);
  }
  // Unknown fields of every wire type are skipped.
  auto ok = hex("0801" "1200" "1801" "21" "0102030405060708" "2a00" "2d" "01020304");
  CHECK(parse_public_key(ok.data(), ok.size(), k) == Error::kNone);
  CHECK_EQ(k.len, size_t{0});
}

TEST(key_size_bounds) {
  PublicKey k;
  auto at_limit = key_pb(0, std::vector<uint8_t>(kMaxKeyDataLength, 0x30));
  CHECK(parse_public_key(at_limit.data(), at_limit.size(), k) == Error::kNone);
  auto over = key_pb(0, std::vector<uint8_t>(kMaxKeyDataLength + 1, 0x30));
  CHECK(parse_public_key(over.data(), over.size(), k) == Error::kBadKey);
  // The limit-sized junk is parsed but is no RSA key.
  uint8_t sig[256] = {};
  CHECK(verify(at_limit.data(), at_limit.size(), nullptr, 0, sig, sizeof sig) == Error::kBadKey);
}

TEST_MAIN()
