// Test driver for native/test/tools/tls_js_interop.mjs: runs our /tls/1.0.0 session engine
// (l2n::tls::Session) as one side of a libp2p TLS handshake over stdin (bytes from the peer) and
// stdout (bytes to the peer), then one application message each way. Not part of the addon.
//   tls_interop_driver <client|server> <expected peer id hex or -> <identity seed byte>
// Identity: Ed25519 from a 32-byte seed filled with the given byte.
// Offers /yamux/1.0.0 in ALPN before "libp2p" (early muxer negotiation).
// On stderr: "peer <hex>", "muxer <id or ->", "received <text>", or "error <session error> <certificate error>".
#include <poll.h>
#include <sodium.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "l2n/tls.h"

using namespace l2n::tls;

static std::vector<uint8_t> from_hex(const char* s) {
  std::vector<uint8_t> v;
  for (size_t i = 0; s[i] && s[i + 1]; i += 2) v.push_back(static_cast<uint8_t>(std::stoi(std::string(s + i, 2), nullptr, 16)));
  return v;
}
static std::string to_hex(const std::vector<uint8_t>& v) {
  std::string s;
  char b[3];
  for (uint8_t x : v) { std::snprintf(b, sizeof b, "%02x", x); s += b; }
  return s;
}
static void write_all(const std::vector<uint8_t>& b) {
  size_t off = 0;
  while (off < b.size()) {
    ssize_t n = write(1, b.data() + off, b.size() - off);
    if (n <= 0) exit(3);
    off += static_cast<size_t>(n);
  }
}
static int fail(const Session& s) {
  std::fprintf(stderr, "error %d %s\n", static_cast<int>(s.error()), error_name(s.certificate_error()));
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 4 || sodium_init() < 0) return 2;
  bool server = std::strcmp(argv[1], "server") == 0;
  uint8_t seed[32], pk[32], sk[64];
  std::memset(seed, std::atoi(argv[3]), sizeof seed);
  crypto_sign_seed_keypair(pk, sk, seed);
  std::vector<uint8_t> key = {0x08, 0x01, 0x12, 0x20};
  key.insert(key.end(), pk, pk + 32);

  int64_t now = time(nullptr);
  CertificateRequest req;
  if (req.generate(now) != Error::kNone) return 2;
  uint8_t sig[64];
  crypto_sign_detached(sig, nullptr, req.message_to_sign().data(), req.message_to_sign().size(), sk);
  std::shared_ptr<const Certificate> cert;
  if (req.finish(key.data(), key.size(), sig, sizeof sig, cert) != Error::kNone) return 2;

  SessionConfig cfg;
  cfg.is_server = server;
  cfg.cert = cert;
  if (std::strcmp(argv[2], "-") != 0) cfg.expected_peer_id = from_hex(argv[2]);
  cfg.unix_now_s = now;
  cfg.muxers = {"/yamux/1.0.0"};  // early muxer negotiation, as js-libp2p offers it
  Session s(cfg);
  if (!s.start()) return fail(s);
  std::vector<uint8_t> out, in(65536), plain(65536);
  bool said = false;
  auto greet = [&] {  // once the handshake is done: report the peer and send our message
    if (!s.done() || said) return;
    std::fprintf(stderr, "peer %s\n", to_hex(s.remote().peer_id).c_str());
    std::fprintf(stderr, "muxer %s\n", s.selected_muxer().empty() ? "-" : s.selected_muxer().c_str());
    const char msg[] = "hello from native";
    s.write(reinterpret_cast<const uint8_t*>(msg), sizeof msg - 1);
    said = true;
  };
  for (;;) {
    greet();
    out.clear();
    s.poll_output(out);
    write_all(out);
    pollfd p{0, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) { std::fprintf(stderr, "error timeout\n"); return 1; }
    ssize_t n = read(0, in.data(), in.size());
    if (n <= 0) { std::fprintf(stderr, "error eof\n"); return 1; }
    if (!s.feed(in.data(), static_cast<size_t>(n))) {
      out.clear();
      s.poll_output(out);  // our alert, if any
      write_all(out);
      return fail(s);
    }
    greet();
    size_t got = s.read(plain.data(), plain.size());
    if (got) {
      std::fprintf(stderr, "received %.*s\n", static_cast<int>(got), reinterpret_cast<char*>(plain.data()));
      out.clear();
      s.poll_output(out);
      write_all(out);
      return 0;
    }
    if (s.error() != SessionError::kNone) return fail(s);
  }
}
