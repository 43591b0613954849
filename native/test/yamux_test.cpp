// Yamux engine tests: frames built by hand from the yamux spec (12-byte big-endian header:
// version, type, flags, stream id, length), split inputs, every error of the closed set, and a
// client/server pair in virtual time showing receive-window growth.
#include "check.h"
#include "l2n/errors.h"
#include "l2n/yamux.h"

#include <cstdlib>
#include <deque>
#include <map>
#include <random>

using namespace l2n::yamux;
using l2n_test::hex;
using l2n_test::to_hex;

namespace {
// One frame header as hex: "vv tt ffff iiiiiiii llllllll" (spec field order, network byte order).
std::string fr(unsigned type, unsigned flags, uint32_t id, uint32_t len) {
  char b[32];
  std::snprintf(b, sizeof b, "00%02x%04x%08x%08x", type, flags, id, len);
  return b;
}
enum : unsigned { DATA = 0, WU = 1, PING = 2, GOAWAY = 3 };
enum : unsigned { SYN = 1, ACK = 2, FIN = 4, RST = 8 };

std::vector<uint8_t> cat(std::initializer_list<std::string> parts) {
  std::vector<uint8_t> v;
  for (auto& p : parts) { auto h = hex(p); v.insert(v.end(), h.begin(), h.end()); }
  return v;
}
std::string ascii_hex(const std::string& s) { return to_hex(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

Config no_probe() { Config c; c.rtt_probe_interval_ns = 0; return c; }

struct Rec {
  std::vector<Event> ev;
  std::map<uint32_t, std::string> data;
  const uint8_t* lo = nullptr;  // the input buffer, to check data events point into it
  const uint8_t* hi = nullptr;
  bool outside = false;
  void operator()(const Event& e) {
    ev.push_back(e);
    if (e.type == EventType::kData) {
      data[e.stream_id].append(reinterpret_cast<const char*>(e.data), e.len);
      if (e.data < lo || e.data + e.len > hi) outside = true;
    }
  }
  size_t count(EventType t) const { size_t n = 0; for (auto& e : ev) n += e.type == t; return n; }
};

bool feed(Session& s, const std::vector<uint8_t>& in, Rec& r, uint64_t now = 0) {
  r.lo = in.data(); r.hi = in.data() + in.size();
  return s.handle_input(in.data(), in.size(), now, r);
}
bool feed_bytewise(Session& s, const std::vector<uint8_t>& in, Rec& r, uint64_t now = 0) {
  r.lo = in.data(); r.hi = in.data() + in.size();
  for (size_t i = 0; i < in.size(); i++)
    if (!s.handle_input(&in[i], 1, now, r)) return false;
  return true;
}
std::string control(Session& s) { std::vector<uint8_t> out; s.poll_control(out); return to_hex(out); }
}  // namespace

// errors.h maps engine errors to JS codes by their numeric value: keep them stable.
static_assert(l2n::err::from_engine(l2n::err::kYamuxBase, Error::kRemoteGoAway) == l2n::err::kYamuxRemoteGoAway);
static_assert(static_cast<int>(Error::kStreamClosed) == 9, "new errors go at the end");

// ---- codec ----

TEST(codec_known_vector) {
  uint8_t b[kHeaderLength];
  encode_header(Header{0, 0, kFlagSyn, 1, 5}, b);
  CHECK_EQ(to_hex(b, kHeaderLength), std::string("000000010000000100000005"));
  encode_header(Header{0, 1, kFlagAck | kFlagFin, 0x01020304, 0x00040000}, b);
  CHECK_EQ(to_hex(b, kHeaderLength), std::string("000100060102030400040000"));
  auto in = hex("00020001" "00000000" "deadbeef");
  Header h = decode_header(in.data());
  CHECK_EQ(h.type, 2);
  CHECK_EQ(h.flags, kFlagSyn);
  CHECK_EQ(h.stream_id, 0u);
  CHECK_EQ(h.length, 0xdeadbeefu);
}

TEST(codec_round_trip_property) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 200000; i++) {
    Header h{static_cast<uint8_t>(rng()), static_cast<uint8_t>(rng()), static_cast<uint16_t>(rng()),
             static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng())};
    uint8_t b[kHeaderLength];
    encode_header(h, b);
    CHECK(decode_header(b) == h);
    uint8_t raw[kHeaderLength], again[kHeaderLength];
    for (auto& x : raw) x = static_cast<uint8_t>(rng());
    encode_header(decode_header(raw), again);  // the header is a bijection on 12 bytes
    CHECK(std::memcmp(raw, again, kHeaderLength) == 0);
  }
}

TEST(check_header_closed_set) {
  CHECK(check_header(Header{0, 0, 0, 1, 0}) == Error::kNone);
  CHECK(check_header(Header{1, 0, 0, 1, 0}) == Error::kBadVersion);
  CHECK(check_header(Header{0, 4, 0, 1, 0}) == Error::kBadType);
  CHECK(check_header(Header{0, 0, 0x10, 1, 0}) == Error::kBadFlags);
  CHECK(check_header(Header{0, 1, kFlagSyn | kFlagAck, 1, 0}) == Error::kBadFlags);
  CHECK(check_header(Header{0, 2, 0, 0, 7}) == Error::kBadFlags);  // ping: neither SYN nor ACK
  CHECK(check_header(Header{0, 2, kFlagAck, 0, 7}) == Error::kNone);
}

// ---- inbound streams ----

TEST(inbound_syn_data_zero_copy) {
  Session s(no_probe(), false);
  Rec r;
  auto in = cat({fr(DATA, SYN, 1, 5), ascii_hex("hello")});
  CHECK(feed(s, in, r));
  CHECK_EQ(r.ev.size(), size_t(2));
  CHECK(r.ev[0].type == EventType::kStreamOpened);
  CHECK_EQ(r.ev[0].stream_id, 1u);
  CHECK(r.ev[1].type == EventType::kData);
  CHECK(r.ev[1].data == in.data() + kHeaderLength);  // points into our buffer
  CHECK_EQ(r.data[1], std::string("hello"));
  CHECK_EQ(s.num_pending_inbound(), size_t(1));
  CHECK_EQ(control(s), std::string(""));
  s.accept_stream(1);
  CHECK_EQ(s.num_pending_inbound(), size_t(0));
  CHECK_EQ(control(s), fr(WU, ACK, 1, 0));
  s.accept_stream(1);  // once only
  CHECK_EQ(control(s), std::string(""));
}

TEST(split_input_delivers_pieces_without_copy) {
  Session s(no_probe(), false);
  Rec r;
  auto in = cat({fr(WU, SYN, 1, 0), fr(DATA, 0, 1, 11), ascii_hex("hello world"),
                 fr(DATA, FIN, 1, 3), ascii_hex("abc"), fr(PING, SYN, 0, 77)});
  CHECK(feed_bytewise(s, in, r));
  CHECK(!r.outside);
  CHECK_EQ(r.data[1], std::string("hello worldabc"));
  CHECK_EQ(r.count(EventType::kData), size_t(14));  // one piece per byte
  CHECK(r.ev.back().type == EventType::kRemoteFin);  // FIN after the frame's data
  CHECK_EQ(control(s), fr(PING, ACK, 0, 77));
  // Random splits give the same events.
  std::mt19937 rng(1);
  for (int round = 0; round < 200; round++) {
    Session t(no_probe(), false);
    Rec q;
    q.lo = in.data(); q.hi = in.data() + in.size();
    for (size_t i = 0; i < in.size();) {
      size_t n = std::min<size_t>(in.size() - i, rng() % 20);
      CHECK(t.handle_input(in.data() + i, n, 0, q));
      i += n;
    }
    CHECK_EQ(q.data[1], r.data[1]);
    CHECK(!q.outside);
    CHECK_EQ(q.count(EventType::kRemoteFin), size_t(1));
    CHECK(q.ev.back().type == EventType::kRemoteFin);
  }
}

TEST(window_update_syn_credits_send_window) {
  Session s(no_probe(), true);
  Rec r;
  CHECK(feed(s, cat({fr(WU, SYN, 2, 1000)}), r));
  CHECK(r.ev[0].type == EventType::kStreamOpened);
  CHECK(r.ev[1].type == EventType::kSendWindow);
  CHECK_EQ(r.ev[1].len, kInitialWindow + 1000);
  CHECK_EQ(s.send_window(2), kInitialWindow + 1000);
  uint8_t h[kHeaderLength];
  CHECK(s.write_data_header(2, 10, false, h));  // carries the ACK
  CHECK_EQ(to_hex(h, kHeaderLength), fr(DATA, ACK, 2, 10));
  CHECK(s.write_data_header(2, 10, false, h));
  CHECK_EQ(to_hex(h, kHeaderLength), fr(DATA, 0, 2, 10));
  CHECK_EQ(s.send_window(2), kInitialWindow + 980);
}

// ---- outbound streams ----

TEST(outbound_ids_syn_fin_and_send_window) {
  Session c(no_probe(), true), sv(no_probe(), false);
  CHECK_EQ(c.open_stream(), 1u);
  CHECK_EQ(c.open_stream(), 3u);
  CHECK_EQ(sv.open_stream(), 2u);
  CHECK_EQ(sv.open_stream(), 4u);
  uint8_t h[kHeaderLength];
  CHECK(c.write_data_header(1, 100, false, h));
  CHECK_EQ(to_hex(h, kHeaderLength), fr(DATA, SYN, 1, 100));
  CHECK(c.write_data_header(1, kInitialWindow - 100, false, h));
  CHECK_EQ(c.send_window(1), 0u);
  CHECK(!c.write_data_header(1, 1, false, h));  // over the window: refused, nothing written
  CHECK(c.write_data_header(1, 0, false, h));   // empty frame is within any window
  Rec r;
  CHECK(feed(c, cat({fr(WU, ACK, 1, 4096)}), r));
  CHECK_EQ(r.ev.size(), size_t(1));
  CHECK(r.ev[0].type == EventType::kSendWindow);
  CHECK_EQ(r.ev[0].len, 4096u);
  CHECK(c.write_data_header(1, 4096, true, h));
  CHECK_EQ(to_hex(h, kHeaderLength), fr(DATA, FIN, 1, 4096));
  CHECK(!c.write_data_header(1, 0, false, h));  // closed for writing
  c.close_stream(3);                            // never written: SYN rides with the FIN
  CHECK_EQ(control(c), fr(WU, SYN | FIN, 3, 0));
  CHECK(!c.write_data_header(7, 0, false, h));  // unknown stream
}

TEST(fin_both_ways_frees_the_stream) {
  Session c(no_probe(), true);
  uint32_t id = c.open_stream();
  uint8_t h[kHeaderLength];
  CHECK(c.write_data_header(id, 1, true, h));
  CHECK_EQ(c.num_streams(), size_t(1));
  Rec r;
  CHECK(feed(c, cat({fr(DATA, ACK | FIN, id, 2), "6869"}), r));
  CHECK(r.ev.back().type == EventType::kRemoteFin);
  CHECK_EQ(r.data[id], std::string("hi"));
  CHECK_EQ(c.num_streams(), size_t(0));
  // A late window update for the closed stream is skipped, not an error.
  CHECK(feed(c, cat({fr(WU, 0, id, 100)}), r));
}

TEST(remote_reset_and_late_frames) {
  Session s(no_probe(), false);
  Rec r;
  CHECK(feed(s, cat({fr(DATA, SYN, 1, 1), "61", fr(WU, RST, 1, 0), fr(DATA, 0, 1, 3), "626364"}), r));
  CHECK(r.ev[2].type == EventType::kRemoteReset);
  CHECK_EQ(r.data[1], std::string("a"));  // the late frame's bytes are skipped
  CHECK_EQ(s.num_streams(), size_t(0));
  CHECK_EQ(s.num_pending_inbound(), size_t(0));
}

TEST(local_reset_stops_delivery_of_current_frame) {
  Session s(no_probe(), false);
  auto in = cat({fr(DATA, SYN, 1, 6), ascii_hex("abcdef"), fr(DATA, SYN, 3, 1), "7a"});
  std::string got;
  size_t events = 0;
  auto sink = [&](const Event& e) {
    events++;
    if (e.type == EventType::kData) { got.append(reinterpret_cast<const char*>(e.data), e.len); if (e.stream_id == 1) s.reset_stream(1); }
  };
  for (size_t i = 0; i < in.size(); i += 2) CHECK(s.handle_input(&in[i], std::min<size_t>(2, in.size() - i), 0, sink));
  CHECK_EQ(got, std::string("abz"));  // after the reset, stream 1's bytes are dropped
  CHECK_EQ(control(s), fr(WU, RST, 1, 0));
}

TEST(sink_may_call_commands_while_parsing) {
  // Opening streams from inside the sink grows the stream storage while a body is being delivered.
  Session s(no_probe(), false);
  auto in = cat({fr(DATA, SYN, 1, 8), ascii_hex("abcdefgh"), fr(WU, SYN | FIN, 3, 0), fr(DATA, 0, 1, 2), ascii_hex("ij")});
  std::string got;
  std::vector<uint32_t> opened;
  size_t fins = 0;
  auto sink = [&](const Event& e) {
    if (e.type == EventType::kData) {
      got.append(reinterpret_cast<const char*>(e.data), e.len);
      for (int i = 0; i < 50; i++) opened.push_back(s.open_stream());
      s.consume(e.stream_id, e.len, 0);
    }
    if (e.type == EventType::kStreamOpened) s.accept_stream(e.stream_id);
    if (e.type == EventType::kRemoteFin) { fins++; CHECK_EQ(e.stream_id, 3u); }
  };
  for (size_t i = 0; i < in.size(); i += 3) CHECK(s.handle_input(&in[i], std::min<size_t>(3, in.size() - i), 0, sink));
  CHECK_EQ(got, std::string("abcdefghij"));
  CHECK_EQ(fins, size_t(1));
  CHECK_EQ(opened.size(), size_t(50 * 5));  // 3-byte chunks cut the bodies into 3+3+2 and 1+1 bytes
  CHECK_EQ(opened.front(), 2u);
  CHECK_EQ(opened.back(), 2u * 250);
  CHECK_EQ(s.num_streams(), size_t(2 + 250));
  CHECK_EQ(control(s), fr(WU, ACK, 1, 0) + fr(WU, ACK, 3, 0));  // consume of 10 bytes owes too little credit
}

TEST(ping_answered_and_rtt_measured) {
  Session s(no_probe(), true);
  Rec r;
  CHECK(feed(s, cat({fr(PING, SYN, 0, 0x1234)}), r));
  CHECK_EQ(control(s), fr(PING, ACK, 0, 0x1234));
  s.ping(1'000'000);
  s.ping(1'500'000);  // one outstanding at a time
  CHECK_EQ(control(s), fr(PING, SYN, 0, 1));
  CHECK(feed(s, cat({fr(PING, ACK, 0, 99)}), r, 2'000'000));  // unmatched pong: ignored
  CHECK_EQ(r.count(EventType::kPong), size_t(0));
  CHECK(feed(s, cat({fr(PING, ACK, 0, 1)}), r, 5'000'000));
  CHECK_EQ(r.count(EventType::kPong), size_t(1));
  CHECK_EQ(s.rtt_ns(), uint64_t(4'000'000));
  s.ping(10'000'000);
  CHECK_EQ(control(s), fr(PING, SYN, 0, 2));
  CHECK(feed(s, cat({fr(PING, ACK, 0, 2)}), r, 22'000'000));
  CHECK_EQ(s.rtt_ns(), uint64_t((7 * 4'000'000 + 12'000'000) / 8));  // RFC 6298 smoothing
}

TEST(rtt_probe_deadline) {
  Config c;
  c.rtt_probe_interval_ns = 1'000'000'000;
  Session s(c, true);
  CHECK_EQ(s.next_deadline(), uint64_t(0));  // a probe is due at once
  s.handle_timeout(500);
  CHECK_EQ(control(s), fr(PING, SYN, 0, 1));
  CHECK_EQ(s.next_deadline(), UINT64_MAX);   // waiting for the pong
  Rec r;
  CHECK(feed(s, cat({fr(PING, ACK, 0, 1)}), r, 1500));
  CHECK_EQ(s.rtt_ns(), uint64_t(1000));
  CHECK_EQ(s.next_deadline(), uint64_t(1'000'001'500));
  s.handle_timeout(1'000'000'000);  // early: nothing
  CHECK_EQ(control(s), std::string(""));
  s.handle_timeout(1'000'001'500);
  CHECK_EQ(control(s), fr(PING, SYN, 0, 2));
}

TEST(go_away_both_ways) {
  Session s(no_probe(), true);
  Rec r;
  CHECK(feed(s, cat({fr(GOAWAY, 0, 0, 0)}), r));
  CHECK(r.ev[0].type == EventType::kGoAway);
  CHECK_EQ(r.ev[0].code, 0u);
  Error why = Error::kNone;
  CHECK_EQ(s.open_stream(&why), 0u);
  CHECK(why == Error::kRemoteGoAway);
  CHECK(s.error() == Error::kNone);  // not fatal

  Session t(no_probe(), false);
  t.go_away(kGoAwayNormal);
  CHECK_EQ(control(t), fr(GOAWAY, 0, 0, 0));
  Rec q;
  CHECK(feed(t, cat({fr(DATA, SYN, 1, 2), "0102"}), q));  // refused after our go-away
  CHECK_EQ(q.ev.size(), size_t(0));
  CHECK_EQ(control(t), fr(WU, RST, 1, 0));
}

TEST(consume_grants_credit_in_half_window_steps) {
  Session s(no_probe(), false);
  Rec r;
  std::vector<uint8_t> in = hex(fr(DATA, SYN, 1, kInitialWindow));
  in.resize(kHeaderLength + kInitialWindow, 0x55);
  CHECK(feed(s, in, r));
  s.consume(1, kInitialWindow / 2 - 1, 0);  // below half a window, but the ACK goes at once
  CHECK_EQ(control(s), fr(WU, ACK, 1, kInitialWindow / 2 - 1));
  s.consume(1, 1, 0);  // 1 byte of credit owed: batched
  CHECK_EQ(control(s), std::string(""));
  s.consume(1, kInitialWindow / 4, 0);
  CHECK_EQ(control(s), std::string(""));
  s.consume(1, kInitialWindow / 4, 0);  // now half a window + 1 owed
  CHECK_EQ(control(s), fr(WU, 0, 1, kInitialWindow / 2 + 1));
  s.consume(1, 5, 0);  // more than was received: clamped, nothing owed
  CHECK_EQ(control(s), std::string(""));
  CHECK_EQ(s.receive_window(1), kInitialWindow);  // no RTT known: no growth
  // Remote credit is back to a full window: exactly that much is accepted again.
  std::vector<uint8_t> more = hex(fr(DATA, 0, 1, kInitialWindow));
  more.resize(kHeaderLength + kInitialWindow);
  CHECK(feed(s, more, r));
}

// ---- errors ----

TEST(error_bad_version_type_flags) {
  struct Case { std::string frame; Error want; };
  const Case cases[] = {
      {"01000001" "00000001" "00000000", Error::kBadVersion},
      {"00040000" "00000001" "00000000", Error::kBadType},
      {"00ff0000" "00000001" "00000000", Error::kBadType},
      {"00000010" "00000001" "00000000", Error::kBadFlags},
      {"00010003" "00000001" "00000000", Error::kBadFlags},  // SYN|ACK
      {"00020000" "00000000" "00000001", Error::kBadFlags},  // ping without SYN/ACK
  };
  for (const auto& c : cases) {
    for (int bytewise = 0; bytewise < 2; bytewise++) {
      Session s(no_probe(), false);
      Rec r;
      auto in = hex(c.frame);
      CHECK(!(bytewise ? feed_bytewise(s, in, r) : feed(s, in, r)));
      CHECK(s.error() == c.want);
      CHECK_EQ(control(s), fr(GOAWAY, 0, 0, kGoAwayProtocolError));
      CHECK(!feed(s, cat({fr(PING, SYN, 0, 1)}), r));  // stays failed
      CHECK_EQ(s.open_stream(), 0u);
    }
  }
}

TEST(error_window_exceeded_at_header) {
  {  // new stream: more than the initial window, detected with only the header fed
    Session s(no_probe(), false);
    Rec r;
    CHECK(!feed(s, cat({fr(DATA, SYN, 1, kInitialWindow + 1)}), r));
    CHECK(s.error() == Error::kWindowExceeded);
    CHECK_EQ(r.ev.size(), size_t(0));
  }
  {  // existing stream: remaining window after earlier data
    Session s(no_probe(), false);
    Rec r;
    std::vector<uint8_t> in = hex(fr(DATA, SYN, 1, 1000));
    in.resize(kHeaderLength + 1000);
    CHECK(feed(s, in, r));
    CHECK(feed(s, cat({fr(DATA, 0, 1, kInitialWindow - 1000)}), r));  // exactly the rest: fine
    Session t(no_probe(), false);
    Rec q;
    CHECK(feed(t, in, q));
    CHECK(!feed_bytewise(t, cat({fr(DATA, 0, 1, kInitialWindow - 999)}), q));
    CHECK(t.error() == Error::kWindowExceeded);
  }
}

TEST(error_bad_stream_id) {
  const std::string cases[] = {
      fr(DATA, SYN, 2, 0),         // server receiving a SYN with its own (even) parity
      fr(DATA, 0, 0, 1),           // stream frame on id 0
      fr(WU, 0, 0, 1),
      fr(DATA, 0, 5, 1),           // never opened (remote parity, above any SYN seen)
      fr(WU, 0, 4, 1),             // never opened (our parity, never allocated)
  };
  for (const auto& f : cases) {
    Session s(no_probe(), false);
    Rec r;
    CHECK(!feed(s, hex(f), r));
    CHECK(s.error() == Error::kBadStreamId);
  }
  Session s(no_probe(), false);  // duplicate SYN on an open stream
  Rec r;
  CHECK(feed(s, cat({fr(WU, SYN, 1, 0)}), r));
  CHECK(!feed(s, cat({fr(WU, SYN, 1, 0)}), r));
  CHECK(s.error() == Error::kBadStreamId);
  Session c(no_probe(), true);  // client receiving a SYN with odd id
  CHECK(!feed(c, cat({fr(WU, SYN, 3, 0)}), r));
  CHECK(c.error() == Error::kBadStreamId);
}

TEST(error_too_many_streams_and_pending_backlog) {
  Config cfg = no_probe();
  cfg.max_streams = 3;
  cfg.max_pending_inbound = 2;
  Session s(cfg, false);
  Rec r;
  CHECK(feed(s, cat({fr(WU, SYN, 1, 0), fr(WU, SYN, 3, 0)}), r));
  CHECK(feed(s, cat({fr(DATA, SYN, 5, 3), "010203"}), r));  // backlog full: refused with RST
  CHECK_EQ(control(s), fr(WU, RST, 5, 0));
  CHECK_EQ(r.count(EventType::kStreamOpened), size_t(2));
  CHECK_EQ(r.count(EventType::kData), size_t(0));
  CHECK(feed(s, cat({fr(DATA, 0, 5, 1), "ff"}), r));  // in-flight data of the refused stream: skipped
  s.accept_stream(1);
  s.accept_stream(3);
  CHECK_EQ(control(s), fr(WU, ACK, 1, 0) + fr(WU, ACK, 3, 0));
  CHECK_EQ(s.open_stream(), 2u);  // 3 streams now
  Error why;
  CHECK_EQ(s.open_stream(&why), 0u);
  CHECK(why == Error::kTooManyStreams);
  CHECK(s.error() == Error::kNone);
  CHECK(!feed(s, cat({fr(WU, SYN, 7, 0)}), r));  // inbound beyond max_streams: fatal
  CHECK(s.error() == Error::kTooManyStreams);
  CHECK_EQ(control(s), fr(GOAWAY, 0, 0, kGoAwayInternalError));
}

TEST(error_stream_ids_exhausted) {
  Session c(no_probe(), true);
  c.debug_set_next_stream_id(0xFFFFFFFFu);
  CHECK_EQ(c.open_stream(), 0xFFFFFFFFu);
  Error why;
  CHECK_EQ(c.open_stream(&why), 0u);
  CHECK(why == Error::kStreamIdsExhausted);
  Session s(no_probe(), false);
  s.debug_set_next_stream_id(0xFFFFFFFEu);
  CHECK_EQ(s.open_stream(), 0xFFFFFFFEu);
  CHECK_EQ(s.open_stream(&why), 0u);
  CHECK(why == Error::kStreamIdsExhausted);
}

TEST(error_data_after_fin) {
  Session s(no_probe(), false);
  Rec r;
  CHECK(feed(s, cat({fr(DATA, SYN | FIN, 1, 1), "61", fr(DATA, FIN, 1, 0)}), r));  // repeated FIN: ignored
  CHECK_EQ(r.count(EventType::kRemoteFin), size_t(1));
  CHECK(!feed(s, cat({fr(DATA, 0, 1, 1), "62"}), r));
  CHECK(s.error() == Error::kStreamClosed);
}

TEST(stream_table_many_streams) {
  Config cfg = no_probe();
  cfg.max_streams = 5000;
  cfg.max_pending_inbound = 5000;
  Session s(cfg, false);
  Rec r;
  std::vector<uint8_t> in;
  for (uint32_t id = 1; id < 2 * 4000; id += 2) { auto f = hex(fr(DATA, SYN, id, 4)); in.insert(in.end(), f.begin(), f.end()); for (int k = 0; k < 4; k++) in.push_back(static_cast<uint8_t>(id >> (8 * k))); }
  CHECK(feed(s, in, r));
  CHECK_EQ(s.num_streams(), size_t(4000));
  // Reset every third stream, then check every remaining one is still found with its own data.
  for (uint32_t id = 1; id < 2 * 4000; id += 6) s.reset_stream(id);
  for (uint32_t id = 1; id < 2 * 4000; id += 2) {
    const bool gone = (id - 1) % 6 == 0;
    CHECK_EQ(s.receive_window(id), gone ? 0u : kInitialWindow);
    std::string want(4, 0);
    for (int k = 0; k < 4; k++) want[k] = static_cast<char>(id >> (8 * k));
    CHECK_EQ(r.data[id], want);
  }
  CHECK_EQ(s.num_streams(), size_t(4000 - 1334));
}

// ---- a client/server pair in virtual time ----

namespace {
struct Link {  // one direction: bytes arrive `delay_ns` after they are sent
  struct Seg { uint64_t at; std::vector<uint8_t> bytes; uint32_t zeros; };
  std::deque<Seg> q;
  uint64_t delay_ns;
};
const std::vector<uint8_t>& zero_chunk() { static std::vector<uint8_t> z(1 << 16, 0); return z; }

struct PairResult { uint32_t max_window_seen = 0; uint64_t delivered = 0; bool ok = true; uint32_t final_window = 0; uint64_t finish_ns = 0; };

// Server sends `total` bytes on one stream to the client; the client's application consumes
// `consume_per_ms` bytes per virtual millisecond (0 = at once). RTT = 2 * one_way_ns.
PairResult run_pair(const Config& cfg, uint64_t total, uint64_t one_way_ns, uint64_t consume_per_ms, uint64_t until_ns) {
  Session client(cfg, true), server(cfg, false);
  Link c2s{{}, one_way_ns}, s2c{{}, one_way_ns};
  PairResult res;
  uint64_t now = 0, sent = 0, backlog = 0;
  std::vector<uint8_t> ctl;
  const uint32_t id = client.open_stream();
  uint8_t h[kHeaderLength];
  CHECK(client.write_data_header(id, 0, false, h));  // SYN
  c2s.q.push_back({now + one_way_ns, {h, h + kHeaderLength}, 0});
  bool server_has_stream = false;
  auto server_sink = [&](const Event& e) { if (e.type == EventType::kStreamOpened) { server_has_stream = true; server.accept_stream(e.stream_id); } };
  auto client_sink = [&](const Event& e) {
    if (e.type == EventType::kData) { res.delivered += e.len; backlog += e.len; }
  };
  auto deliver = [&](Link& l, Session& to, auto& sink) {
    while (!l.q.empty() && l.q.front().at <= now) {
      auto& seg = l.q.front();
      if (!seg.bytes.empty() && !to.handle_input(seg.bytes.data(), seg.bytes.size(), now, sink)) res.ok = false;
      for (uint32_t left = seg.zeros; left > 0;) {
        uint32_t n = std::min<uint32_t>(left, 1 << 16);
        if (!to.handle_input(zero_chunk().data(), n, now, sink)) res.ok = false;
        left -= n;
      }
      l.q.pop_front();
    }
  };
  const uint64_t step = 100'000;  // 0.1 ms
  for (; now < until_ns && res.ok && res.delivered < total; now += step) {
    for (Session* s : {&client, &server})
      if (s->next_deadline() <= now) s->handle_timeout(now);
    deliver(c2s, server, server_sink);
    deliver(s2c, client, client_sink);
    // Client application reads.
    uint64_t take = consume_per_ms == 0 ? backlog : std::min<uint64_t>(backlog, consume_per_ms * step / 1'000'000);
    if (take) { client.consume(id, static_cast<uint32_t>(take), now); backlog -= take; }
    res.max_window_seen = std::max(res.max_window_seen, client.receive_window(id));
    // Server writes whatever its window allows, in 64 KiB frames.
    if (server_has_stream) {
      while (sent < total && server.send_window(id) > 0) {
        uint32_t n = static_cast<uint32_t>(std::min<uint64_t>({server.send_window(id), total - sent, 1 << 16}));
        ctl.clear();
        server.poll_control(ctl);
        if (!ctl.empty()) s2c.q.push_back({now + one_way_ns, ctl, 0});
        CHECK(server.write_data_header(id, n, false, h));
        s2c.q.push_back({now + one_way_ns, {h, h + kHeaderLength}, n});
        sent += n;
      }
    }
    ctl.clear();
    if (server.poll_control(ctl)) s2c.q.push_back({now + one_way_ns, ctl, 0});
    ctl.clear();
    if (client.poll_control(ctl)) c2s.q.push_back({now + one_way_ns, ctl, 0});
  }
  res.final_window = client.receive_window(id);
  res.finish_ns = now;
  if (std::getenv("L2N_TEST_VERBOSE")) std::fprintf(stderr, "  pair: %llu bytes in %.1f ms, max window %u\n", (unsigned long long)res.delivered, now / 1e6, res.max_window_seen);
  CHECK(client.error() == Error::kNone);
  CHECK(server.error() == Error::kNone);
  return res;
}
}  // namespace

TEST(pair_window_grows_for_fast_reader_up_to_max) {
  Config cfg;
  cfg.rtt_probe_interval_ns = 50'000'000;
  PairResult r = run_pair(cfg, 256ull << 20, 5'000'000, 0, 10'000'000'000ull);  // RTT 10 ms
  CHECK(r.ok);
  CHECK_EQ(r.delivered, uint64_t(256) << 20);
  CHECK(r.max_window_seen > kInitialWindow);
  CHECK_EQ(r.max_window_seen, cfg.max_stream_window);  // reaches the max, never above
  // A 256 KiB window moves 256 KiB per 10 ms RTT (256 MiB in ~10 s); grown to 16 MiB it moves
  // ~16 MiB per RTT, so the transfer takes well under a second of virtual time.
  CHECK(r.finish_ns < 1'000'000'000ull);
  PairResult flat = run_pair(no_probe(), 32ull << 20, 5'000'000, 0, 10'000'000'000ull);
  CHECK(flat.finish_ns > 1'200'000'000ull);  // 32 MiB at 256 KiB per RTT: >= 1.28 s
}

TEST(pair_window_respects_smaller_max_and_session_budget) {
  Config cfg;
  cfg.rtt_probe_interval_ns = 50'000'000;
  cfg.max_stream_window = 3 * 1024 * 1024;  // not a power-of-two multiple of 256 KiB
  PairResult r = run_pair(cfg, 64ull << 20, 5'000'000, 0, 10'000'000'000ull);
  CHECK(r.ok);
  CHECK_EQ(r.max_window_seen, cfg.max_stream_window);
  Config tight;
  tight.rtt_probe_interval_ns = 50'000'000;
  tight.max_session_window_growth = 512 * 1024;
  PairResult t = run_pair(tight, 32ull << 20, 5'000'000, 0, 10'000'000'000ull);
  CHECK(t.ok);
  CHECK_EQ(t.max_window_seen, kInitialWindow + 512 * 1024);
}

TEST(pair_window_stays_small_for_slow_reader) {
  Config cfg;
  cfg.rtt_probe_interval_ns = 50'000'000;
  // Reader takes 20 KiB per ms: a 256 KiB window lasts ~13 ms > 2 RTT (10 ms): no growth.
  PairResult r = run_pair(cfg, 8ull << 20, 2'500'000, 20 * 1024, 20'000'000'000ull);
  CHECK(r.ok);
  CHECK_EQ(r.delivered, uint64_t(8) << 20);
  CHECK_EQ(r.max_window_seen, kInitialWindow);
}

TEST(pair_window_grows_on_short_rtt_with_floor) {
  // Loopback-like RTT (100 us): a reader taking 256 KiB per ~1.6 ms (160 KiB per ms) is slower
  // than 2 measured RTTs, but faster than 2 * min_growth_rtt_ns (2 ms): the window grows.
  Config cfg;
  cfg.rtt_probe_interval_ns = 50'000'000;
  PairResult r = run_pair(cfg, 16ull << 20, 50'000, 160 * 1024, 10'000'000'000ull);
  CHECK(r.ok);
  CHECK(r.max_window_seen > kInitialWindow);
  // Without the floor the same reader never grows its window.
  Config raw = cfg;
  raw.min_growth_rtt_ns = 0;
  PairResult n = run_pair(raw, 16ull << 20, 50'000, 160 * 1024, 10'000'000'000ull);
  CHECK(n.ok);
  CHECK_EQ(n.max_window_seen, kInitialWindow);
  // A reader slower than the floor allows (256 KiB per ~3.2 ms) does not grow either.
  PairResult slow = run_pair(cfg, 4ull << 20, 50'000, 80 * 1024, 10'000'000'000ull);
  CHECK(slow.ok);
  CHECK_EQ(slow.max_window_seen, kInitialWindow);
}

TEST(pair_without_rtt_does_not_grow) {
  Config cfg = no_probe();
  PairResult r = run_pair(cfg, 16ull << 20, 5'000'000, 0, 10'000'000'000ull);
  CHECK(r.ok);
  CHECK_EQ(r.max_window_seen, kInitialWindow);
}

TEST(pair_echo_many_streams_random_splits) {
  // Client opens 16 streams, sends a message of its own on each and FINs; the server echoes each
  // byte back as it arrives and FINs after the client's FIN. Both directions are cut at random.
  std::mt19937 rng(3);
  Session c(no_probe(), true), sv(no_probe(), false);
  std::vector<uint8_t> c2s, s2c;
  std::map<uint32_t, std::string> sent, echoed, got;
  std::map<uint32_t, size_t> next;  // client: bytes of `sent` already framed
  std::map<uint32_t, bool> client_fin_seen, done_c;
  auto frame = [](Session& s, uint32_t id, const std::string& payload, bool fin, std::vector<uint8_t>& wire) {
    uint8_t h[kHeaderLength];
    if (!s.write_data_header(id, static_cast<uint32_t>(payload.size()), fin, h)) return false;
    wire.insert(wire.end(), h, h + kHeaderLength);
    wire.insert(wire.end(), payload.begin(), payload.end());
    return true;
  };
  for (int i = 0; i < 16; i++) {
    uint32_t id = c.open_stream();
    std::string m(1 + rng() % 3000, 0);
    for (auto& ch : m) ch = static_cast<char>(rng());
    sent[id] = m;
  }
  auto server_sink = [&](const Event& e) {
    if (e.type == EventType::kData) {
      std::string piece(reinterpret_cast<const char*>(e.data), e.len);
      echoed[e.stream_id] += piece;
      sv.consume(e.stream_id, e.len, 0);
      CHECK(frame(sv, e.stream_id, piece, false, s2c));
    } else if (e.type == EventType::kRemoteFin) {
      CHECK(frame(sv, e.stream_id, "", true, s2c));
    }
  };
  auto client_sink = [&](const Event& e) {
    if (e.type == EventType::kData) { got[e.stream_id].append(reinterpret_cast<const char*>(e.data), e.len); c.consume(e.stream_id, e.len, 0); }
    if (e.type == EventType::kRemoteFin) done_c[e.stream_id] = true;
  };
  size_t pc = 0, ps = 0;
  for (int step = 0; step < 100000 && done_c.size() < 16; step++) {
    // Client frames the next piece of a random stream.
    auto it = sent.begin();
    std::advance(it, rng() % sent.size());
    size_t& off = next[it->first];
    if (off <= it->second.size() && !(off == it->second.size() && client_fin_seen[it->first])) {
      size_t n = std::min<size_t>(it->second.size() - off, rng() % 700);
      bool fin = off + n == it->second.size();
      CHECK(frame(c, it->first, it->second.substr(off, n), fin, c2s));
      off += n;
      if (fin) client_fin_seen[it->first] = true;
    }
    c.poll_control(c2s);
    size_t n = std::min<size_t>(c2s.size() - pc, rng() % 900);
    CHECK(sv.handle_input(c2s.data() + pc, n, 0, server_sink));
    pc += n;
    sv.poll_control(s2c);
    n = std::min<size_t>(s2c.size() - ps, rng() % 900);
    CHECK(c.handle_input(s2c.data() + ps, n, 0, client_sink));
    ps += n;
  }
  CHECK_EQ(done_c.size(), size_t(16));
  for (auto& [id, m] : sent) { CHECK_EQ(echoed[id], m); CHECK_EQ(got[id], m); }
  CHECK_EQ(c.num_streams(), size_t(0));  // FIN both ways frees every stream on both sides
  CHECK_EQ(sv.num_streams(), size_t(0));
  CHECK_EQ(sv.num_pending_inbound(), size_t(0));
}

TEST_MAIN()
