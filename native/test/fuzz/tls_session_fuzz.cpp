// libFuzzer target for the /tls/1.0.0 session engine's handling of untrusted bytes: our glue
// around GnuTLS (bounded input buffer, pull/push, compaction, handshake and record states) with
// GnuTLS's parsers behind it. Each input drives a fresh server session and a fresh client session
// (after start()) with the input cut into chunks by its own first bytes, then a server the way the
// TCP connection drives it (borrowed input released after each chunk, which is then overwritten;
// output through the sink). Seeds:
// native/test/corpus/tls_session/ (a real ClientHello, a server's first flight).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "l2n/tls.h"

namespace {
std::shared_ptr<const l2n::tls::Certificate> cert() {
  static std::shared_ptr<const l2n::tls::Certificate> c = [] {
    l2n::tls::CertificateRequest req;
    req.generate(1763700000);
    const uint8_t key[] = {0x08, 0x01, 0x12, 0x20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                           17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
    const uint8_t sig[64] = {};
    std::shared_ptr<const l2n::tls::Certificate> out;
    req.finish(key, sizeof key, sig, sizeof sig, out);
    return out;
  }();
  return c;
}

void drive(l2n::tls::Session& s, const uint8_t* data, size_t size) {
  std::vector<uint8_t> out, plain(4096);
  size_t off = 0;
  while (off < size) {
    size_t n = 1 + data[off] % 97 * 13;  // chunk sizes from 1 to ~1.2 KiB
    if (n > size - off) n = size - off;
    if (!s.feed(data + off, n)) break;
    off += n;
    while (s.read(plain.data(), plain.size()) > 0) {}
    out.clear();
    s.poll_output(out);
  }
}
// As native/io/connection.cpp process_tls: feed_borrowed, read until 0, release_input.
void drive_borrowed(l2n::tls::Session& s, const uint8_t* data, size_t size) {
  std::vector<uint8_t> chunk, plain(4096);
  size_t off = 0;
  while (off < size) {
    size_t n = 1 + data[off] % 89 * 17;  // chunk sizes from 1 to ~1.5 KiB
    if (n > size - off) n = size - off;
    chunk.assign(data + off, data + off + n);
    off += n;
    bool ok = s.feed_borrowed(chunk.data(), chunk.size());
    if (ok) while (s.read(plain.data(), plain.size()) > 0) {}
    bool kept = s.release_input();
    std::fill(chunk.begin(), chunk.end(), 0xa5);  // the engine must hold no view of it any more
    if (!ok || !kept) break;
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  l2n::tls::SessionConfig server_cfg{true, cert(), {}, 1763700000, {"/yamux/1.0.0"}};
  l2n::tls::Session server(server_cfg);
  drive(server, data, size);
  l2n::tls::SessionConfig client_cfg{false, cert(), {}, 1763700000, {}};
  l2n::tls::Session client(client_cfg);
  client.start();
  std::vector<uint8_t> hello;
  client.poll_output(hello);
  drive(client, data, size);
  l2n::tls::Session borrowed(server_cfg);
  size_t sunk = 0;
  borrowed.set_output_sink([](void* ctx, const uint8_t*, size_t n) { *static_cast<size_t*>(ctx) += n; }, &sunk);
  drive_borrowed(borrowed, data, size);
  return 0;
}
