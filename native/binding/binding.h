// The N-API binding: the only code that includes napi.h. One native class per JS object:
//   Host        the addon-instance I/O context (threads, Noise identity, outbox wake-up)
//   Listener    a listening socket, created by Host when the kListening record is delivered
//   Connection  an upgraded connection, created by Host when the kConnOpen record is delivered
// Each carries a type tag, has an explicit close(), and a finalizer that tolerates an earlier
// close. An async env cleanup hook stops every Host of the addon instance and holds the env's
// teardown until their uv handles are closed (worker exit, process exit: addon.cpp AsyncCleanup).
#pragma once
#include <napi.h>
#include <uv.h>

#include <memory>
#include <unordered_set>

#include "io/host.h"

namespace l2n::binding {

class HostWrap;

// Inline mode: JS callbacks per libuv wake-up of one host. A callback's submit runs at once and
// may make records (kWritten after a send, a writer refilling on 'drain' makes more); in the
// round-trip path that is 2 rounds (data, then written). The bound keeps one busy host from
// holding libuv's other handles (timers, other hosts) back; what is left goes on the next
// iteration. Our choice, not a measured optimum.
inline constexpr uint32_t kMaxInlineDeliveries = 4;

// Per addon instance (per env): constructors, the live hosts for the cleanup hook, and the uv
// handles still closing. Never freed (addon.cpp Init): uv close callbacks and wrapper finalizers
// may look at it during teardown. JS thread only.
struct Instance {
  Napi::FunctionReference listener_ctor;
  Napi::FunctionReference connection_ctor;
  std::unordered_set<HostWrap*> hosts;
  bool torn_down = false;
  // uv handles given to uv_close whose close callback has not run yet (close_uv_handle).
  uint32_t closing_handles = 0;
  // Set by the async cleanup hook when it finds handles still closing: the last close callback
  // removes it, which lets Node go on tearing the env down (addon.cpp AsyncCleanup).
  napi_async_cleanup_hook_handle cleanup_waiting = nullptr;
  void handle_closed();  // addon.cpp
};

// uv_close of a handle this addon allocated with `new H`, counted on `inst` until libuv has run
// its close callback (deletes it). libuv calls nothing of a closed handle but that callback, so
// data can carry the Instance from here on. The callback is code of this addon: it must run
// before Node unloads the addon at a worker's exit, hence the count (addon.cpp AsyncCleanup).
template <class H>
void close_uv_handle(H*& h, Instance* inst) {
  if (h == nullptr) return;
  auto* raw = reinterpret_cast<uv_handle_t*>(h);
  raw->data = inst;
  if (inst != nullptr) inst->closing_handles++;
  uv_close(raw, [](uv_handle_t* closed) {
    auto* owner = static_cast<Instance*>(closed->data);
    delete reinterpret_cast<H*>(closed);
    if (owner != nullptr) owner->handle_closed();
  });
  h = nullptr;
}

// Type tags (random 128-bit values, fixed): a method called on the wrong object fails cleanly.
inline constexpr napi_type_tag kHostTag = {0x6c32e14f1b8a4c3dULL, 0x9a0f6b2e7d115c01ULL};
inline constexpr napi_type_tag kListenerTag = {0x6c32e14f1b8a4c3dULL, 0x9a0f6b2e7d115c02ULL};
inline constexpr napi_type_tag kConnectionTag = {0x6c32e14f1b8a4c3dULL, 0x9a0f6b2e7d115c03ULL};

class HostWrap : public Napi::ObjectWrap<HostWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit HostWrap(const Napi::CallbackInfo& info);
  ~HostWrap() override;

  // Used by Listener/Connection wrappers: post one command at once (close paths; rare).
  bool post(io::Command&& cmd);
  bool is_open() const { return host_ != nullptr; }
  void shutdown();  // stop threads, release undelivered slabs, close the uv handle (idempotent)

 private:
  Napi::Value Submit(const Napi::CallbackInfo& info);
  Napi::Value Counters(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value SetLogLevels(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);
  Napi::Value QuicCertRequest(const Napi::CallbackInfo& info);  // native/binding/quic_cert.cpp
  Napi::Value QuicCertFinish(const Napi::CallbackInfo& info);
  static void OnAsync(uv_async_t* handle);
  void deliver();
  bool deliver_batch();
  // Inline mode (threads 0): the I/O loop runs here, on the JS thread. uv_poll on the loop's epoll
  // fd and one uv_timer at its earliest deadline call run_inline(), which runs one iteration and
  // delivers its records at once (no uv_async hop).
  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnTimer(uv_timer_t* handle);
  void run_inline(bool poll_sockets);
  void after_inline_step();  // re-arms the timer; schedules delivery of records made by a submit
  uint32_t submit_cmds(std::vector<io::Command>& cmds);

  std::unique_ptr<io::Host> host_;
  uv_async_t* async_ = nullptr;        // threaded mode: the I/O threads' wake-up of this thread
  uv_poll_t* poll_ = nullptr;          // inline mode: readable epoll fd
  uv_timer_t* timer_ = nullptr;        // inline mode: the loop's earliest deadline
  uint64_t timer_deadline_ = UINT64_MAX;  // what timer_ is armed for (ns), UINT64_MAX: stopped
  bool delivering_ = false;            // inside deliver(): a JS submit must not deliver again
  Napi::FunctionReference on_events_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
  Instance* instance_ = nullptr;
  io::Batch batch_;
  double log_records_ = 0;  // kLog/kLogDropped records handed to JS (stats().logRecords; JS thread only)
  std::vector<io::Command> cmds_;
  std::unique_ptr<tls::CertificateRequest> cert_request_;  // between QuicCertRequest and QuicCertFinish
};

// options.quic of new Host(...) -> the QUIC endpoint config (native/binding/quic_cert.cpp).
bool ParseQuicOptions(Napi::Env env, Napi::Value v, quic::EndpointConfig& out);

Napi::Function InitListener(Napi::Env env);
Napi::Function InitConnection(Napi::Env env);
// Their constructors are kept in Instance; HostWrap::deliver_batch makes the objects handed to JS
// with kListening / kConnOpen records.

}  // namespace l2n::binding
