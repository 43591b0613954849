// multistream-select message framing: uvarint(len) || utf8 || '\n' (see l2n/multistream.h).
#include "l2n/multistream.h"

#include <algorithm>

namespace l2n::mss {

void append_message(std::string_view msg, std::vector<uint8_t>& out) {
  uint64_t n = msg.size() + 1;
  while (n >= 0x80) {
    out.push_back(static_cast<uint8_t>(n | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<uint8_t>(n));
  out.insert(out.end(), msg.begin(), msg.end());
  out.push_back('\n');
}

namespace detail {

size_t LineReader::read(const uint8_t* data, size_t len, bool& complete, Error& err) {
  complete = false;
  if (complete_) {  // the previous message was handed out: start the next one
    complete_ = false;
    have_len_ = false;
    len_ = 0;
    varint_bytes_ = 0;
    buf_.clear();
  }
  size_t i = 0;
  while (!have_len_ && i < len) {
    const uint8_t b = data[i++];
    len_ |= static_cast<uint64_t>(b & 0x7f) << (7 * varint_bytes_);
    varint_bytes_++;
    if (b & 0x80) {
      if (varint_bytes_ == kMaxVarintBytes) { err = Error::kBadVarint; return i; }
      continue;
    }
    if (varint_bytes_ > 1 && b == 0) { err = Error::kBadVarint; return i; }  // not minimal
    if (len_ > kMaxMessageLength) { err = Error::kMessageTooLong; return i; }
    if (len_ == 0) { err = Error::kMissingNewline; return i; }
    have_len_ = true;
    buf_.reserve(len_);
  }
  if (!have_len_) return i;
  const size_t take = std::min<size_t>(len - i, len_ - buf_.size());
  buf_.append(reinterpret_cast<const char*>(data + i), take);
  i += take;
  if (buf_.size() == len_) {
    if (buf_.back() != '\n') { err = Error::kMissingNewline; return i; }
    complete_ = true;
    complete = true;
  }
  return i;
}

}  // namespace detail
}  // namespace l2n::mss
