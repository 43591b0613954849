// Module entry: registers the classes and the cleanup hook of this addon instance.
#include "binding/binding.h"
#include "l2n/alloc.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace l2n::binding {
namespace {

// Process-wide native memory for benches: `buffers` = bytes held through l2n::mem (slabs, output
// buffers, counter tables); `malloc` = bytes in use in glibc malloc's arenas (mallinfo2: uordblks +
// hblkhd), i.e. every C/C++ allocation of the process (engines, Node, libuv, ArrayBuffer stores),
// never the V8 heap (V8 maps its own pages); -1 when not glibc or when jemalloc (LD_PRELOAD)
// replaces malloc. With mimalloc, which serves only the l2n::mem buffers (alloc.h), `malloc`
// excludes those buffers and `buffers` counts them.
Napi::Value MemoryStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("buffers", Napi::Number::New(env, static_cast<double>(mem::live_bytes())));
  double in_use = -1;
#if defined(__GLIBC__) && !defined(L2N_ALLOCATOR_JEMALLOC)
  struct mallinfo2 mi = mallinfo2();
  in_use = static_cast<double>(mi.uordblks + mi.hblkhd);
#endif
  o.Set("malloc", Napi::Number::New(env, in_use));
  return o;
}

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
  exports.Set("memoryStats", Napi::Function::New(env, MemoryStats, "memoryStats"));
  return exports;
}

}  // namespace
}  // namespace l2n::binding

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return l2n::binding::Init(env, exports); }
NODE_API_MODULE(libp2p_native, InitAddon)
