// A bounded protobuf wire-format reader for the few messages the engines decode (libp2p keys,
// Noise handshake payloads). It never allocates and never reads past `end`; every length is
// checked against the bytes that remain. Unknown fields are skipped by wire type; groups (wire
// types 3 and 4, unused by proto3 and by every libp2p message) are rejected as malformed.
// Internal header (native/core), not part of the engine API.
#pragma once
#include <cstddef>
#include <cstdint>

namespace l2n::pb {

inline constexpr size_t kMaxVarintLength = 10;           // 64-bit varint: ceil(64 / 7) bytes
inline constexpr uint32_t kMaxFieldNumber = (1u << 29) - 1;  // protobuf language guide

enum WireType : uint8_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// Reads a varint at p; advances p. false on truncation or a value over 64 bits.
inline bool read_varint(const uint8_t*& p, const uint8_t* end, uint64_t& v) {
  v = 0;
  for (size_t i = 0; i < kMaxVarintLength; i++) {
    if (p == end) return false;
    uint8_t b = *p++;
    if (i == kMaxVarintLength - 1 && b > 1) return false;  // bits beyond the 64th
    v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

struct Field {
  uint32_t number = 0;
  uint8_t wire = 0;
  uint64_t varint = 0;          // kVarint, kFixed64, kFixed32: the value
  const uint8_t* data = nullptr;  // kLengthDelimited: the bytes (a view into the input)
  size_t len = 0;
};

class Reader {
 public:
  Reader(const uint8_t* data, size_t len) : p_(data), end_(data + len) {}
  enum Result { kField, kEnd, kMalformed };
  Result next(Field& f) {
    if (p_ == end_) return kEnd;
    uint64_t key;
    if (!read_varint(p_, end_, key) || key > (uint64_t{kMaxFieldNumber} << 3 | 7)) return kMalformed;
    f.number = static_cast<uint32_t>(key >> 3);
    f.wire = static_cast<uint8_t>(key & 7);
    f.data = nullptr;
    f.len = 0;
    f.varint = 0;
    if (f.number == 0) return kMalformed;
    size_t left;
    switch (f.wire) {
      case kVarint:
        return read_varint(p_, end_, f.varint) ? kField : kMalformed;
      case kFixed64:
      case kFixed32: {
        size_t n = f.wire == kFixed64 ? 8 : 4;
        if (static_cast<size_t>(end_ - p_) < n) return kMalformed;
        for (size_t i = 0; i < n; i++) f.varint |= static_cast<uint64_t>(p_[i]) << (8 * i);
        p_ += n;
        return kField;
      }
      case kLengthDelimited: {
        uint64_t n;
        if (!read_varint(p_, end_, n)) return kMalformed;
        left = static_cast<size_t>(end_ - p_);
        if (n > left) return kMalformed;
        f.data = p_;
        f.len = static_cast<size_t>(n);
        p_ += f.len;
        return kField;
      }
      default:
        return kMalformed;  // groups (3, 4) and the undefined wire types 6, 7
    }
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

inline size_t varint_length(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) { v >>= 7; n++; }
  return n;
}

template <class Out>
inline void write_varint(Out& out, uint64_t v) {
  while (v >= 0x80) { out.push_back(static_cast<uint8_t>(v | 0x80)); v >>= 7; }
  out.push_back(static_cast<uint8_t>(v));
}

}  // namespace l2n::pb
