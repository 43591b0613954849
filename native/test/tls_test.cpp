// libp2p TLS: the spec's certificate test vectors (libp2p/specs tls/tls.md "Test vectors"), our
// own certificates round-tripped with every host key type, and certificates that are wrong in
// exactly one way (no extension, bad host signature, expired, not yet valid, tampered, wrong PeerId).
#include <algorithm>

#include "tls_helpers.h"

using namespace l2n_test;
using l2n::tls::Error;

namespace {

// Spec test vectors, hex-encoded DER.
const char* kVectorEd25519 =
    "308201ae30820156a0030201020204499602d2300a06082a8648ce3d040302302031123010060355040a13096c69627032702e696f310a300806035504051301313020170d3735303130313133303030305a180f34303936303130313133303030305a302031123010060355040a13096c69627032702e696f310a300806035504051301313059301306072a8648ce3d020106082a8648ce3d030107034200040c901d423c831ca85e27c73c263ba132721bb9d7a84c4f0380b2a6756fd601331c8870234dec878504c174144fa4b14b66a651691606d8173e55bd37e381569ea37c307a3078060a2b0601040183a25a0101046a3068042408011220a77f1d92fedb59dddaea5a1c4abd1ac2fbde7d7b879ed364501809923d7c11b90440d90d2769db992d5e6195dbb08e706b6651e024fda6cfb8846694a435519941cac215a8207792e42849cccc6cd8136c6e4bde92a58c5e08cfd4206eb5fe0bf909300a06082a8648ce3d0403020346003043021f50f6b6c52711a881778718238f650c9fb48943ae6ee6d28427dc6071ae55e702203625f116a7a454db9c56986c82a25682f7248ea1cb764d322ea983ed36a31b77";
const char* kVectorEcdsa =
    "308201f63082019da0030201020204499602d2300a06082a8648ce3d040302302031123010060355040a13096c69627032702e696f310a300806035504051301313020170d3735303130313133303030305a180f34303936303130313133303030305a302031123010060355040a13096c69627032702e696f310a300806035504051301313059301306072a8648ce3d020106082a8648ce3d030107034200040c901d423c831ca85e27c73c263ba132721bb9d7a84c4f0380b2a6756fd601331c8870234dec878504c174144fa4b14b66a651691606d8173e55bd37e381569ea381c23081bf3081bc060a2b0601040183a25a01010481ad3081aa045f0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004bf30511f909414ebdd3242178fd290f093a551cf75c973155de0bb5a96fedf6cb5d52da7563e794b512f66e60c7f55ba8a3acf3dd72a801980d205e8a1ad29f2044730450220064ea8124774caf8f50e57f436aa62350ce652418c019df5d98a3ac666c9386a022100aa59d704a931b5f72fb9222cb6cc51f954d04a4e2e5450f8805fe8918f71eaae300a06082a8648ce3d04030203470030440220799395b0b6c1e940a7e4484705f610ab51ed376f19ff9d7c16757cfbf61b8d4302206205c03fbb0f95205c779be86581d3e31c01871ad5d1f3435bcf375cb0e5088a";
const char* kVectorSecp256k1 =
    "308201ba3082015fa0030201020204499602d2300a06082a8648ce3d040302302031123010060355040a13096c69627032702e696f310a300806035504051301313020170d3735303130313133303030305a180f34303936303130313133303030305a302031123010060355040a13096c69627032702e696f310a300806035504051301313059301306072a8648ce3d020106082a8648ce3d030107034200040c901d423c831ca85e27c73c263ba132721bb9d7a84c4f0380b2a6756fd601331c8870234dec878504c174144fa4b14b66a651691606d8173e55bd37e381569ea38184308181307f060a2b0601040183a25a01010471306f0425080212210206dc6968726765b820f050263ececf7f71e4955892776c0970542efd689d2382044630440220145e15a991961f0d08cd15425bb95ec93f6ffa03c5a385eedc34ecf464c7a8ab022026b3109b8a3f40ef833169777eb2aa337cfb6282f188de0666d1bcec2a4690dd300a06082a8648ce3d0403020349003046022100e1a217eeef9ec9204b3f774a08b70849646b6a1e6b8b27f93dc00ed58545d9fe022100b00dafa549d0f03547878338c7b15e7502888f6d45db387e5ae6b5d46899cef0";
const char* kVectorInvalid =
    "308201f73082019da0030201020204499602d2300a06082a8648ce3d040302302031123010060355040a13096c69627032702e696f310a300806035504051301313020170d3735303130313133303030305a180f34303936303130313133303030305a302031123010060355040a13096c69627032702e696f310a300806035504051301313059301306072a8648ce3d020106082a8648ce3d030107034200040c901d423c831ca85e27c73c263ba132721bb9d7a84c4f0380b2a6756fd601331c8870234dec878504c174144fa4b14b66a651691606d8173e55bd37e381569ea381c23081bf3081bc060a2b0601040183a25a01010481ad3081aa045f0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004bf30511f909414ebdd3242178fd290f093a551cf75c973155de0bb5a96fedf6cb5d52da7563e794b512f66e60c7f55ba8a3acf3dd72a801980d205e8a1ad29f204473045022100bb6e03577b7cc7a3cd1558df0da2b117dfdcc0399bc2504ebe7de6f65cade72802206de96e2a5be9b6202adba24ee0362e490641ac45c240db71fe955f2c5cf8df6e300a06082a8648ce3d0403020348003045022100e847f267f43717358f850355bdcabbefb2cfbf8a3c043b203a14788a092fe8db022027c1d04a2d41fd6b57a7e8b3989e470325de4406e52e084e34a3fd56eef0d0df";

Error verify(const std::vector<uint8_t>& der, const std::vector<uint8_t>& expected,
             l2n::tls::PeerIdentity& out, int64_t now = kNow) {
  return l2n::tls::verify_certificate(der.data(), der.size(), now, expected.data(), expected.size(), out);
}

void check_vector(const char* cert_hex, const char* peer_id) {
  auto der = hex(cert_hex);
  auto want = base58(peer_id);
  l2n::tls::PeerIdentity id;
  CHECK(verify(der, want, id) == Error::kNone);
  CHECK(id.peer_id == want);
  CHECK(l2n::tls::peer_id_from_public_key(id.public_key.data(), id.public_key.size()) == want);
  // Without an expected PeerId the same identity is reported.
  l2n::tls::PeerIdentity any;
  CHECK(verify(der, {}, any) == Error::kNone);
  CHECK(any.peer_id == want);
}

}  // namespace

TEST(spec_vector_ed25519) { check_vector(kVectorEd25519, "12D3KooWM6CgA9iBFZmcYAHA6A2qvbAxqfkmrYiRQuz3XEsk4Ksv"); }
TEST(spec_vector_ecdsa) { check_vector(kVectorEcdsa, "QmfXbAwNjJLXfesgztEHe8HwgVDCMMpZ9Eax1HYq6hn9uE"); }
TEST(spec_vector_secp256k1) { check_vector(kVectorSecp256k1, "16Uiu2HAkutTMoTzDw1tCvSRtu6YoixJwS46S1ZFxW8hSx9fWHiPs"); }

TEST(spec_vector_invalid_is_rejected) {
  l2n::tls::PeerIdentity id;
  CHECK(verify(hex(kVectorInvalid), {}, id) == Error::kBadHostSignature);
  CHECK(id.peer_id.empty());
}

TEST(spec_vector_wrong_expected_peer_id) {
  l2n::tls::PeerIdentity id;
  auto other = base58("QmfXbAwNjJLXfesgztEHe8HwgVDCMMpZ9Eax1HYq6hn9uE");
  CHECK(verify(hex(kVectorEd25519), other, id) == Error::kPeerIdMismatch);
}

TEST(spec_vector_outside_validity) {
  // The vectors are valid from 1975-01-01 13:00 to 4096-01-01.
  l2n::tls::PeerIdentity id;
  CHECK(verify(hex(kVectorEd25519), {}, id, 100000000) == Error::kNotYetValid);  // 1973
}

TEST(spec_vector_tampered_tbs_fails_self_signature) {
  auto der = hex(kVectorEd25519);
  der[40] ^= 0x01;  // inside the issuer name
  l2n::tls::PeerIdentity id;
  CHECK(verify(der, {}, id) == Error::kBadSelfSignature);
}

TEST(own_certificate_roundtrip_every_key_type) {
  for (int type : {1, 3, 2, 0}) {
    auto host = HostKey::make(type);
    auto cert = make_cert(host);
    l2n::tls::PeerIdentity id;
    auto e = verify(cert->der(), host.peer_id(), id);
    if (e != Error::kNone) std::fprintf(stderr, "  key type %d: %s\n", type, l2n::tls::error_name(e));
    CHECK(e == Error::kNone);
    CHECK(id.public_key == host.proto);
    CHECK(id.peer_id == host.peer_id());
  }
}

TEST(own_certificate_is_ecdsa_p256_and_small) {
  auto host = HostKey::make(1);
  auto cert = make_cert(host);
  CHECK(cert->der().size() < 600);
  // id-ecPublicKey with prime256v1, and ecdsa-with-SHA256 as signature algorithm.
  auto has = [&](const std::vector<uint8_t>& needle) {
    return std::search(cert->der().begin(), cert->der().end(), needle.begin(), needle.end()) != cert->der().end();
  };
  CHECK(has(hex("06072a8648ce3d020106082a8648ce3d030107")));
  CHECK(has(hex("06082a8648ce3d040302")));
  CHECK(has(hex("060a2b0601040183a25a0101")));  // the libp2p extension OID
}

TEST(certificate_without_extension_is_rejected) {
  l2n::tls::CertificateRequest req;
  CHECK(req.generate(kNow) == Error::kNone);
  std::shared_ptr<const l2n::tls::Certificate> cert;
  CHECK(req.finish_raw(nullptr, 0, false, cert) == Error::kNone);
  l2n::tls::PeerIdentity id;
  CHECK(verify(cert->der(), {}, id) == Error::kMissingExtension);
}

TEST(certificate_with_bad_host_signature_is_rejected) {
  auto host = HostKey::make(1);
  l2n::tls::CertificateRequest req;
  CHECK(req.generate(kNow) == Error::kNone);
  auto sig = host.sign(req.message_to_sign());
  sig[5] ^= 0x40;
  std::shared_ptr<const l2n::tls::Certificate> cert;
  CHECK(req.finish(host.proto.data(), host.proto.size(), sig.data(), sig.size(), cert) == Error::kNone);
  l2n::tls::PeerIdentity id;
  CHECK(verify(cert->der(), {}, id) == Error::kBadHostSignature);
}

TEST(certificate_signed_by_other_host_key_is_rejected) {
  auto host = HostKey::make(1), other = HostKey::make(1);
  l2n::tls::CertificateRequest req;
  CHECK(req.generate(kNow) == Error::kNone);
  auto sig = other.sign(req.message_to_sign());
  std::shared_ptr<const l2n::tls::Certificate> cert;
  CHECK(req.finish(host.proto.data(), host.proto.size(), sig.data(), sig.size(), cert) == Error::kNone);
  l2n::tls::PeerIdentity id;
  CHECK(verify(cert->der(), {}, id) == Error::kBadHostSignature);
}

TEST(certificate_signature_over_other_message_is_rejected) {
  // Signed without the "libp2p-tls-handshake:" prefix.
  auto host = HostKey::make(1);
  l2n::tls::CertificateRequest req;
  CHECK(req.generate(kNow) == Error::kNone);
  std::vector<uint8_t> spki(req.message_to_sign().begin() + l2n::tls::kSignaturePrefix.size(),
                            req.message_to_sign().end());
  auto sig = host.sign(spki);
  std::shared_ptr<const l2n::tls::Certificate> cert;
  CHECK(req.finish(host.proto.data(), host.proto.size(), sig.data(), sig.size(), cert) == Error::kNone);
  l2n::tls::PeerIdentity id;
  CHECK(verify(cert->der(), {}, id) == Error::kBadHostSignature);
}

TEST(expired_and_future_certificates_are_rejected) {
  auto host = HostKey::make(1);
  l2n::tls::PeerIdentity id;
  {
    l2n::tls::CertificateRequest req;
    CHECK(req.generate(kNow - 7200, kNow - 3600) == Error::kNone);
    auto sig = host.sign(req.message_to_sign());
    std::shared_ptr<const l2n::tls::Certificate> cert;
    CHECK(req.finish(host.proto.data(), host.proto.size(), sig.data(), sig.size(), cert) == Error::kNone);
    CHECK(verify(cert->der(), {}, id) == Error::kExpired);
    CHECK(verify(cert->der(), {}, id, kNow - 5000) == Error::kNone);
  }
  {
    l2n::tls::CertificateRequest req;
    CHECK(req.generate(kNow + 3600, kNow + 7200) == Error::kNone);
    auto sig = host.sign(req.message_to_sign());
    std::shared_ptr<const l2n::tls::Certificate> cert;
    CHECK(req.finish(host.proto.data(), host.proto.size(), sig.data(), sig.size(), cert) == Error::kNone);
    CHECK(verify(cert->der(), {}, id) == Error::kNotYetValid);
  }
}

TEST(critical_libp2p_extension_is_accepted) {
  auto host = HostKey::make(1);
  l2n::tls::CertificateRequest req;
  CHECK(req.generate(kNow) == Error::kNone);
  auto sig = host.sign(req.message_to_sign());
  auto ext = l2n::tls::encode_signed_key(host.proto.data(), host.proto.size(), sig.data(), sig.size());
  std::shared_ptr<const l2n::tls::Certificate> cert;
  CHECK(req.finish_raw(ext.data(), ext.size(), true, cert) == Error::kNone);
  l2n::tls::PeerIdentity id;
  CHECK(verify(cert->der(), host.peer_id(), id) == Error::kNone);
}

TEST(garbage_extension_is_rejected) {
  l2n::tls::CertificateRequest req;
  CHECK(req.generate(kNow) == Error::kNone);
  auto ext = hex("3006040100040100");  // key "\0": not a protobuf
  std::shared_ptr<const l2n::tls::Certificate> cert;
  CHECK(req.finish_raw(ext.data(), ext.size(), false, cert) == Error::kNone);
  l2n::tls::PeerIdentity id;
  CHECK(verify(cert->der(), {}, id) == Error::kBadExtension);
}

TEST(unsupported_key_type_is_rejected) {
  auto host = HostKey::make(1);
  auto proto = host.proto;
  proto[1] = 7;  // no such KeyType
  l2n::tls::CertificateRequest req;
  CHECK(req.generate(kNow) == Error::kNone);
  auto sig = host.sign(req.message_to_sign());
  std::shared_ptr<const l2n::tls::Certificate> cert;
  CHECK(req.finish(proto.data(), proto.size(), sig.data(), sig.size(), cert) == Error::kNone);
  l2n::tls::PeerIdentity id;
  CHECK(verify(cert->der(), {}, id) == Error::kUnsupportedKeyType);
}

TEST(truncated_and_oversized_certificates_are_rejected) {
  auto der = hex(kVectorEd25519);
  l2n::tls::PeerIdentity id;
  for (size_t n = 0; n < der.size(); n++) {
    std::vector<uint8_t> cut(der.begin(), der.begin() + static_cast<long>(n));
    CHECK(verify(cut, {}, id) == Error::kBadCertificate);
  }
  std::vector<uint8_t> big(l2n::tls::kMaxCertificateLength + 1, 0x30);
  CHECK(verify(big, {}, id) == Error::kBadCertificate);
}

TEST(signed_key_der_roundtrip_and_strictness) {
  std::vector<uint8_t> key(300, 0xab), sig(64, 0xcd);
  auto der = l2n::tls::encode_signed_key(key.data(), key.size(), sig.data(), sig.size());
  CHECK_EQ(to_hex(der).substr(0, 16), std::string("308201720482012c"));
  l2n::tls::SignedKey sk;
  CHECK(l2n::tls::parse_signed_key(der.data(), der.size(), sk) == Error::kNone);
  CHECK_EQ(sk.public_key_len, size_t{300});
  CHECK_EQ(sk.signature_len, size_t{64});
  CHECK(sk.public_key == der.data() + 8);
  // Trailing byte, truncation, non-minimal length, indefinite length, wrong inner tag.
  auto trailing = der; trailing.push_back(0);
  CHECK(l2n::tls::parse_signed_key(trailing.data(), trailing.size(), sk) == Error::kBadExtension);
  for (size_t n = 0; n < der.size(); n++)
    CHECK(l2n::tls::parse_signed_key(der.data(), n, sk) == Error::kBadExtension);
  auto nonminimal = hex("3081060401010401 02");
  CHECK(l2n::tls::parse_signed_key(nonminimal.data(), nonminimal.size(), sk) == Error::kBadExtension);
  auto indefinite = hex("30800401010401020000");
  CHECK(l2n::tls::parse_signed_key(indefinite.data(), indefinite.size(), sk) == Error::kBadExtension);
  auto bitstrings = hex("3006030101030102");
  CHECK(l2n::tls::parse_signed_key(bitstrings.data(), bitstrings.size(), sk) == Error::kBadExtension);
  auto ok = hex("3006040101040102");
  CHECK(l2n::tls::parse_signed_key(ok.data(), ok.size(), sk) == Error::kNone);
  CHECK_EQ(sk.signature[0], uint8_t{2});
}

TEST(host_signature_every_key_type_and_tamper) {
  std::vector<uint8_t> msg = bytes("libp2p-tls-handshake:some spki bytes");
  for (int type : {0, 1, 2, 3}) {
    auto host = HostKey::make(type);
    auto sig = host.sign(msg);
    CHECK(l2n::tls::verify_host_signature(host.proto.data(), host.proto.size(), msg.data(), msg.size(),
                                          sig.data(), sig.size()) == Error::kNone);
    auto bad = msg; bad.back() ^= 1;
    CHECK(l2n::tls::verify_host_signature(host.proto.data(), host.proto.size(), bad.data(), bad.size(),
                                          sig.data(), sig.size()) == Error::kBadHostSignature);
  }
}

TEST(peer_id_identity_vs_sha256) {
  auto ed = HostKey::make(1);
  CHECK_EQ(ed.proto.size(), size_t{36});
  auto id = ed.peer_id();
  CHECK_EQ(id[0], uint8_t{0}); CHECK_EQ(id[1], uint8_t{36});
  auto ec = HostKey::make(3);
  auto id2 = ec.peer_id();
  CHECK_EQ(id2[0], uint8_t{0x12}); CHECK_EQ(id2[1], uint8_t{32}); CHECK_EQ(id2.size(), size_t{34});
}

TEST_MAIN()
