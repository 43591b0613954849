// /tls/1.0.0 session engine (l2n::tls::Session): client and server in memory, bytes moved by
// hand, sometimes one byte at a time. Mutual authentication, PeerId checks, bad certificates,
// corrupted records, the input bound, close_notify, and multi-MiB data both ways.
#include <cstring>
#include <random>

#include "core/tls/gnutls_glue.h"
#include "tls_helpers.h"

using namespace l2n_test;
using l2n::tls::Error;
using l2n::tls::Session;
using l2n::tls::SessionConfig;
using l2n::tls::SessionError;

namespace {

struct Duo {
  HostKey ck = HostKey::make(1), sk = HostKey::make(1);
  std::unique_ptr<Session> client, server;
  explicit Duo(std::vector<uint8_t> expected = {}, std::shared_ptr<const l2n::tls::Certificate> ccert = nullptr,
               std::shared_ptr<const l2n::tls::Certificate> scert = nullptr, bool expect_server = true) {
    SessionConfig c{false, ccert ? ccert : make_cert(ck), expect_server && expected.empty() ? sk.peer_id() : expected, kNow, {}};
    SessionConfig s{true, scert ? scert : make_cert(sk), {}, kNow, {}};
    client = std::make_unique<Session>(c);
    server = std::make_unique<Session>(s);
  }
  // Moves bytes both ways until neither side has output; `step` splits each transfer.
  void pump(size_t step = SIZE_MAX) {
    for (int round = 0; round < 50; round++) {
      std::vector<uint8_t> a, b;
      client->poll_output(a);
      server->poll_output(b);
      if (a.empty() && b.empty()) return;
      for (size_t i = 0; i < a.size(); i += step) server->feed(a.data() + i, std::min(step, a.size() - i));
      for (size_t i = 0; i < b.size(); i += step) client->feed(b.data() + i, std::min(step, b.size() - i));
    }
  }
};

std::vector<uint8_t> drain(Session& s) {
  std::vector<uint8_t> got, buf(7000);  // odd size: records are split across reads
  for (;;) {
    size_t n = s.read(buf.data(), buf.size());
    if (n == 0) return got;
    got.insert(got.end(), buf.begin(), buf.begin() + long(n));
  }
}

// The groups of the key_share extension (RFC 8446 4.2.8) of the ClientHello that starts `wire`
// (one TLS record), or {0xffff} if it cannot be found.
std::vector<uint16_t> key_share_groups(const std::vector<uint8_t>& wire) {
  auto u16 = [&](size_t i) { return static_cast<uint16_t>(wire[i] << 8 | wire[i + 1]); };
  // record header 5, handshake header 4, legacy_version 2, random 32
  size_t p = 5 + 4 + 2 + 32;
  if (wire.size() < p + 1 || wire[0] != 22 || wire[5] != 1) return {0xffff};
  p += 1 + wire[p];                                   // legacy_session_id
  if (wire.size() < p + 2) return {0xffff};
  p += 2 + u16(p);                                    // cipher_suites
  if (wire.size() < p + 1) return {0xffff};
  p += 1 + wire[p];                                   // legacy_compression_methods
  if (wire.size() < p + 2) return {0xffff};
  size_t end = p + 2 + u16(p);
  p += 2;
  while (p + 4 <= end && end <= wire.size()) {
    uint16_t type = u16(p), len = u16(p + 2);
    p += 4;
    if (type == 0x0033) {  // key_share: client_shares<2..>, each group(2) + key_exchange<2..>
      std::vector<uint16_t> groups;
      size_t q = p + 2, qend = p + 2 + u16(p);
      while (q + 4 <= qend) { groups.push_back(u16(q)); q += 4 + u16(q + 2); }
      return groups;
    }
    p += len;
  }
  return {0xffff};
}

// A plain GnuTLS client with the libp2p certificate of `key` and the given groups, bytes through
// memory (for talking to our Session server the way another implementation would).
struct RawClient {
  gnutls_session_t s = nullptr;
  std::shared_ptr<const l2n::tls::Certificate> cert;
  std::vector<uint8_t> in, out;
  size_t in_off = 0;
  RawClient(const HostKey& key, const char* priorities) : cert(make_cert(key)) {
    CHECK(gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_NONBLOCK | GNUTLS_NO_TICKETS) == 0);
    CHECK(gnutls_priority_set_direct(s, priorities, nullptr) == 0);
    CHECK(gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cert->impl().cred) == 0);
    gnutls_datum_t alpn{reinterpret_cast<unsigned char*>(const_cast<char*>(l2n::tls::kAlpn.data())),
                        static_cast<unsigned>(l2n::tls::kAlpn.size())};
    CHECK(gnutls_alpn_set_protocols(s, &alpn, 1, 0) == 0);
    gnutls_transport_set_ptr(s, this);
    gnutls_transport_set_push_function(s, [](gnutls_transport_ptr_t p, const void* d, size_t n) -> ssize_t {
      auto* c = static_cast<RawClient*>(p);
      c->out.insert(c->out.end(), static_cast<const uint8_t*>(d), static_cast<const uint8_t*>(d) + n);
      return static_cast<ssize_t>(n);
    });
    gnutls_transport_set_pull_function(s, [](gnutls_transport_ptr_t p, void* d, size_t n) -> ssize_t {
      auto* c = static_cast<RawClient*>(p);
      size_t avail = c->in.size() - c->in_off;
      if (avail == 0) { gnutls_transport_set_errno(c->s, EAGAIN); return -1; }
      n = std::min(n, avail);
      std::memcpy(d, c->in.data() + c->in_off, n);
      c->in_off += n;
      return static_cast<ssize_t>(n);
    });
  }
  ~RawClient() { gnutls_deinit(s); }
};

}  // namespace

TEST(session_handshake_mutual_auth) {
  Duo d;
  CHECK(d.client->start());
  d.pump();
  CHECK(d.client->done());
  CHECK(d.server->done());
  CHECK(d.client->remote().peer_id == d.sk.peer_id());
  CHECK(d.server->remote().peer_id == d.ck.peer_id());
  CHECK(d.server->remote().public_key == d.ck.proto);
  CHECK(d.client->error() == SessionError::kNone);
}

// Our CertificateVerify is signed with a prepared nonce while one is ready and made whole after
// (certificate.cpp, NonceSigner): both must verify at the peer, and each nonce is used once.
TEST(session_signatures_with_prepared_and_fresh_nonces) {
  HostKey ck = HostKey::make(1), sk = HostKey::make(1);
  auto ccert = make_cert(ck), scert = make_cert(sk);
  CHECK(!ccert->prepare_signature());  // made with kSignNoncePool ready
  for (size_t i = 0; i < l2n::tls::kSignNoncePool + 2; i++) {  // the last two sign without one
    Duo d(sk.peer_id(), ccert, scert);
    CHECK(d.client->start());
    d.pump();
    CHECK(d.client->done());
    CHECK(d.server->done());
    CHECK(d.server->remote().peer_id == ck.peer_id());
  }
  size_t prepared = 0;
  while (ccert->prepare_signature()) prepared++;
  CHECK(prepared == l2n::tls::kSignNoncePool);  // every one was consumed, one at a time
  Duo d(sk.peer_id(), ccert, scert);
  CHECK(d.client->start());
  d.pump();
  CHECK(d.client->done() && d.server->done());
}

TEST(session_handshake_one_byte_at_a_time) {
  Duo d;
  CHECK(d.client->start());
  d.pump(1);
  CHECK(d.client->done() && d.server->done());
  auto msg = bytes("hello over libp2p tls");
  CHECK(d.client->write(msg.data(), msg.size()));
  std::vector<uint8_t> wire;
  d.client->poll_output(wire);
  for (uint8_t b : wire) CHECK(d.server->feed(&b, 1));
  CHECK(drain(*d.server) == msg);
}

TEST(session_data_both_ways_several_mib) {
  Duo d;
  CHECK(d.client->start());
  d.pump();
  std::vector<uint8_t> up(3 << 20), down((2 << 20) + 12345);
  std::mt19937 rng(1);
  for (auto& b : up) b = uint8_t(rng());
  for (auto& b : down) b = uint8_t(rng());
  std::vector<uint8_t> got_up, got_down, wire;
  for (size_t off = 0; off < up.size(); off += 100000) {
    CHECK(d.client->write(up.data() + off, std::min<size_t>(100000, up.size() - off)));
    wire.clear();
    d.client->poll_output(wire);
    for (size_t i = 0; i < wire.size(); i += 30000) {
      CHECK(d.server->feed(wire.data() + i, std::min<size_t>(30000, wire.size() - i)));
      auto part = drain(*d.server);
      got_up.insert(got_up.end(), part.begin(), part.end());
    }
  }
  CHECK(d.server->write(down.data(), down.size()));
  wire.clear();
  d.server->poll_output(wire);
  // Records are at most 16 KiB of plaintext.
  CHECK(wire.size() > down.size() && wire.size() < down.size() + (down.size() / l2n::tls::kMaxRecordPlaintext + 1) * 64);
  for (size_t i = 0; i < wire.size(); i += 20000) {
    CHECK(d.client->feed(wire.data() + i, std::min<size_t>(20000, wire.size() - i)));
    auto part = drain(*d.client);
    got_down.insert(got_down.end(), part.begin(), part.end());
  }
  CHECK(got_up == up);
  CHECK(got_down == down);
}

TEST(session_early_muxer_through_alpn) {
  // Both offer yamux: ALPN picks it. Only one side offers it: plain "libp2p", no muxer.
  for (int mode = 0; mode < 3; mode++) {
    Duo d;
    SessionConfig c{false, make_cert(d.ck), d.sk.peer_id(), kNow, {}};
    SessionConfig s{true, make_cert(d.sk), {}, kNow, {}};
    if (mode != 1) c.muxers = {"/mplex/6.7.0", "/yamux/1.0.0"};
    if (mode != 2) s.muxers = {"/yamux/1.0.0"};
    d.client = std::make_unique<Session>(c);
    d.server = std::make_unique<Session>(s);
    CHECK(d.client->start());
    d.pump();
    CHECK(d.client->done() && d.server->done());
    std::string want = mode == 0 ? "/yamux/1.0.0" : "";
    CHECK_EQ(d.client->selected_muxer(), want);
    CHECK_EQ(d.server->selected_muxer(), want);
  }
}

TEST(session_wrong_peer_id_rejected) {
  auto other = HostKey::make(1);
  Duo d(other.peer_id());
  CHECK(d.client->start());
  d.pump();
  CHECK(!d.client->done());
  CHECK(d.client->error() == SessionError::kCertificate);
  CHECK(d.client->certificate_error() == Error::kPeerIdMismatch);
  CHECK(d.client->remote().peer_id == d.sk.peer_id());  // the real peer, for the error message
  CHECK(d.client->remote().public_key.empty());
  CHECK(!d.server->done());
  CHECK(d.server->error() == SessionError::kHandshake);  // our bad_certificate alert
}

TEST(session_server_without_extension_rejected) {
  l2n::tls::CertificateRequest req;
  CHECK(req.generate(kNow) == Error::kNone);
  std::shared_ptr<const l2n::tls::Certificate> cert;
  CHECK(req.finish_raw(nullptr, 0, false, cert) == Error::kNone);
  Duo d({}, nullptr, cert, false);
  CHECK(d.client->start());
  d.pump();
  CHECK(d.client->error() == SessionError::kCertificate);
  CHECK(d.client->certificate_error() == Error::kMissingExtension);
}

TEST(session_client_bad_signature_rejected_by_server) {
  auto host = HostKey::make(1);
  l2n::tls::CertificateRequest req;
  CHECK(req.generate(kNow) == Error::kNone);
  auto sig = host.sign(req.message_to_sign());
  sig[1] ^= 4;
  std::shared_ptr<const l2n::tls::Certificate> bad;
  CHECK(req.finish(host.proto.data(), host.proto.size(), sig.data(), sig.size(), bad) == Error::kNone);
  Duo d({}, bad);
  CHECK(d.client->start());
  d.pump();
  CHECK(d.server->error() == SessionError::kCertificate);
  CHECK(d.server->certificate_error() == Error::kBadHostSignature);
  CHECK(!d.server->done());
  // TLS 1.3: the client finished first; it learns of the rejection from the server's alert.
  CHECK(d.client->done());
  CHECK(drain(*d.client).empty());
  CHECK(d.client->error() == SessionError::kHandshake);
}

TEST(session_corrupted_record_fails) {
  Duo d;
  CHECK(d.client->start());
  d.pump();
  auto msg = bytes("integrity matters");
  CHECK(d.client->write(msg.data(), msg.size()));
  std::vector<uint8_t> wire;
  d.client->poll_output(wire);
  wire[wire.size() - 3] ^= 0x01;  // inside the tag
  CHECK(d.server->feed(wire.data(), wire.size()));
  CHECK(drain(*d.server).empty());
  CHECK(d.server->error() == SessionError::kDecrypt);
}

TEST(session_garbage_handshake_fails) {
  Duo d;
  std::vector<uint8_t> junk(300);
  std::mt19937 rng(3);
  for (auto& b : junk) b = uint8_t(rng());
  junk[0] = 0x16; junk[1] = 3; junk[2] = 1;  // looks like a handshake record
  CHECK(!d.server->feed(junk.data(), junk.size()));
  CHECK(d.server->error() == SessionError::kHandshake);
  CHECK(!d.server->done());
}

TEST(session_input_is_bounded) {
  Duo d;
  CHECK(d.client->start());
  d.pump();
  std::vector<uint8_t> big(l2n::tls::kMaxBufferedInput + 1, 0x17);
  CHECK(!d.server->feed(big.data(), big.size()));
  CHECK(d.server->error() == SessionError::kInputTooLarge);
}

TEST(session_input_room_tracks_buffered_input) {
  Duo d;
  CHECK(d.client->start());
  d.pump();
  CHECK(d.server->done());
  CHECK(d.server->input_room() == l2n::tls::kMaxBufferedInput);
  std::vector<uint8_t> data(3 * l2n::tls::kMaxRecordPlaintext, 0x42), wire;
  CHECK(d.client->write(data.data(), data.size()));
  d.client->poll_output(wire);
  CHECK(d.server->feed(wire.data(), 100));
  CHECK(d.server->input_room() == l2n::tls::kMaxBufferedInput - 100);
  // Exactly input_room() more is taken; one byte beyond fails with kInputTooLarge.
  std::vector<uint8_t> filler(d.server->input_room(), 0);
  std::memcpy(filler.data(), wire.data() + 100, std::min(filler.size(), wire.size() - 100));
  CHECK(d.server->feed(filler.data(), filler.size()));
  CHECK(d.server->input_room() == 0);
  uint8_t one = 0;
  CHECK(!d.server->feed(&one, 1));
  CHECK(d.server->error() == SessionError::kInputTooLarge);
}

TEST(session_input_room_lets_a_caller_feed_a_large_burst_in_pieces) {
  Duo d;
  CHECK(d.client->start());
  d.pump();
  std::vector<uint8_t> data(1024 * 1024 + 7), wire;  // far beyond kMaxBufferedInput on the wire
  for (size_t i = 0; i < data.size(); i++) data[i] = static_cast<uint8_t>(i * 31 + 7);
  CHECK(d.client->write(data.data(), data.size()));
  d.client->poll_output(wire);
  CHECK(wire.size() > l2n::tls::kMaxBufferedInput);
  std::vector<uint8_t> got, buf(70000);
  size_t fed = 0;
  while (fed < wire.size()) {
    size_t take = std::min(wire.size() - fed, d.server->input_room());
    CHECK(take > 0);
    CHECK(d.server->feed(wire.data() + fed, take));
    fed += take;
    for (size_t n; (n = d.server->read(buf.data(), buf.size())) > 0;) got.insert(got.end(), buf.begin(), buf.begin() + long(n));
  }
  CHECK(got == data);
}

TEST(session_borrowed_input_and_output_sink) {
  Duo d;
  // Client output straight to a sink (as the TCP connection's output buffer), server input borrowed.
  std::vector<uint8_t> sunk;
  d.client->set_output_sink([](void* ctx, const uint8_t* p, size_t n) {
    auto* v = static_cast<std::vector<uint8_t>*>(ctx);
    v->insert(v->end(), p, p + n);
  }, &sunk);
  CHECK(d.client->start());
  std::vector<uint8_t> none;
  d.client->poll_output(none);
  CHECK(none.empty());  // everything went to the sink
  CHECK(!sunk.empty());  // the ClientHello
  for (int round = 0; round < 10 && !(d.client->done() && d.server->done()); round++) {
    std::vector<uint8_t> c2s(sunk), s2c;
    sunk.clear();
    if (!c2s.empty()) {
      CHECK(d.server->feed_borrowed(c2s.data(), c2s.size()));
      CHECK(d.server->release_input());
    }
    d.server->poll_output(s2c);
    if (!s2c.empty()) CHECK(d.client->feed(s2c.data(), s2c.size()));
  }
  CHECK(d.client->done());
  std::vector<uint8_t> fin(sunk);  // the client's Finished
  sunk.clear();
  std::vector<uint8_t> data(200000);
  for (size_t i = 0; i < data.size(); i++) data[i] = static_cast<uint8_t>(i * 7 + 3);
  CHECK(d.client->write(data.data(), data.size()));
  fin.insert(fin.end(), sunk.begin(), sunk.end());
  // Borrowed pieces split at odd places: each piece's unfinished record is copied on release and
  // read first next time; the caller may overwrite its buffer after release_input().
  std::vector<uint8_t> got, buf(9000), piece;
  for (size_t o = 0; o < fin.size(); o += 7001) {
    piece.assign(fin.begin() + long(o), fin.begin() + long(std::min(fin.size(), o + 7001)));
    CHECK(d.server->feed_borrowed(piece.data(), piece.size()));
    for (size_t n; (n = d.server->read(buf.data(), buf.size())) > 0;) got.insert(got.end(), buf.begin(), buf.begin() + long(n));
    CHECK(d.server->release_input());
    std::fill(piece.begin(), piece.end(), 0xee);
  }
  CHECK(d.server->done());
  CHECK(got == data);
  CHECK(d.server->error() == SessionError::kNone);
}

TEST(session_borrowed_input_garbage_fails) {
  Duo d;
  CHECK(d.client->start());
  std::vector<uint8_t> junk(300, 0x41);
  CHECK(!d.server->feed_borrowed(junk.data(), junk.size()));
  CHECK(d.server->error() == SessionError::kHandshake);
  CHECK(!d.server->release_input());
}

TEST(session_close_notify_ends_stream) {
  Duo d;
  CHECK(d.client->start());
  d.pump();
  auto msg = bytes("last words");
  CHECK(d.client->write(msg.data(), msg.size()));
  d.client->close();
  std::vector<uint8_t> wire;
  d.client->poll_output(wire);
  CHECK(d.server->feed(wire.data(), wire.size()));
  CHECK(drain(*d.server) == msg);
  CHECK(d.server->error() == SessionError::kClosed);
}

// Our client offers exactly one key share, X25519 (0x001d): GnuTLS shares the first group of each
// key type in the priority list, and a P-256 share would cost a key generation per dial that
// libp2p servers never use (gnutls_glue.h kClientPriorities).
TEST(session_client_hello_shares_only_x25519) {
  Duo d;
  CHECK(d.client->start());
  std::vector<uint8_t> hello;
  d.client->poll_output(hello);
  CHECK(key_share_groups(hello) == std::vector<uint16_t>{0x001d});
  CHECK(d.server->feed(hello.data(), hello.size()));
  d.pump();
  CHECK(d.client->done() && d.server->done());
}

// Our server still serves a client that supports only P-256 (after a HelloRetryRequest), so
// dropping P-256 from the client's list changed nothing for other implementations dialing us.
TEST(session_server_accepts_p256_only_client) {
  HostKey ck = HostKey::make(1), sk = HostKey::make(1);
  Session server(SessionConfig{true, make_cert(sk), {}, kNow, {}});
  RawClient c(ck, "NORMAL:-VERS-ALL:+VERS-TLS1.3:-GROUP-ALL:+GROUP-SECP256R1:%DISABLE_TLS13_COMPAT_MODE");
  int rv = GNUTLS_E_AGAIN;
  for (int round = 0; round < 10 && rv < 0; round++) {
    rv = gnutls_handshake(c.s);
    if (rv < 0 && rv != GNUTLS_E_AGAIN) break;
    if (round == 0) CHECK(key_share_groups(c.out) == std::vector<uint16_t>{0x0017});
    CHECK(server.feed(c.out.data(), c.out.size()));
    c.out.clear();
    server.poll_output(c.in);
  }
  CHECK(rv == 0);
  CHECK(gnutls_group_get(c.s) == GNUTLS_GROUP_SECP256R1);
  CHECK(server.done());
  CHECK(server.remote().peer_id == ck.peer_id());
}

TEST_MAIN()
