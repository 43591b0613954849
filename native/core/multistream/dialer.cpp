// multistream-select dialer (see l2n/multistream.h for the protocol and the call order).
#include "l2n/multistream.h"

namespace l2n::mss {

Dialer::Dialer(std::vector<std::string> protocols, bool optimistic)
    : protocols_(std::move(protocols)), lazy_(optimistic && protocols_.size() == 1) {}

bool Dialer::propose(std::vector<uint8_t>& out) {
  const std::string& p = protocols_[index_];
  if (p.size() + 1 > kMaxMessageLength) { fail(Error::kMessageTooLong); return false; }
  append_message(p, out);
  return true;
}

void Dialer::start(std::vector<uint8_t>& out) {
  if (started_ || failed_) return;
  started_ = true;
  if (protocols_.empty()) { fail(Error::kUnsupportedProtocol); return; }
  append_message(kProtocolId, out);
  if (!propose(out)) return;
  if (lazy_) selected_ = protocols_[0];
}

Status Dialer::status() const {
  if (failed_) return Status::kFailed;
  if (confirmed_ || (lazy_ && started_)) return Status::kDone;
  return Status::kInProgress;
}

size_t Dialer::feed(const uint8_t* data, size_t len, std::vector<uint8_t>& out) {
  if (!started_ || failed_ || confirmed_) return 0;
  size_t used = 0;
  while (used < len) {
    bool complete = false;
    Error err = Error::kNone;
    used += reader_.read(data + used, len - used, complete, err);
    if (err != Error::kNone) { fail(err); return used; }
    if (!complete) break;
    const std::string_view line = reader_.line();
    if (!header_seen_) {
      if (line != kProtocolId) { fail(Error::kBadHeader); return used; }
      header_seen_ = true;
      continue;
    }
    if (line == protocols_[index_]) {
      selected_ = protocols_[index_];
      confirmed_ = true;
      return used;  // negotiation ends here: the rest belongs to the selected protocol
    }
    if (line != kNotAvailable) { fail(Error::kUnexpectedMessage); return used; }
    // An optimistic dialer has already sent protocol data after its only proposal: no retry.
    if (lazy_ || ++index_ == protocols_.size()) { selected_.clear(); fail(Error::kUnsupportedProtocol); return used; }
    if (!propose(out)) return used;
  }
  return used;
}

}  // namespace l2n::mss
