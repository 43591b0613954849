// Module entry: registers the classes and the cleanup hook of this addon instance.
#include "binding/binding.h"
#include "l2n/alloc.h"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace l2n::binding {

void Instance::handle_closed() {
  if (--closing_handles > 0 || cleanup_waiting == nullptr) return;
  napi_async_cleanup_hook_handle h = cleanup_waiting;
  cleanup_waiting = nullptr;
  napi_remove_async_cleanup_hook(h);  // step 2 of the teardown below: the env may go on
}

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

// Keeps this addon, and so every library it brought into the process, mapped until the process
// exits. Node unloads a worker's addons (dlclose in Environment::~Environment, worker threads only)
// while that worker's thread is still running; the thread's exit then runs the pthread-key
// destructors of libraries that were unloaded with us. libmimalloc 2.0.9 (Debian 12, our default
// allocator) creates such a key for every thread it serves and never deletes it (mimalloc issue
// #809), so the exit of a worker that was the addon's only user crashed the process (SIGSEGV in
// __nptl_deallocate_tsd), every time. Marking ourselves RTLD_NODELETE (glibc honours it
// on an already-loaded object with RTLD_NOLOAD) makes our dlclose, and the worker's, a reference
// drop only. Bounded: one mapping of the addon and its libraries per process whatever the number of
// workers, which is what a main-thread load already costs (Node never unloads the main thread's
// addons). Returns false if the loader refused (the addon still works; only a worker's exit could crash).
bool PinAddonInProcess() {
  static const bool pinned = [] {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&PinAddonInProcess), &info) == 0 || info.dli_fname == nullptr) return false;
    void* self = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    if (self == nullptr) return false;
    dlclose(self);  // the reference just taken; the NODELETE mark stays
    return true;
  }();
  return pinned;
}

// Env teardown (worker exit, process exit), in this order:
//  1. AsyncCleanup (registered in Init, after the napi_env's own hook, so it runs before it: Node
//     runs cleanup hooks last-registered first). Every live Host stops: I/O threads joined (no
//     uv_async_send after this), sockets closed, undelivered slabs released, and its uv handles
//     (async; inline: poll, timer) given to uv_close. Their close callbacks run only on a later
//     turn of the env's loop, so when any handle is still closing (these, or those of a Host that
//     JS closed just before the exit) the hook keeps its handle in Instance::cleanup_waiting.
//     An async hook holds the teardown: Node's RunCleanup spins the env's loop while it is pending.
//  2. The loop runs the close callbacks (close_uv_handle, binding.h); the last one removes the hook
//     (Instance::handle_closed). With a plain env cleanup hook nothing waited for them: a worker's
//     loop ran them in Worker::Run after Node had unloaded the addon, a jump into unmapped code
//     (SIGSEGV in uv__finish_close whenever a worker exited with a live Host).
//  3. The napi_env's own hook runs the wrapper finalizers (before or after step 2: the close
//     callbacks touch only the Instance, never freed): ~HostWrap finds its Host shut down,
//     ~HostChildWrap sees torn_down and posts nothing. External ArrayBuffers (slabs, counter
//     blocks) are released by Node's cleanup hooks too, so also before the addon is unloaded.
//  4. Worker only: Environment::~Environment dlcloses the addon, then the worker's thread exits and
//     runs its pthread-key destructors; PinAddonInProcess keeps those of our libraries mapped.
void AsyncCleanup(napi_async_cleanup_hook_handle handle, void* arg) {
  auto* inst = static_cast<Instance*>(arg);
  // Copy: shutdown() may not remove entries, but the set must not change under iteration.
  std::vector<HostWrap*> hosts(inst->hosts.begin(), inst->hosts.end());
  for (HostWrap* h : hosts) h->shutdown();
  inst->torn_down = true;
  if (inst->closing_handles == 0) {
    napi_remove_async_cleanup_hook(handle);
    return;
  }
  inst->cleanup_waiting = handle;
}

// TEST ONLY: with LIBP2P_NATIVE_TEST_HOOKS=1 (the variable of quic_cert.cpp's hooks) and this one
// set to 1 the addon does not pin itself, so Node really unloads it at a worker's exit.
// worker-exit.test.ts sets both on system-allocator builds to check the teardown order itself, which
// the pin would hide (a close callback left to run after the unload would find the code still
// mapped). With mimalloc every such exit crashes (PinAddonInProcess).
constexpr const char* kTestUnpinnedEnv = "LIBP2P_NATIVE_TEST_UNPINNED";

bool test_unpinned() {
  const char* hooks = ::getenv("LIBP2P_NATIVE_TEST_HOOKS");
  const char* unpinned = ::getenv(kTestUnpinnedEnv);
  return hooks != nullptr && std::strcmp(hooks, "1") == 0 && unpinned != nullptr && std::strcmp(unpinned, "1") == 0;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  if (!test_unpinned()) PinAddonInProcess();
  // Deliberately never freed (a few bytes per env): uv close callbacks and wrapper finalizers run
  // during env teardown, after the cleanup hook, and still look at it.
  auto* inst = new Instance();
  env.SetInstanceData<Instance, KeepInstance>(inst);
  napi_add_async_cleanup_hook(env, AsyncCleanup, inst, nullptr);
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
