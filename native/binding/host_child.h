// HostChildWrap: the shape shared by every JS handle that Host creates for a native object living
// on an I/O thread (Listener, Connection). It keeps its Host alive, carries a type tag, has an
// explicit close(), a detach() for objects closed another way, and a finalizer that tolerates
// either; closing posts one command.
// A Traits struct names the class, its tag, its close command and whether close takes `graceful`.
#pragma once
#include "binding/binding.h"

namespace l2n::binding {

template <class Traits>
class HostChildWrap : public Napi::ObjectWrap<HostChildWrap<Traits>> {
 public:
  explicit HostChildWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<HostChildWrap<Traits>>(info) {
    info.This().template As<Napi::Object>().TypeTag(&Traits::kTag);
    if (info.Length() < 2 || !info[0].IsObject() || !info[0].template As<Napi::Object>().CheckTypeTag(&kHostTag) || !info[1].IsNumber()) {
      Napi::TypeError::New(info.Env(), std::string(Traits::kName) + " is created by Host").ThrowAsJavaScriptException();
      return;
    }
    host_ = Napi::Persistent(info[0].template As<Napi::Object>());  // keeps the Host alive while we are
    host_raw_ = HostWrap::Unwrap(info[0].template As<Napi::Object>());
    inst_ = info.Env().template GetInstanceData<Instance>();
    id_ = info[1].template As<Napi::Number>().Uint32Value();
  }
  // Finalizer: an object collected while open is closed at once (its socket never leaks).
  ~HostChildWrap() override { close(false); }

  // close(graceful?: boolean): `graceful` only where Traits::kGraceful (a connection's go-away).
  Napi::Value Close(const Napi::CallbackInfo& info) {
    close(Traits::kGraceful && info.Length() > 0 && info[0].ToBoolean().Value());
    return info.Env().Undefined();
  }
  // detach(): the native object is closed already (its close record came) or a batched command
  // closes it (Host.submit): nothing is posted, now or by the finalizer. Without it every
  // connection closed by the batch or by the remote cost one more direct post, and an I/O-thread
  // wake-up, when its handle was collected.
  Napi::Value Detach(const Napi::CallbackInfo& info) {
    closed_ = true;
    return info.Env().Undefined();
  }
  Napi::Value Id(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), id_); }

  static Napi::Function Define(Napi::Env env) {
    return HostChildWrap::DefineClass(env, Traits::kName,
                                      {HostChildWrap::template InstanceMethod<&HostChildWrap::Close>("close"),
                                       HostChildWrap::template InstanceMethod<&HostChildWrap::Detach>("detach"),
                                       HostChildWrap::template InstanceAccessor<&HostChildWrap::Id>("id")});
  }

 private:
  void close(bool graceful) {
    if (closed_ || host_.IsEmpty()) return;
    closed_ = true;
    // No JS access here: this may run from a finalizer. After the env cleanup hook the Host may
    // already be gone (teardown ignores references), hence the torn_down check.
    HostWrap* h = host_raw_;
    if (inst_ != nullptr && !inst_->torn_down && h != nullptr && h->is_open()) {
      io::Command c(Traits::kCloseOp);
      c.conn = id_;
      c.a = graceful ? 1 : 0;
      h->post(std::move(c));
    }
  }
  Napi::ObjectReference host_;
  HostWrap* host_raw_ = nullptr;
  Instance* inst_ = nullptr;
  uint32_t id_ = 0;
  bool closed_ = false;
};

}  // namespace l2n::binding
