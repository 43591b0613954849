// Listener: the JS handle of one listening socket (created by Host on kListening).
#include "binding/binding.h"

namespace l2n::binding {
namespace {

class ListenerWrap : public Napi::ObjectWrap<ListenerWrap> {
 public:
  explicit ListenerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ListenerWrap>(info) {
    info.This().As<Napi::Object>().TypeTag(&kListenerTag);
    if (info.Length() < 2 || !info[0].IsObject() || !info[0].As<Napi::Object>().CheckTypeTag(&kHostTag) || !info[1].IsNumber()) {
      Napi::TypeError::New(info.Env(), "Listener is created by Host").ThrowAsJavaScriptException();
      return;
    }
    host_ = Napi::Persistent(info[0].As<Napi::Object>());  // keeps the Host alive while we are
    host_raw_ = HostWrap::Unwrap(info[0].As<Napi::Object>());
    inst_ = info.Env().GetInstanceData<Instance>();
    id_ = info[1].As<Napi::Number>().Uint32Value();
  }
  // Finalizer: a listener dropped without close() is closed (tolerates an earlier close).
  ~ListenerWrap() override { close(); }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    close();
    return info.Env().Undefined();
  }
  Napi::Value Id(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), id_); }

 private:
  void close() {
    if (closed_ || host_.IsEmpty()) return;
    closed_ = true;
    // No JS access here: this may run from a finalizer. After the env cleanup hook the Host may
    // already be gone (teardown ignores references), hence the torn_down check.
    HostWrap* h = host_raw_;
    if (inst_ != nullptr && !inst_->torn_down && h != nullptr && h->is_open()) {
      io::Command c(io::Op::kCloseListener);
      c.conn = id_;
      h->post(std::move(c));
    }
  }
  Napi::ObjectReference host_;
  HostWrap* host_raw_ = nullptr;
  Instance* inst_ = nullptr;
  uint32_t id_ = 0;
  bool closed_ = false;
};

}  // namespace

Napi::Function InitListener(Napi::Env env) {
  return ListenerWrap::DefineClass(env, "Listener",
                                   {ListenerWrap::InstanceMethod<&ListenerWrap::Close>("close"),
                                    ListenerWrap::InstanceAccessor<&ListenerWrap::Id>("id")});
}

Napi::Object NewListener(Napi::Env env, Instance* inst, Napi::Object host, uint32_t id) {
  return inst->listener_ctor.New({host, Napi::Number::New(env, id)});
}

}  // namespace l2n::binding
