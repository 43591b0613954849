// multistream-select listener (see l2n/multistream.h for the protocol and the call order).
#include "l2n/multistream.h"

namespace l2n::mss {

Listener::Listener(std::function<bool(std::string_view)> supported) : supported_(std::move(supported)) {}

size_t Listener::feed(const uint8_t* data, size_t len, std::vector<uint8_t>& out) {
  if (failed_ || done_) return 0;
  size_t used = 0;
  while (used < len) {
    bool complete = false;
    Error err = Error::kNone;
    used += reader_.read(data + used, len - used, complete, err);
    if (err != Error::kNone) { error_ = err; failed_ = true; return used; }
    if (!complete) break;
    const std::string_view line = reader_.line();
    if (!header_seen_) {
      if (line != kProtocolId) { error_ = Error::kBadHeader; failed_ = true; return used; }
      header_seen_ = true;
      append_message(kProtocolId, out);
      continue;
    }
    // `ls` is refused like an unknown protocol (see the header comment).
    if (line != kList && supported_ && supported_(line)) {
      selected_.assign(line);
      append_message(line, out);
      done_ = true;
      return used;  // negotiation ends here: the rest belongs to the selected protocol
    }
    append_message(kNotAvailable, out);
    if (++rejected_ >= kMaxRejectedProposals) { error_ = Error::kTooManyProposals; failed_ = true; return used; }
  }
  return used;
}

}  // namespace l2n::mss
