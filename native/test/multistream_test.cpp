// multistream-select 1.0 engine tests: byte vectors written from the libp2p connections spec and
// the multiformats multistream-select README (uvarint(len) || utf8 || '\n').
#include "check.h"
#include "l2n/errors.h"
#include "l2n/multistream.h"

#include <random>

using namespace l2n::mss;
using l2n_test::bytes;
using l2n_test::hex;
using l2n_test::to_hex;

// errors.h maps engine errors to JS codes by their numeric value: keep them stable.
static_assert(l2n::err::from_engine(l2n::err::kMultistreamBase, Error::kUnsupportedProtocol) == l2n::err::kMssUnsupportedProtocol);

namespace {
// "/multistream/1.0.0\n" is 19 bytes: varint 0x13.
const std::string kHdr = "13" "2f6d756c746973747265616d2f312e302e30" "0a";
const std::string kNoise = "07" "2f6e6f697365" "0a";           // "/noise\n"
const std::string kTls = "0b" "2f746c732f312e302e30" "0a";      // "/tls/1.0.0\n" (11 bytes)
const std::string kNa = "03" "6e61" "0a";                       // spec example 0x036e610a
const std::string kLsMsg = "03" "6c73" "0a";                    // spec example 0x036c730a

std::vector<uint8_t> cat(std::initializer_list<std::string> parts) {
  std::vector<uint8_t> v;
  for (auto& p : parts) { auto h = hex(p); v.insert(v.end(), h.begin(), h.end()); }
  return v;
}
bool only_noise(std::string_view p) { return p == "/noise"; }

// Feeds `in` one byte at a time; returns total consumed (stops counting when feed takes nothing).
template <class E>
size_t feed_bytewise(E& e, const std::vector<uint8_t>& in, std::vector<uint8_t>& out) {
  size_t used = 0;
  for (size_t i = 0; i < in.size(); i++) {
    size_t n = e.feed(&in[i], 1, out);
    used += n;
    if (n == 0) break;
  }
  return used;
}
}  // namespace

TEST(encode_matches_spec_examples) {
  std::vector<uint8_t> out;
  append_message("na", out);
  CHECK_EQ(to_hex(out), std::string("036e610a"));
  out.clear();
  append_message("ls", out);
  CHECK_EQ(to_hex(out), std::string("036c730a"));
  out.clear();
  append_message(kProtocolId, out);
  CHECK_EQ(to_hex(out), kHdr);
  out.clear();
  append_message(std::string(200, 'a'), out);  // 201 = 0xc9 0x01 as uvarint
  CHECK_EQ(out.size(), size_t(2 + 201));
  CHECK_EQ(out[0], 0xc9);
  CHECK_EQ(out[1], 0x01);
  CHECK_EQ(out.back(), '\n');
}

TEST(dialer_pipelines_header_and_proposal) {
  Dialer d({"/noise"}, false);
  std::vector<uint8_t> out;
  d.start(out);
  CHECK_EQ(to_hex(out), kHdr + kNoise);
  CHECK(d.status() == Status::kInProgress);
  auto in = cat({kHdr, kNoise, "aabbcc"});
  out.clear();
  size_t n = d.feed(in.data(), in.size(), out);
  CHECK_EQ(n, in.size() - 3);  // stops exactly after the echo
  CHECK(d.status() == Status::kDone);
  CHECK(d.confirmed());
  CHECK_EQ(d.selected(), std::string("/noise"));
  CHECK(out.empty());
  CHECK_EQ(d.feed(in.data() + n, 3, out), size_t(0));  // done: nothing more consumed
}

TEST(dialer_moves_to_next_protocol_after_na) {
  Dialer d({"/tls/1.0.0", "/noise"}, true);  // optimistic ignored with two protocols
  std::vector<uint8_t> out;
  d.start(out);
  CHECK_EQ(to_hex(out), kHdr + kTls);
  CHECK(d.status() == Status::kInProgress);
  out.clear();
  auto in = cat({kHdr, kNa});
  CHECK_EQ(d.feed(in.data(), in.size(), out), in.size());
  CHECK_EQ(to_hex(out), kNoise);
  CHECK(d.status() == Status::kInProgress);
  out.clear();
  auto echo = cat({kNoise, "ff"});
  CHECK_EQ(feed_bytewise(d, echo, out), echo.size() - 1);
  CHECK(d.status() == Status::kDone);
  CHECK_EQ(d.selected(), std::string("/noise"));
}

TEST(dialer_fails_when_every_proposal_refused) {
  Dialer d({"/tls/1.0.0", "/noise"}, false);
  std::vector<uint8_t> out;
  d.start(out);
  auto in = cat({kHdr, kNa, kNa});
  d.feed(in.data(), in.size(), out);
  CHECK(d.status() == Status::kFailed);
  CHECK(d.error() == Error::kUnsupportedProtocol);
  CHECK(d.selected().empty());
}

TEST(optimistic_dialer_is_done_at_once_and_confirms_later) {
  Dialer d({"/yamux/1.0.0"}, true);
  std::vector<uint8_t> out;
  d.start(out);
  CHECK_EQ(to_hex(out), kHdr + "0d" "2f79616d75782f312e302e30" "0a");
  CHECK(d.status() == Status::kDone);
  CHECK(!d.confirmed());
  CHECK_EQ(d.selected(), std::string("/yamux/1.0.0"));
  auto in = cat({kHdr, "0d2f79616d75782f312e302e300a", "000100"});
  out.clear();
  CHECK_EQ(feed_bytewise(d, in, out), in.size() - 3);
  CHECK(d.confirmed());
  CHECK(d.status() == Status::kDone);
  CHECK(out.empty());
}

TEST(optimistic_dialer_fails_on_na) {
  Dialer d({"/noise"}, true);
  std::vector<uint8_t> out;
  d.start(out);
  out.clear();
  auto in = cat({kHdr, kNa});
  d.feed(in.data(), in.size(), out);
  CHECK(d.status() == Status::kFailed);
  CHECK(d.error() == Error::kUnsupportedProtocol);
  CHECK(out.empty());  // no second proposal: protocol data already followed the first one
}

TEST(dialer_rejects_bad_header) {
  Dialer d({"/noise"}, false);
  std::vector<uint8_t> out;
  d.start(out);
  std::vector<uint8_t> in;
  append_message("/multistream/2.0.0", in);
  d.feed(in.data(), in.size(), out);
  CHECK(d.status() == Status::kFailed);
  CHECK(d.error() == Error::kBadHeader);
}

TEST(dialer_rejects_unexpected_reply) {
  Dialer d({"/noise"}, false);
  std::vector<uint8_t> out;
  d.start(out);
  auto in = cat({kHdr, kTls});
  d.feed(in.data(), in.size(), out);
  CHECK(d.error() == Error::kUnexpectedMessage);
  CHECK(d.status() == Status::kFailed);
}

TEST(dialer_start_errors) {
  Dialer empty({}, true);
  std::vector<uint8_t> out;
  empty.start(out);
  CHECK(empty.status() == Status::kFailed);
  CHECK(empty.error() == Error::kUnsupportedProtocol);
  Dialer longp({std::string(kMaxMessageLength, 'p')}, false);  // + '\n' is one byte too many
  longp.start(out);
  CHECK(longp.error() == Error::kMessageTooLong);
  Dialer fits({std::string(kMaxMessageLength - 1, 'p')}, false);
  out.clear();
  fits.start(out);
  CHECK(fits.error() == Error::kNone);
  CHECK_EQ(out.size(), hex(kHdr).size() + 2 + kMaxMessageLength);
}

TEST(listener_echoes_supported_protocol_and_stops) {
  Listener l(only_noise);
  std::vector<uint8_t> out;
  auto in = cat({kHdr, kNoise, "0102"});
  size_t n = l.feed(in.data(), in.size(), out);
  CHECK_EQ(n, in.size() - 2);
  CHECK(l.status() == Status::kDone);
  CHECK_EQ(l.selected(), std::string("/noise"));
  CHECK_EQ(to_hex(out), kHdr + kNoise);
}

TEST(listener_bytewise) {
  Listener l(only_noise);
  std::vector<uint8_t> out;
  auto in = cat({kHdr, kTls, kNoise, "0102"});
  CHECK_EQ(feed_bytewise(l, in, out), in.size() - 2);
  CHECK(l.status() == Status::kDone);
  CHECK_EQ(to_hex(out), kHdr + kNa + kNoise);
  CHECK_EQ(l.rejected(), 1);
}

TEST(listener_refuses_ls_with_na) {
  Listener l([](std::string_view p) { return p == "/noise" || p == "ls"; });
  std::vector<uint8_t> out;
  auto in = cat({kHdr, kLsMsg});
  CHECK_EQ(l.feed(in.data(), in.size(), out), in.size());
  CHECK_EQ(to_hex(out), kHdr + kNa);
  CHECK(l.status() == Status::kInProgress);
}

TEST(listener_fails_after_max_rejected_proposals) {
  Listener l(only_noise);
  std::vector<uint8_t> out;
  auto in = cat({kHdr});
  for (int i = 0; i < kMaxRejectedProposals + 1; i++) { auto t = hex(kTls); in.insert(in.end(), t.begin(), t.end()); }
  size_t n = l.feed(in.data(), in.size(), out);
  CHECK(l.status() == Status::kFailed);
  CHECK(l.error() == Error::kTooManyProposals);
  CHECK_EQ(l.rejected(), kMaxRejectedProposals);
  CHECK_EQ(n, in.size() - hex(kTls).size());  // the 33rd proposal is never read
  CHECK_EQ(out.size(), hex(kHdr).size() + kMaxRejectedProposals * hex(kNa).size());
}

TEST(listener_rejects_bad_header) {
  Listener l(only_noise);
  std::vector<uint8_t> out;
  auto in = cat({kNoise});
  l.feed(in.data(), in.size(), out);
  CHECK(l.error() == Error::kBadHeader);
  CHECK(out.empty());
}

TEST(line_errors) {
  struct Case { std::string in; Error want; };
  const Case cases[] = {
      {"8000", Error::kBadVarint},                   // 0 encoded in two bytes: not minimal
      {"8180808000", Error::kBadVarint},             // trailing zero group
      {"ffffffffffffffffff", Error::kBadVarint},     // 9 bytes, still continued
      {"8108", Error::kMessageTooLong},              // 1 + 8*128 = 1025
      {"ffffffffffffffff7f", Error::kMessageTooLong},// 9-byte maximum, far too long
      {"036e610b", Error::kMissingNewline},          // "na" + 0x0b
      {"00", Error::kMissingNewline},                // empty message has no newline
  };
  for (const auto& c : cases) {
    auto in = hex(c.in);
    for (int bytewise = 0; bytewise < 2; bytewise++) {
      Listener l(only_noise);
      std::vector<uint8_t> out;
      if (bytewise) feed_bytewise(l, in, out); else l.feed(in.data(), in.size(), out);
      CHECK(l.status() == Status::kFailed);
      CHECK(l.error() == c.want);
      Dialer d({"/noise"}, false);
      d.start(out);
      if (bytewise) feed_bytewise(d, in, out); else d.feed(in.data(), in.size(), out);
      CHECK(d.status() == Status::kFailed);
      CHECK(d.error() == c.want);
    }
  }
}

TEST(longest_message_accepted) {
  Listener l([](std::string_view p) { return p.size() == kMaxMessageLength - 1; });
  std::vector<uint8_t> in = hex(kHdr), out;
  append_message(std::string(kMaxMessageLength - 1, 'x'), in);
  CHECK_EQ(in[hex(kHdr).size()], 0x80);  // 1024 = 0x80 0x08
  CHECK_EQ(in[hex(kHdr).size() + 1], 0x08);
  CHECK_EQ(l.feed(in.data(), in.size(), out), in.size());
  CHECK(l.status() == Status::kDone);
}

TEST(dialer_listener_pair_random_splits) {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; round++) {
    bool optimistic = round & 1;
    std::vector<std::string> protos = optimistic ? std::vector<std::string>{"/noise"}
                                                 : std::vector<std::string>{"/a", "/b", "/tls/1.0.0", "/noise"};
    Dialer d(protos, optimistic);
    Listener l(only_noise);
    std::vector<uint8_t> to_l, to_d;
    d.start(to_l);
    const std::string after_d = "DIALERDATA", after_l = "LISTENERDATA";
    if (optimistic) to_l.insert(to_l.end(), after_d.begin(), after_d.end());
    size_t ld = 0, dd = 0;  // read positions
    std::string got_l, got_d;
    for (int step = 0; step < 1000 && !(l.status() == Status::kDone && d.confirmed() && got_l == after_d && got_d == after_l); step++) {
      if (ld < to_l.size()) {
        size_t n = std::min<size_t>(to_l.size() - ld, 1 + rng() % 7);
        if (l.status() == Status::kDone) { got_l.append(to_l.begin() + ld, to_l.begin() + ld + n); ld += n; }
        else {
          bool was = l.status() == Status::kDone;
          size_t u = l.feed(&to_l[ld], n, to_d);
          ld += u;
          if (!was && l.status() == Status::kDone) to_d.insert(to_d.end(), after_l.begin(), after_l.end());
        }
      }
      if (dd < to_d.size()) {
        size_t n = std::min<size_t>(to_d.size() - dd, 1 + rng() % 7);
        if (d.confirmed()) { got_d.append(to_d.begin() + dd, to_d.begin() + dd + n); dd += n; }
        else {
          bool was = d.status() == Status::kDone;
          dd += d.feed(&to_d[dd], n, to_l);
          if (!was && d.status() == Status::kDone) to_l.insert(to_l.end(), after_d.begin(), after_d.end());
        }
      }
      CHECK(l.status() != Status::kFailed);
      CHECK(d.status() != Status::kFailed);
    }
    CHECK(d.confirmed());
    CHECK_EQ(d.selected(), std::string("/noise"));
    CHECK_EQ(l.selected(), std::string("/noise"));
    CHECK_EQ(got_l, after_d);
    CHECK_EQ(got_d, after_l);
    CHECK_EQ(l.rejected(), optimistic ? 0 : 3);
  }
}

TEST_MAIN()
