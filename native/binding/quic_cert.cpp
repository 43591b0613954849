// QUIC pieces of the Host binding: the two-step libp2p TLS certificate (TypeScript signs with the
// host key, see l2n/tls.h) and the QUIC options of new Host(...). Arguments are validated in
// src/native/host.ts; here a bad one throws a TypeError.
//
// TEST ONLY arguments: a certificate that is wrong in one chosen way, for real handshakes in
// test/transports/quic/bad-certificate.test.ts (expired or not yet valid: quicCertRequest's
// validity arguments; no libp2p extension: quicCertFinish with two empty arrays). They work only
// when the environment has LIBP2P_NATIVE_TEST_HOOKS=1 and throw otherwise, so no production node
// can present such a certificate by accident. (A bad host signature or another key's extension
// need no hook: they are what the caller signs.)
#include <cstdlib>
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

// The environment variable that must be "1" for the test-only arguments (see the top of the file).
constexpr const char* kTestHooksEnv = "LIBP2P_NATIVE_TEST_HOOKS";

// True when test hooks are on; else throws (naming the variable) and returns false.
bool test_hooks_enabled(Napi::Env env, const char* what) {
  const char* v = ::getenv(kTestHooksEnv);
  if (v != nullptr && std::strcmp(v, "1") == 0) return true;
  Napi::Error::New(env, std::string(what) + " is a test hook: it needs LIBP2P_NATIVE_TEST_HOOKS=1").ThrowAsJavaScriptException();
  return false;
}
}  // namespace

// quicCertRequest() -> Uint8Array: "libp2p-tls-handshake:" || SPKI of a fresh P-256 key, for the
// host key to sign. A later call replaces the pending request.
// TEST ONLY: quicCertRequest(notBefore, notAfter) sets the validity (Unix seconds).
Napi::Value HostWrap::QuicCertRequest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto req = std::make_unique<tls::CertificateRequest>();
  tls::Error e;
  if (info.Length() >= 2) {
    if (!test_hooks_enabled(env, "quicCertRequest(notBefore, notAfter)")) return env.Undefined();
    if (!info[0].IsNumber() || !info[1].IsNumber()) {
      Napi::TypeError::New(env, "notBefore and notAfter are Unix seconds").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    e = req->generate(info[0].As<Napi::Number>().Int64Value(), info[1].As<Napi::Number>().Int64Value());
  } else {
    e = req->generate(static_cast<int64_t>(::time(nullptr)));
  }
  if (e != tls::Error::kNone) {
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
// TEST ONLY: two empty arrays build a certificate without the libp2p extension.
Napi::Value HostWrap::QuicCertFinish(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t *kp, *sp;
  size_t kn, sn;
  if (info.Length() < 2 || !u8(info[0], kp, kn) || !u8(info[1], sp, sn) || !cert_request_ || !host_) {
    Napi::TypeError::New(env, "quicCertFinish(publicKey, signature) after quicCertRequest()").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::shared_ptr<const tls::Certificate> cert;
  tls::Error e;
  if (kn == 0 && sn == 0) {
    if (!test_hooks_enabled(env, "quicCertFinish without a key")) return env.Undefined();
    e = cert_request_->finish_raw(nullptr, 0, false, cert);
  } else {
    e = cert_request_->finish(kp, kn, sp, sn, cert);
  }
  if (e != tls::Error::kNone) {
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
