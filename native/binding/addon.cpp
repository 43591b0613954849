// Module entry: registers the classes and the cleanup hook of this addon instance.
#include "binding/binding.h"
#include "l2n/alloc.h"

namespace l2n::binding {
namespace {

void KeepInstance(Napi::Env, Instance*) {}

void Cleanup(void* arg) {
  auto* inst = static_cast<Instance*>(arg);
  // Copy: shutdown() may not remove entries, but the set must not change under iteration.
  std::vector<HostWrap*> hosts(inst->hosts.begin(), inst->hosts.end());
  for (HostWrap* h : hosts) h->shutdown();
  inst->torn_down = true;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // Deliberately never freed (a few bytes per env): wrapper finalizers may run during env teardown,
  // after the cleanup hook, and still look at it.
  auto* inst = new Instance();
  env.SetInstanceData<Instance, KeepInstance>(inst);
  napi_add_env_cleanup_hook(env, Cleanup, inst);
  exports.Set("Host", HostWrap::Init(env));
  Napi::Function listener = InitListener(env);
  Napi::Function connection = InitConnection(env);
  inst->listener_ctor = Napi::Persistent(listener);
  inst->connection_ctor = Napi::Persistent(connection);
  exports.Set("Listener", listener);
  exports.Set("Connection", connection);
  exports.Set("allocator", Napi::String::New(env, mem::allocator_name()));
  return exports;
}

}  // namespace
}  // namespace l2n::binding

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return l2n::binding::Init(env, exports); }
NODE_API_MODULE(libp2p_native, InitAddon)
