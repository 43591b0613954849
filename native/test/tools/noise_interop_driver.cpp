// Test driver for native/test/tools/noise_js_interop.mjs: runs our Noise engine as one side of a
// libp2p Noise handshake over stdin (bytes from the peer) and stdout (bytes to the peer), then one
// transport message each way. Not part of the addon.
//   noise_interop_driver <initiator|responder> <expected peer id hex or -> <identity seed byte>
// Identity: Ed25519 from a 32-byte seed filled with the given byte; payload lists /yamux/1.0.0.
// On stderr: "peer <hex>", "muxers <list>", "received <text>", or "error <code>". Exit 0 on success.
#include <sodium.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "l2n/crypto.h"
#include "l2n/noise.h"

using namespace l2n::noise;

static std::vector<uint8_t> from_hex(const char* s) {
  std::vector<uint8_t> v;
  for (size_t i = 0; s[i] && s[i + 1]; i += 2) v.push_back(static_cast<uint8_t>(std::stoi(std::string(s + i, 2), nullptr, 16)));
  return v;
}
static void field(std::vector<uint8_t>& out, uint8_t tag, const std::vector<uint8_t>& v) {
  out.push_back(tag);
  out.push_back(static_cast<uint8_t>(v.size()));  // every field here is < 128 bytes
  out.insert(out.end(), v.begin(), v.end());
}
static void write_all(const std::vector<uint8_t>& b) {
  size_t off = 0;
  while (off < b.size()) {
    ssize_t n = write(1, b.data() + off, b.size() - off);
    if (n <= 0) exit(3);
    off += static_cast<size_t>(n);
  }
}

int main(int argc, char** argv) {
  if (argc != 4 || sodium_init() < 0) return 2;
  HandshakeConfig cfg;
  cfg.role = std::strcmp(argv[1], "initiator") == 0 ? Role::kInitiator : Role::kResponder;
  if (std::strcmp(argv[2], "-") != 0) cfg.expected_remote_peer_id = from_hex(argv[2]);
  uint8_t seed[32], pk[32], sk[64];
  std::memset(seed, std::atoi(argv[3]), sizeof seed);
  crypto_sign_seed_keypair(pk, sk, seed);
  if (!l2n::crypto::x25519_keypair(cfg.static_secret, cfg.static_public)) return 2;
  std::vector<uint8_t> key = {0x08, 0x01, 0x12, 0x20};
  key.insert(key.end(), pk, pk + 32);
  std::vector<uint8_t> msg(kStaticKeySignaturePrefix.begin(), kStaticKeySignaturePrefix.end());
  msg.insert(msg.end(), cfg.static_public, cfg.static_public + 32);
  std::vector<uint8_t> sig(64), ext, mux(std::string_view("/yamux/1.0.0").begin(), std::string_view("/yamux/1.0.0").end());
  crypto_sign_detached(sig.data(), nullptr, msg.data(), msg.size(), sk);
  field(ext, 0x12, mux);
  field(cfg.payload, 0x0a, key);
  field(cfg.payload, 0x12, sig);
  field(cfg.payload, 0x22, ext);

  Handshake hs(cfg);
  std::vector<uint8_t> out, in;
  hs.start(out);
  write_all(out);
  uint8_t buf[4096];
  while (!hs.done() && hs.error() == Error::kNone) {
    ssize_t n = read(0, buf, sizeof buf);
    if (n <= 0) { std::fprintf(stderr, "error eof\n"); return 1; }
    out.clear();
    size_t used = hs.feed(buf, static_cast<size_t>(n), out);
    write_all(out);
    in.insert(in.end(), buf + used, buf + n);  // transport bytes that came with the last message
  }
  if (hs.error() != Error::kNone) { std::fprintf(stderr, "error %d\n", static_cast<int>(hs.error())); return 1; }
  std::string hex;
  for (uint8_t b : hs.remote().peer_id) { char h[3]; std::snprintf(h, sizeof h, "%02x", b); hex += h; }
  std::fprintf(stderr, "peer %s\nmuxers", hex.c_str());
  for (auto& m : hs.remote().stream_muxers) std::fprintf(stderr, " %s", m.c_str());
  std::fprintf(stderr, "\n");

  CipherState send = hs.take_send(), recv = hs.take_recv();
  std::string hello = cfg.role == Role::kInitiator ? "hello from native initiator" : "hello from native responder";
  std::vector<uint8_t> frame(hello.size() + kFrameOverhead);
  if (send.encrypt_frame(reinterpret_cast<const uint8_t*>(hello.data()), hello.size(), frame.data()) != Error::kNone) return 1;
  write_all(frame);
  while (in.size() < 2 || in.size() < 2 + (static_cast<size_t>(in[0]) << 8 | in[1])) {
    ssize_t n = read(0, buf, sizeof buf);
    if (n <= 0) { std::fprintf(stderr, "error eof in transport\n"); return 1; }
    in.insert(in.end(), buf, buf + n);
  }
  size_t len = static_cast<size_t>(in[0]) << 8 | in[1];
  Error e = recv.decrypt(in.data() + 2, len, in.data() + 2);
  if (e != Error::kNone) { std::fprintf(stderr, "error %d\n", static_cast<int>(e)); return 1; }
  std::fprintf(stderr, "received %.*s\n", static_cast<int>(len - kTagLength), reinterpret_cast<char*>(in.data() + 2));
  return 0;
}
