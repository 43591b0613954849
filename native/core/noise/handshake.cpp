// libp2p's Noise handshake (libp2p/specs noise/README.md) over XXState: u16be framing, partial-input
// buffering, our prebuilt payload in messages 2/3, the remote payload verified with l2n/identity.h
// and its PeerId checked before we answer (an initiator never sends its identity to the wrong peer).
#include <cstring>

#include "core/noise/xx_state.h"
#include "l2n/identity.h"
#include "l2n/noise.h"

namespace l2n::noise {
namespace {

Error from_identity(identity::Error e) {
  switch (e) {
    case identity::Error::kNone: return Error::kNone;
    case identity::Error::kBadProtobuf: return Error::kBadPayload;
    case identity::Error::kUnsupportedKeyType: return Error::kUnsupportedKeyType;
    case identity::Error::kBadKey: return Error::kBadKey;
    case identity::Error::kBadSignature: return Error::kBadSignature;
  }
  return Error::kBadKey;
}

}  // namespace

Handshake::Handshake(const HandshakeConfig& config)
    : role_(config.role),
      payload_(config.payload),
      expected_peer_id_(config.expected_remote_peer_id),
      state_(std::make_unique<XXState>(config.role == Role::kInitiator, nullptr, 0,
                                       config.static_secret, config.static_public)) {
  if (payload_.size() > kMaxPayloadLength) error_ = Error::kMessageTooLong;
}

Handshake::~Handshake() = default;
Handshake::Handshake(Handshake&&) noexcept = default;
Handshake& Handshake::operator=(Handshake&&) noexcept = default;

const uint8_t* Handshake::handshake_hash() const { return hash_; }

Error Handshake::write_framed(const uint8_t* payload, size_t len, std::vector<uint8_t>& out) {
  const size_t at = out.size();
  out.resize(at + kLengthPrefixLength);
  Error e = state_->write_message(payload, len, out);
  if (e != Error::kNone) {
    out.resize(at);
    return e;
  }
  size_t n = out.size() - at - kLengthPrefixLength;  // <= kMaxMessageLength: checked by write_message
  out[at] = static_cast<uint8_t>(n >> 8);
  out[at + 1] = static_cast<uint8_t>(n);
  return Error::kNone;
}

void Handshake::start(std::vector<uint8_t>& out) {
  if (started_ || error_ != Error::kNone) return;
  started_ = true;
  if (role_ == Role::kInitiator) error_ = write_framed(nullptr, 0, out);  // message 1: e, no payload
}

size_t Handshake::feed(const uint8_t* data, size_t len, std::vector<uint8_t>& out) {
  if (done_ || error_ != Error::kNone) return 0;
  if (!started_) {
    if (role_ == Role::kInitiator) {
      error_ = Error::kUnexpectedMessage;  // the responder cannot speak first
      return 0;
    }
    started_ = true;
  }
  size_t used = 0;
  while (used < len && !done_ && error_ == Error::kNone) {
    if (prefix_have_ < kLengthPrefixLength) {
      prefix_[prefix_have_++] = data[used++];
      if (prefix_have_ < kLengthPrefixLength) continue;
      want_ = static_cast<size_t>(prefix_[0]) << 8 | prefix_[1];
      buf_.clear();
    }
    if (buf_.size() < want_) {
      size_t take = want_ - buf_.size();
      if (take > len - used) take = len - used;
      buf_.insert(buf_.end(), data + used, data + used + take);
      used += take;
    }
    if (buf_.size() == want_) {
      prefix_have_ = 0;
      error_ = process(buf_.data(), buf_.size(), out);
    }
  }
  return used;
}

Error Handshake::process(const uint8_t* msg, size_t len, std::vector<uint8_t>& out) {
  std::vector<uint8_t> payload;
  Error e = state_->read_message(msg, len, payload);
  if (e != Error::kNone) return e;
  if (role_ == Role::kResponder && !state_->complete()) {
    // Message 1 read. Its payload (which libp2p initiators leave empty) is hashed and ignored.
    return write_framed(payload_.data(), payload_.size(), out);
  }
  e = verify_remote(payload, state_->remote_static());
  if (e != Error::kNone) return e;
  if (role_ == Role::kInitiator) {
    e = write_framed(payload_.data(), payload_.size(), out);  // message 3
    if (e != Error::kNone) return e;
  }
  CipherState c1, c2;
  if (!state_->split(c1, c2)) return Error::kDecryptFailed;  // OpenSSL failure
  send_ = std::move(role_ == Role::kInitiator ? c1 : c2);
  recv_ = std::move(role_ == Role::kInitiator ? c2 : c1);
  std::memcpy(hash_, state_->handshake_hash(), sizeof hash_);
  state_.reset();  // wipes ephemeral and static secrets and the chaining key
  buf_.clear();
  buf_.shrink_to_fit();
  done_ = true;
  return Error::kNone;
}

Error Handshake::verify_remote(const std::vector<uint8_t>& bytes, const uint8_t remote_static[kKeyLength]) {
  HandshakePayload p;
  Error e = parse_handshake_payload(bytes.data(), bytes.size(), p);
  if (e != Error::kNone) return e;
  if (p.identity_key.len == 0 || p.identity_sig.len == 0) return Error::kBadPayload;
  identity::PublicKey key;
  e = from_identity(identity::parse_public_key(p.identity_key.data, p.identity_key.len, key));
  if (e != Error::kNone) return e;
  // The PeerId check comes first: it is cheap, and an unexpected peer gets no RSA verification.
  std::vector<uint8_t> peer_id = identity::peer_id_from_public_key(key);
  if (peer_id.empty()) return Error::kBadKey;
  if (!expected_peer_id_.empty() && peer_id != expected_peer_id_) {
    // The caller reports which peer it reached instead (go-libp2p's ErrPeerIDMismatch names both).
    // This is only what the payload claims: its signature is deliberately left unchecked.
    remote_.public_key = identity::encode_public_key(key.type, key.data, key.len);
    remote_.peer_id = std::move(peer_id);
    return Error::kPeerIdMismatch;
  }
  uint8_t signed_msg[kStaticKeySignaturePrefix.size() + kKeyLength];
  std::memcpy(signed_msg, kStaticKeySignaturePrefix.data(), kStaticKeySignaturePrefix.size());
  std::memcpy(signed_msg + kStaticKeySignaturePrefix.size(), remote_static, kKeyLength);
  e = from_identity(identity::verify_key(key, signed_msg, sizeof signed_msg, p.identity_sig.data,
                                         p.identity_sig.len));
  if (e != Error::kNone) return e;
  // Early data is exposed only now that the signature is valid (noise spec, "libp2p Data in
  // Handshake Messages").
  remote_.public_key = identity::encode_public_key(key.type, key.data, key.len);
  remote_.peer_id = std::move(peer_id);
  for (auto m : p.stream_muxers) remote_.stream_muxers.emplace_back(m);
  for (auto h : p.webtransport_certhashes) remote_.webtransport_certhashes.emplace_back(h.data, h.data + h.len);
  return Error::kNone;
}

CipherState Handshake::take_send() { return done_ ? std::move(send_) : CipherState(); }
CipherState Handshake::take_recv() { return done_ ? std::move(recv_) : CipherState(); }

}  // namespace l2n::noise
