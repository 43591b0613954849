// multistream-select 1.0 negotiation engine: no I/O, no clock, no threads.
//
// Wire format (libp2p/specs connections/README.md, multiformats/multistream-select README):
//   message = uvarint(len) || utf8 || '\n'      (len counts the '\n'; uvarint per multiformats
//                                                unsigned-varint: minimal encoding, at most 9 bytes)
//   both sides first send the header "/multistream/1.0.0"; the dialer proposes protocol ids one by
//   one; the listener echoes a supported id (negotiation done) or answers "na".
// `ls` (listing) is an optional feature of the multistream-select README and is absent from the
// libp2p connections spec; this listener refuses it with "na" (counted as a rejected proposal).
//
// Call order: Dialer::start() once, then feed() with every received chunk until status() is kDone
// (and, for an optimistic dialer, until confirmed()) or kFailed. The bytes feed() appends to `out`
// must be sent in order. feed() stops consuming exactly at the end of negotiation: the bytes after
// it belong to the negotiated protocol and are left to the caller (feed returns the count consumed).
// On kFailed the caller closes the channel and maps error() to a typed error.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace l2n::mss {

inline constexpr std::string_view kProtocolId = "/multistream/1.0.0";  // libp2p connections spec
inline constexpr std::string_view kNotAvailable = "na";                 // multistream-select README
inline constexpr std::string_view kList = "ls";                         // multistream-select README
// Longest message accepted, counting the '\n'. Protocol ids are short paths; js-libp2p caps a
// protocol id at 1024 bytes too (MAX_PROTOCOL_LENGTH), so no interoperable peer sends more.
inline constexpr size_t kMaxMessageLength = 1024;
// multiformats unsigned-varint spec: "the maximum length of a varint is 9 bytes" (63 bits).
inline constexpr size_t kMaxVarintBytes = 9;
// A listener fails once it has answered this many proposals with `na` (DoS bound: each
// proposal costs a lookup and a reply; honest dialers propose a handful of ids).
inline constexpr int kMaxRejectedProposals = 32;

enum class Error : uint8_t {
  kNone,
  kBadVarint,           // length prefix not minimal, or longer than kMaxVarintBytes
  kMessageTooLong,      // length prefix > kMaxMessageLength (also: our own protocol id too long)
  kMissingNewline,      // message does not end in '\n' (or has length 0)
  kBadHeader,           // first message is not "/multistream/1.0.0"
  kUnsupportedProtocol, // dialer: every proposal refused with `na` (or no protocol given)
  kTooManyProposals,    // listener: kMaxRejectedProposals proposals refused
  kUnexpectedMessage,   // dialer: reply is neither the echo of the proposal nor `na`
};
enum class Status : uint8_t { kInProgress, kDone, kFailed };

// Appends one encoded message (uvarint(len+1) || msg || '\n') to out.
void append_message(std::string_view msg, std::vector<uint8_t>& out);

namespace detail {
// Incremental reader of one length-prefixed line; buffers at most kMaxMessageLength bytes.
class LineReader {
 public:
  // Consumes bytes of at most one message. Sets `complete` when a whole message has been read
  // (line() is then valid until the next read). Returns the bytes consumed; on error sets `err`.
  size_t read(const uint8_t* data, size_t len, bool& complete, Error& err);
  std::string_view line() const { return {buf_.data(), buf_.size() - 1}; }  // without '\n'
 private:
  uint64_t len_ = 0;
  uint8_t varint_bytes_ = 0;
  bool have_len_ = false;
  bool complete_ = false;
  std::string buf_;
};
}  // namespace detail

// Proposes protocols in order.
class Dialer {
 public:
  // optimistic (V1Lazy): with exactly one protocol, start() sends header + proposal and the
  // protocol counts as selected at once; the caller may send protocol data right after start()'s
  // bytes, and keeps feeding received bytes until confirmed(). With several protocols
  // `optimistic` is ignored (a round trip per proposal is needed to learn which one was taken).
  Dialer(std::vector<std::string> protocols, bool optimistic);
  // Appends the header and the first proposal (pipelined, as go and rust dialers do).
  // Errors: kUnsupportedProtocol (empty list), kMessageTooLong (a protocol id too long).
  void start(std::vector<uint8_t>& out);
  // Consumes the listener's bytes; appends the next proposal after each `na`.
  // Errors: kBadVarint, kMessageTooLong, kMissingNewline, kBadHeader, kUnsupportedProtocol,
  // kUnexpectedMessage.
  size_t feed(const uint8_t* data, size_t len, std::vector<uint8_t>& out);
  Status status() const;       // kDone when selected() is usable (at once when optimistic)
  bool confirmed() const { return confirmed_; }  // the listener's echo has been consumed
  Error error() const { return error_; }
  const std::string& selected() const { return selected_; }

 private:
  void fail(Error e) { error_ = e; failed_ = true; }
  bool propose(std::vector<uint8_t>& out);
  std::vector<std::string> protocols_;
  size_t index_ = 0;
  bool lazy_ = false;
  bool started_ = false;
  bool header_seen_ = false;
  bool confirmed_ = false;
  bool failed_ = false;
  Error error_ = Error::kNone;
  std::string selected_;
  detail::LineReader reader_;
};

class Listener {
 public:
  // `supported` is asked once per proposal (not on a per-byte path); it must not call back into
  // this Listener.
  explicit Listener(std::function<bool(std::string_view)> supported);
  // Consumes the dialer's bytes; appends the header reply, `na`s and the final echo.
  // Errors: kBadVarint, kMessageTooLong, kMissingNewline, kBadHeader, kTooManyProposals.
  size_t feed(const uint8_t* data, size_t len, std::vector<uint8_t>& out);
  Status status() const { return failed_ ? Status::kFailed : done_ ? Status::kDone : Status::kInProgress; }
  Error error() const { return error_; }
  const std::string& selected() const { return selected_; }
  int rejected() const { return rejected_; }

 private:
  std::function<bool(std::string_view)> supported_;
  bool header_seen_ = false;
  bool done_ = false;
  bool failed_ = false;
  int rejected_ = 0;
  Error error_ = Error::kNone;
  std::string selected_;
  detail::LineReader reader_;
};

}  // namespace l2n::mss
