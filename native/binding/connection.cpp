// Connection: the JS handle of one upgraded connection (created by Host on kConnOpen). Stream
// traffic goes through Host.submit() batches; close() here is the rare, direct path.
#include "binding/binding.h"

namespace l2n::binding {
namespace {

class ConnectionWrap : public Napi::ObjectWrap<ConnectionWrap> {
 public:
  explicit ConnectionWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ConnectionWrap>(info) {
    info.This().As<Napi::Object>().TypeTag(&kConnectionTag);
    if (info.Length() < 2 || !info[0].IsObject() || !info[0].As<Napi::Object>().CheckTypeTag(&kHostTag) || !info[1].IsNumber()) {
      Napi::TypeError::New(info.Env(), "Connection is created by Host").ThrowAsJavaScriptException();
      return;
    }
    host_ = Napi::Persistent(info[0].As<Napi::Object>());  // keeps the Host alive while we are
    host_raw_ = HostWrap::Unwrap(info[0].As<Napi::Object>());
    inst_ = info.Env().GetInstanceData<Instance>();
    id_ = info[1].As<Napi::Number>().Uint32Value();
  }
  // Finalizer: a connection object collected while open is aborted (its socket never leaks).
  ~ConnectionWrap() override { close(false); }

  // close(graceful: boolean): graceful sends go-away and flushes; otherwise abort.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    close(info.Length() > 0 && info[0].ToBoolean().Value());
    return info.Env().Undefined();
  }
  Napi::Value Id(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), id_); }

 private:
  void close(bool graceful) {
    if (closed_ || host_.IsEmpty()) return;
    closed_ = true;
    // No JS access here: this may run from a finalizer. After the env cleanup hook the Host may
    // already be gone (teardown ignores references), hence the torn_down check.
    HostWrap* h = host_raw_;
    if (inst_ != nullptr && !inst_->torn_down && h != nullptr && h->is_open()) {
      io::Command c(io::Op::kCloseConn);
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

}  // namespace

Napi::Function InitConnection(Napi::Env env) {
  return ConnectionWrap::DefineClass(env, "Connection",
                                     {ConnectionWrap::InstanceMethod<&ConnectionWrap::Close>("close"),
                                      ConnectionWrap::InstanceAccessor<&ConnectionWrap::Id>("id")});
}

Napi::Object NewConnection(Napi::Env env, Instance* inst, Napi::Object host, uint32_t id) {
  return inst->connection_ctor.New({host, Napi::Number::New(env, id)});
}

}  // namespace l2n::binding
