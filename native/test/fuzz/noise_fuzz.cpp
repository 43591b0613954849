// libFuzzer target for the Noise XX engine (l2n/noise.h). The first input byte picks a mode:
//   even: a responder is fed the rest as raw wire bytes (framing, message 1, message 3), in two
//         pieces split where the second byte says, to exercise partial-message buffering;
//   odd:  a real handshake runs in memory and the rest is the responder's NoiseHandshakePayload,
//         which the initiator must parse and verify (signature over kFuzzStatic's public key).
// Invariants besides memory safety: feed() never consumes more than given, a failed handshake
// consumes nothing more, and a handshake that succeeds exposes a PeerId.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "l2n/crypto.h"
#include "l2n/noise.h"

using namespace l2n::noise;

namespace {
// Fixed keys so that seeds can carry valid signatures: static secret = 32 x 0x42 for the
// responder, 32 x 0x43 for the initiator (seeds sign "noise-libp2p-static-key:" || X25519(0x42..)).
HandshakeConfig config(Role role, uint8_t fill, std::vector<uint8_t> payload) {
  HandshakeConfig c;
  c.role = role;
  std::memset(c.static_secret, fill, sizeof c.static_secret);
  if (!l2n::crypto::x25519_public_key(c.static_public, c.static_secret)) abort();
  c.payload = std::move(payload);
  return c;
}

void check_feed(Handshake& h, const uint8_t* p, size_t n, std::vector<uint8_t>& out) {
  bool was_over = h.done() || h.error() != Error::kNone;
  size_t used = h.feed(p, n, out);
  if (used > n) abort();
  if (was_over && used != 0) abort();
  if (h.done() && h.remote().peer_id.empty()) abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t mode = data[0];
  const uint8_t* rest = data + 2;
  const size_t n = size - 2;
  std::vector<uint8_t> out;
  if ((mode & 1) == 0) {
    Handshake resp(config(Role::kResponder, 0x42, {0x0a, 0x00}));
    resp.start(out);
    size_t cut = n == 0 ? 0 : data[1] % (n + 1);
    check_feed(resp, rest, cut, out);
    check_feed(resp, rest + cut, n - cut, out);
    if (resp.error() == Error::kNone && !resp.done() && out.size() > 2 + kMaxMessageLength) abort();
    return 0;
  }
  Handshake init(config(Role::kInitiator, 0x43, {}));
  Handshake resp(config(Role::kResponder, 0x42, std::vector<uint8_t>(rest, rest + n)));
  if (resp.error() != Error::kNone) return 0;  // over kMaxPayloadLength
  std::vector<uint8_t> m1, m2, m3;
  init.start(m1);
  check_feed(resp, m1.data(), m1.size(), m2);
  if (resp.error() != Error::kNone) abort();  // our own message 1 is always accepted
  check_feed(init, m2.data(), m2.size(), m3);
  if (init.error() == Error::kDecryptFailed) abort();  // the transport of message 2 is intact
  if (init.done()) {
    if (init.remote().stream_muxers.size() > kMaxStreamMuxers) abort();
    if (init.remote().webtransport_certhashes.size() > kMaxCerthashes) abort();
  }
  return 0;
}
