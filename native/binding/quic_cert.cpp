// QUIC pieces of the Host binding: the two-step libp2p TLS certificate (TypeScript signs with the
// host key, see l2n/tls.h) and the QUIC options of new Host(...). Arguments are validated in
// src/native/host.ts; here a bad one throws a TypeError.
#include <cstring>
#include <ctime>

#include "binding/binding.h"

namespace l2n::binding {

namespace {
bool u8(const Napi::Value& v, const uint8_t*& p, size_t& n) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) return false;
  Napi::Uint8Array a = v.As<Napi::Uint8Array>();
  p = a.Data();
  n = a.ByteLength();
  return true;
}
}  // namespace

// quicCertRequest() -> Uint8Array: "libp2p-tls-handshake:" || SPKI of a fresh P-256 key, for the
// host key to sign. A later call replaces the pending request.
Napi::Value HostWrap::QuicCertRequest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto req = std::make_unique<tls::CertificateRequest>();
  if (req->generate(static_cast<int64_t>(::time(nullptr))) != tls::Error::kNone) {
    Napi::Error::New(env, "could not generate the QUIC certificate key").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const auto& m = req->message_to_sign();
  Napi::Uint8Array out = Napi::Uint8Array::New(env, m.size());
  std::memcpy(out.Data(), m.data(), m.size());
  cert_request_ = std::move(req);
  return out;
}

// quicCertFinish(hostPublicKeyProtobuf, signature) -> undefined: builds the certificate and hands
// it to the I/O threads (endpoints created afterwards use it).
Napi::Value HostWrap::QuicCertFinish(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t *kp, *sp;
  size_t kn, sn;
  if (info.Length() < 2 || !u8(info[0], kp, kn) || !u8(info[1], sp, sn) || !cert_request_ || !host_) {
    Napi::TypeError::New(env, "quicCertFinish(publicKey, signature) after quicCertRequest()").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::shared_ptr<const tls::Certificate> cert;
  if (cert_request_->finish(kp, kn, sp, sn, cert) != tls::Error::kNone) {
    Napi::Error::New(env, "could not build the QUIC certificate").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  cert_request_.reset();
  host_->set_quic_certificate(std::move(cert));
  return env.Undefined();
}

// { handshakeTimeoutMs, idleTimeoutMs, keepAliveMs, maxStreams, initialStreamWindow,
//   maxStreamWindow, initialConnectionWindow, maxConnectionWindow, statelessResetKey }: each
// optional; absent ones keep the defaults of l2n/quic.h.
bool ParseQuicOptions(Napi::Env env, Napi::Value v, quic::EndpointConfig& out) {
  if (v.IsUndefined() || v.IsNull()) return true;
  if (!v.IsObject()) {
    Napi::TypeError::New(env, "quic options must be an object").ThrowAsJavaScriptException();
    return false;
  }
  Napi::Object o = v.As<Napi::Object>();
  auto num = [&](const char* name, uint64_t& field, double scale) {
    Napi::Value x = o.Get(name);
    if (x.IsNumber()) field = static_cast<uint64_t>(x.As<Napi::Number>().DoubleValue() * scale);
  };
  quic::Config& c = out.connection;
  num("handshakeTimeoutMs", c.handshake_timeout_ns, 1e6);
  num("idleTimeoutMs", c.max_idle_timeout_ns, 1e6);
  num("keepAliveMs", c.keep_alive_interval_ns, 1e6);
  num("maxStreams", c.max_concurrent_streams, 1);
  num("initialStreamWindow", c.initial_stream_window, 1);
  num("maxStreamWindow", c.max_stream_window, 1);
  num("initialConnectionWindow", c.initial_connection_window, 1);
  num("maxConnectionWindow", c.max_connection_window, 1);
  const uint8_t* p;
  size_t n;
  if (u8(o.Get("statelessResetKey"), p, n)) {
    if (n != 32) {
      Napi::TypeError::New(env, "statelessResetKey must be 32 bytes").ThrowAsJavaScriptException();
      return false;
    }
    out.stateless_reset_key.assign(p, p + n);
  }
  return true;
}

}  // namespace l2n::binding
