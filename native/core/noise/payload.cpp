// NoiseHandshakePayload decoder (libp2p noise spec, "The libp2p Handshake Payload", with the
// NoiseExtensions message of the WebTransport and early-muxer-negotiation specs). Bounded: views
// only, lists capped by kMaxStreamMuxers / kMaxCerthashes, every length checked by pb::Reader.
#include "core/protobuf/reader.h"
#include "l2n/noise.h"

namespace l2n::noise {
namespace {

constexpr uint32_t kFieldIdentityKey = 1;
constexpr uint32_t kFieldIdentitySig = 2;
constexpr uint32_t kFieldExtensions = 4;
constexpr uint32_t kFieldCerthashes = 1;    // NoiseExtensions.webtransport_certhashes
constexpr uint32_t kFieldStreamMuxers = 2;  // NoiseExtensions.stream_muxers

Error parse_extensions(const uint8_t* data, size_t len, HandshakePayload& out) {
  pb::Reader r(data, len);
  pb::Field f;
  for (;;) {
    auto res = r.next(f);
    if (res == pb::Reader::kEnd) return Error::kNone;
    if (res == pb::Reader::kMalformed) return Error::kBadPayload;
    if (f.number == kFieldCerthashes) {
      if (f.wire != pb::kLengthDelimited || out.webtransport_certhashes.size() >= kMaxCerthashes)
        return Error::kBadPayload;
      out.webtransport_certhashes.push_back({f.data, f.len});
    } else if (f.number == kFieldStreamMuxers) {
      if (f.wire != pb::kLengthDelimited || f.len > kMaxProtocolIdLength ||
          out.stream_muxers.size() >= kMaxStreamMuxers)
        return Error::kBadPayload;
      out.stream_muxers.emplace_back(reinterpret_cast<const char*>(f.data), f.len);
    }
  }
}

}  // namespace

Error parse_handshake_payload(const uint8_t* data, size_t len, HandshakePayload& out) {
  out = HandshakePayload{};
  pb::Reader r(data, len);
  pb::Field f;
  for (;;) {
    auto res = r.next(f);
    if (res == pb::Reader::kEnd) return Error::kNone;
    if (res == pb::Reader::kMalformed) return Error::kBadPayload;
    switch (f.number) {
      case kFieldIdentityKey:
        if (f.wire != pb::kLengthDelimited) return Error::kBadPayload;
        out.identity_key = {f.data, f.len};
        break;
      case kFieldIdentitySig:
        if (f.wire != pb::kLengthDelimited) return Error::kBadPayload;
        out.identity_sig = {f.data, f.len};
        break;
      case kFieldExtensions: {
        if (f.wire != pb::kLengthDelimited) return Error::kBadPayload;
        Error e = parse_extensions(f.data, f.len, out);  // repeated occurrences merge
        if (e != Error::kNone) return e;
        break;
      }
      default:
        break;  // unknown, or the deprecated `data = 3`
    }
  }
}

}  // namespace l2n::noise
