// Test helpers shared by tls_test.cpp and quic_test.cpp: host identities of every libp2p key type
// made with OpenSSL, and certificates built from them.
#pragma once
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "check.h"
#include "l2n/tls.h"

namespace l2n_test {

// A signature of `msg` by `key`: with digest `md` (nullptr for Ed25519), PKCS#1 v1.5 padding for RSA.
inline std::vector<uint8_t> evp_sign(EVP_PKEY* key, const EVP_MD* md, bool rsa_pkcs1, const std::vector<uint8_t>& msg) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  EVP_DigestSignInit(ctx, &pctx, md, nullptr, key);
  if (rsa_pkcs1) EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING);
  size_t n = 0;
  EVP_DigestSign(ctx, nullptr, &n, msg.data(), msg.size());
  std::vector<uint8_t> sig(n);
  EVP_DigestSign(ctx, sig.data(), &n, msg.data(), msg.size());
  sig.resize(n);
  EVP_MD_CTX_free(ctx);
  return sig;
}

struct HostKey {
  std::shared_ptr<EVP_PKEY> pkey;
  int type = 1;                // keys.proto KeyType
  std::vector<uint8_t> proto;  // keys.proto PublicKey

  static HostKey make(int type) {
    HostKey h;
    h.type = type;
    EVP_PKEY* k = nullptr;
    std::vector<uint8_t> data;
    if (type == 1) {
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      size_t n = 32; data.resize(32);
      EVP_PKEY_get_raw_public_key(k, data.data(), &n);
    } else if (type == 0) {
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
    } else if (type == 3) {
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    } else if (type == 2) {
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "secp256k1");
      uint8_t point[65];
      size_t n = 0;
      EVP_PKEY_get_octet_string_param(k, "encoded-pub-key", point, sizeof point, &n);
      CHECK(n == 65 && point[0] == 4);
      data.push_back(static_cast<uint8_t>(2 | (point[64] & 1)));  // compressed form: parity of y, then x
      data.insert(data.end(), point + 1, point + 33);
    }
    if (type == 0 || type == 3) {
      int n = i2d_PUBKEY(k, nullptr);
      data.resize(static_cast<size_t>(n));
      uint8_t* p = data.data();
      i2d_PUBKEY(k, &p);
    }
    h.pkey.reset(k, EVP_PKEY_free);
    h.proto.push_back(0x08); h.proto.push_back(static_cast<uint8_t>(type));
    h.proto.push_back(0x12);
    size_t n = data.size();
    while (n >= 0x80) { h.proto.push_back(static_cast<uint8_t>(n | 0x80)); n >>= 7; }
    h.proto.push_back(static_cast<uint8_t>(n));
    h.proto.insert(h.proto.end(), data.begin(), data.end());
    return h;
  }

  std::vector<uint8_t> sign(const std::vector<uint8_t>& msg) const {
    return evp_sign(pkey.get(), type == 1 ? nullptr : EVP_sha256(), type == 0, msg);
  }

  std::vector<uint8_t> peer_id() const { return l2n::tls::peer_id_from_public_key(proto.data(), proto.size()); }
};

inline constexpr int64_t kNow = 1763700000;  // 2025-11-21, a fixed "now" for certificate checks

inline std::shared_ptr<const l2n::tls::Certificate> make_cert(const HostKey& host, int64_t now = kNow) {
  l2n::tls::CertificateRequest req;
  CHECK(req.generate(now) == l2n::tls::Error::kNone);
  auto sig = host.sign(req.message_to_sign());
  std::shared_ptr<const l2n::tls::Certificate> cert;
  CHECK(req.finish(host.proto.data(), host.proto.size(), sig.data(), sig.size(), cert) == l2n::tls::Error::kNone);
  return cert;
}

// One /tls/1.0.0 handshake in memory between hosts `ck` (dialer, expecting `sk`) and `sk`, with these
// certificates (l2n::tls::Session, as tls_session_test.cpp drives it); checks both learnt the other.
inline void handshake_in_memory(const HostKey& ck, const HostKey& sk, std::shared_ptr<const l2n::tls::Certificate> ccert,
                                std::shared_ptr<const l2n::tls::Certificate> scert) {
  l2n::tls::Session client({false, std::move(ccert), sk.peer_id(), kNow, {}});
  l2n::tls::Session server({true, std::move(scert), {}, kNow, {}});
  CHECK(client.start());
  for (int round = 0; round < 50; round++) {
    std::vector<uint8_t> a, b;
    client.poll_output(a);
    server.poll_output(b);
    if (a.empty() && b.empty()) break;
    server.feed(a.data(), a.size());
    client.feed(b.data(), b.size());
  }
  CHECK(client.done() && server.done());
  CHECK(client.remote().peer_id == sk.peer_id());
  CHECK(server.remote().peer_id == ck.peer_id());
}

// Base58btc (Bitcoin alphabet) decoding, for the PeerIds printed in the spec's test vectors.
inline std::vector<uint8_t> base58(const std::string& s) {
  static const std::string alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  std::vector<uint8_t> out;  // little-endian big number
  for (char ch : s) {
    size_t d = alphabet.find(ch);
    CHECK(d != std::string::npos);
    unsigned carry = static_cast<unsigned>(d);
    for (auto& b : out) { carry += 58u * b; b = carry & 0xff; carry >>= 8; }
    while (carry) { out.push_back(carry & 0xff); carry >>= 8; }
  }
  for (size_t i = 0; i < s.size() && s[i] == '1'; i++) out.push_back(0);
  return {out.rbegin(), out.rend()};
}

}  // namespace l2n_test
