// Host: the JS face of io::Host. JS -> native is one submit() per tick; native -> JS is one
// callback per wake-up carrying every queued record (see docs/design/native-core.md).
#include <cstring>

#include "binding/binding.h"
#include "core/setup_trace.h"
#include "io/limits.h"
#include "io/loop.h"
#include "l2n/errors.h"

namespace l2n::binding {

Napi::Function HostWrap::Init(Napi::Env env) {
  return DefineClass(env, "Host",
                     {InstanceMethod<&HostWrap::Submit>("submit"), InstanceMethod<&HostWrap::Counters>("counters"),
                      InstanceMethod<&HostWrap::Stats>("stats"),
                      InstanceMethod<&HostWrap::SetLogLevels>("setLogLevels"),
                      InstanceMethod<&HostWrap::Close>("close"), InstanceMethod<&HostWrap::Ref>("ref"),
                      InstanceMethod<&HostWrap::Unref>("unref"),
                      InstanceMethod<&HostWrap::QuicCertRequest>("quicCertRequest"),
                      InstanceMethod<&HostWrap::QuicCertFinish>("quicCertFinish")});
}

namespace {
bool bytes_of(const Napi::Value& v, const uint8_t*& p, size_t& n) {
  if (!v.IsTypedArray()) return false;
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array) return false;
  Napi::Uint8Array u = v.As<Napi::Uint8Array>();
  p = u.Data();
  n = u.ByteLength();
  return true;
}

// levels: Uint8Array, one LogLevel per LogComponent (io/log.h), index = component.
bool apply_log_levels(io::Host& host, const Napi::Value& v) {
  const uint8_t* p;
  size_t n;
  if (!bytes_of(v, p, n) || n > io::kLogComponents) return false;
  for (size_t i = 0; i < n; i++) {
    uint32_t l = p[i] > static_cast<uint32_t>(io::LogLevel::kTrace) ? static_cast<uint32_t>(io::LogLevel::kTrace) : p[i];
    host.set_log_level(static_cast<io::LogComponent>(i), static_cast<io::LogLevel>(l));
  }
  return true;
}
}  // namespace

// new Host({ threads, staticSecret, staticPublic, payload, maxStreamWindow }, onEvents)
// Arguments are validated in src/native/index.ts; here a bad one throws a TypeError.
HostWrap::HostWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<HostWrap>(info) {
  Napi::Env env = info.Env();
  info.This().As<Napi::Object>().TypeTag(&kHostTag);
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
    Napi::TypeError::New(env, "Host(options, onEvents)").ThrowAsJavaScriptException();
    return;
  }
  Napi::Object o = info[0].As<Napi::Object>();
  io::HostConfig cfg;
  const uint8_t* p;
  size_t n;
  if (!bytes_of(o.Get("staticSecret"), p, n) || n != 32) {
    Napi::TypeError::New(env, "staticSecret must be 32 bytes").ThrowAsJavaScriptException();
    return;
  }
  std::memcpy(cfg.static_secret, p, 32);
  if (!bytes_of(o.Get("staticPublic"), p, n) || n != 32) {
    Napi::TypeError::New(env, "staticPublic must be 32 bytes").ThrowAsJavaScriptException();
    return;
  }
  std::memcpy(cfg.static_public, p, 32);
  if (!bytes_of(o.Get("payload"), p, n)) {
    Napi::TypeError::New(env, "payload must be a Uint8Array").ThrowAsJavaScriptException();
    return;
  }
  cfg.payload.assign(p, p + n);
  Napi::Value threads = o.Get("threads");
  if (threads.IsNumber()) cfg.threads = threads.As<Napi::Number>().Uint32Value();
  Napi::Value nto = o.Get("streamNegotiationTimeoutMs");
  if (nto.IsNumber()) cfg.stream_negotiation_timeout_ns = static_cast<uint64_t>(nto.As<Napi::Number>().DoubleValue() * 1e6);
  Napi::Value win = o.Get("maxStreamWindow");
  if (win.IsNumber()) cfg.max_stream_window = win.As<Napi::Number>().Uint32Value();
  if (!ParseQuicOptions(env, o.Get("quic"), cfg.quic)) return;
  Napi::Value sec = o.Get("security");  // TCP security protocol ids in order (src/transports/tcp checks them)
  if (sec.IsArray()) {
    Napi::Array a = sec.As<Napi::Array>();
    std::vector<std::string> ids;
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value v = a.Get(i);
      if (!v.IsString()) {
        Napi::TypeError::New(env, "security must be an array of protocol ids").ThrowAsJavaScriptException();
        return;
      }
      ids.push_back(v.As<Napi::String>().Utf8Value());
    }
    if (!ids.empty()) cfg.security = std::move(ids);
  }

  on_events_ = Napi::Persistent(info[1].As<Napi::Function>());
  async_context_ = std::make_unique<Napi::AsyncContext>(env, "libp2p-native:events");
  instance_ = env.GetInstanceData<Instance>();

  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  bool inline_io = cfg.threads == 0;
  if (inline_io) {
    // Records are delivered right after each iteration (run_inline, deliver): nothing to wake.
    host_ = std::make_unique<io::Host>(cfg, [] {});
  } else {
    async_ = new uv_async_t;
    async_->data = this;
    uv_async_init(loop, async_, &HostWrap::OnAsync);
    uv_async_t* async = async_;
    host_ = std::make_unique<io::Host>(cfg, [async] { uv_async_send(async); });
  }
  // Before the threads start, so their first lines already follow the filter.
  Napi::Value levels = o.Get("logLevels");
  if (!levels.IsUndefined() && !apply_log_levels(*host_, levels)) {
    shutdown();
    Napi::TypeError::New(env, "logLevels must be a Uint8Array of at most 5 levels").ThrowAsJavaScriptException();
    return;
  }
  if (!host_->start()) {
    shutdown();
    Napi::Error::New(env, "could not start I/O threads").ThrowAsJavaScriptException();
    return;
  }
  if (inline_io) {
    poll_ = new uv_poll_t;
    timer_ = new uv_timer_t;
    if (uv_poll_init(loop, poll_, host_->inline_fd()) != 0) {
      delete poll_;  // never initialised: not for uv_close
      poll_ = nullptr;
      delete timer_;
      timer_ = nullptr;
      shutdown();
      Napi::Error::New(env, "could not poll the inline I/O loop").ThrowAsJavaScriptException();
      return;
    }
    poll_->data = this;
    uv_timer_init(loop, timer_);
    timer_->data = this;
    uv_poll_start(poll_, UV_READABLE, &HostWrap::OnPoll);
  }
  instance_->hosts.insert(this);
}

HostWrap::~HostWrap() {
  shutdown();
  if (instance_ != nullptr && !instance_->torn_down) instance_->hosts.erase(this);
}

void HostWrap::shutdown() {
  if (host_) {
    host_->stop();  // inline: closes every socket here, on the JS thread
    batch_.clear();
    host_->drain(batch_);
    for (io::Slab* s : batch_.slabs) io::SlabPool::unref(s);  // never handed to JS
    batch_.clear();
  }
  // Inline handles: the poll must stop before the epoll fd it watches is closed (host_.reset()).
  // Their close callbacks are counted on the Instance: at env teardown the async cleanup hook waits
  // for them (addon.cpp AsyncCleanup).
  close_uv_handle(poll_, instance_);
  close_uv_handle(timer_, instance_);
  host_.reset();
  close_uv_handle(async_, instance_);  // threaded: the I/O threads that woke it are joined (stop())
}

bool HostWrap::post(io::Command&& cmd) {
  if (!host_) return false;
  std::vector<io::Command> v;
  v.push_back(std::move(cmd));
  return submit_cmds(v) == err::kNone;
}

uint32_t HostWrap::submit_cmds(std::vector<io::Command>& cmds) {
  uint32_t rc = host_->submit(cmds);  // inline: the commands ran, their connections are flushed
  if (host_->is_inline()) {
    after_inline_step();
    // Records made by these commands (kWritten, ...): inside deliver() its loop takes them; outside
    // (a submit from a microtask or a finalizer) never call JS from here: libuv calls back soon.
    if (!delivering_ && host_->inline_has_records()) host_->inline_kick();
  }
  return rc;
}

void HostWrap::OnPoll(uv_poll_t* handle, int /*status*/, int /*events*/) {
  auto* self = static_cast<HostWrap*>(handle->data);
  if (self != nullptr) self->run_inline(true);
}

void HostWrap::OnTimer(uv_timer_t* handle) {
  auto* self = static_cast<HostWrap*>(handle->data);
  if (self == nullptr) return;
  self->timer_deadline_ = UINT64_MAX;  // one-shot: it has fired
  self->run_inline(false);
}

void HostWrap::run_inline(bool poll_sockets) {
  if (!host_) return;
  host_->inline_run(poll_sockets);
  after_inline_step();
  deliver();
}

void HostWrap::after_inline_step() {
  if (!host_ || timer_ == nullptr) return;
  uint64_t d = host_->inline_next_deadline();
  if (d == timer_deadline_) return;
  timer_deadline_ = d;
  if (d == UINT64_MAX) {
    uv_timer_stop(timer_);
    return;
  }
  // libuv timers count whole milliseconds from the loop's cached time: round up (as Loop::wait);
  // an early expiry runs no engine timer and re-arms for the rest.
  uint64_t now = io::now_ns();
  uint64_t ms = d <= now ? 0 : (d - now + 999999) / 1000000;
  uv_timer_start(timer_, &HostWrap::OnTimer, ms, 0);
}

// submit(words: Uint32Array, count: number, buffers: Array<Uint8Array | undefined>) -> error code
Napi::Value HostWrap::Submit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!host_) return Napi::Number::New(env, err::kShutdown);
  if (info.Length() < 3 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsArray())
    return Napi::Number::New(env, err::kBadCommand);
  Napi::Uint32Array words = info[0].As<Napi::Uint32Array>();
  uint32_t count = info[1].As<Napi::Number>().Uint32Value();
  trace::point("js_submit", count);
  Napi::Array bufs = info[2].As<Napi::Array>();
  uint32_t nbufs = bufs.Length();
  if (static_cast<size_t>(count) * io::kCommandWords > words.ElementLength()) return Napi::Number::New(env, err::kBadCommand);
  const uint32_t* w = words.Data();
  cmds_.clear();
  cmds_.reserve(count);
  auto buf = [&](uint32_t idx, const uint8_t*& p, size_t& n) -> bool {
    if (idx >= nbufs) return false;
    return bytes_of(bufs.Get(idx), p, n);
  };
  for (uint32_t i = 0; i < count; i++, w += io::kCommandWords) {
    io::Command c(static_cast<io::Op>(w[0]));
    c.conn = w[1];
    c.stream = w[2];
    c.a = w[3];
    c.b = w[4];
    c.c = w[5];
    const uint8_t* p = nullptr;
    size_t n = 0;
    switch (c.op) {
      case io::Op::kListen:
      case io::Op::kOpenStream:
      case io::Op::kSetProtocols:
      case io::Op::kDial:
      case io::Op::kQuicListen:
      case io::Op::kQuicDial:
        if (!buf(c.a, p, n)) return Napi::Number::New(env, err::kBadCommand);
        c.text.assign(reinterpret_cast<const char*>(p), n);
        if ((c.op == io::Op::kDial || c.op == io::Op::kQuicDial) && c.c != io::kNoBuf) {
          if (!buf(c.c, p, n)) return Napi::Number::New(env, err::kBadCommand);
          c.text2.assign(reinterpret_cast<const char*>(p), n);
        }
        break;
      case io::Op::kSend:
        // Transferred: JS keeps the buffer referenced until kWritten covers it; no copy here.
        if (!buf(c.a, p, n) || n > 0xffffffffu) return Napi::Number::New(env, err::kBadCommand);
        c.data = p;
        c.len = static_cast<uint32_t>(n);
        break;
      case io::Op::kCloseListener:
      case io::Op::kCloseWrite:
      case io::Op::kReset:
      case io::Op::kPause:
      case io::Op::kResume:
      case io::Op::kCloseConn:
      case io::Op::kReleaseConn:
        break;
      default:
        return Napi::Number::New(env, err::kBadCommand);
    }
    cmds_.push_back(std::move(c));
  }
  return Napi::Number::New(env, submit_cmds(cmds_));
}

// counters() -> { connections: Float64Array, protocols: Float64Array }: views on native memory,
// written by the I/O threads, read by JS without a call. Valid until this Host is collected.
Napi::Value HostWrap::Counters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!host_) return env.Undefined();
  Napi::Object o = Napi::Object::New(env);
  // Each view holds a reference to the counter block: JS may keep reading after close().
  using Block = std::shared_ptr<io::CounterBlock>;
  auto view = [&](double* p, size_t n) {
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(
        env, p, n * sizeof(double), [](Napi::Env, void*, Block* hint) { delete hint; }, new Block(host_->counter_block()));
    return Napi::Float64Array::New(env, n, ab, 0);
  };
  o.Set("connections", view(host_->connection_counters(), host_->connection_counters_length()));
  o.Set("protocols", view(host_->protocol_counters(), host_->protocol_counters_length()));
  o.Set("perConnection", Napi::Number::New(env, io::kCountersPerConnection));
  o.Set("perProtocol", Napi::Number::New(env, io::kCountersPerProtocol));
  o.Set("maxProtocols", Napi::Number::New(env, io::kMaxProtocols));
  o.Set("threads", Napi::Number::New(env, host_->thread_count()));
  return o;
}

// stats() -> { slabsLive }: slabs allocated (in use, held by JS, or pooled). A snapshot, for tests
// and benchmarks (not a hot-path counter).
Napi::Value HostWrap::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("slabsLive", Napi::Number::New(env, host_ ? static_cast<double>(host_->slabs().live()) : 0));
  o.Set("logRecords", Napi::Number::New(env, log_records_));
  return o;
}

// setLogLevels(levels: Uint8Array): the LIBP2P_LOG filter changed (src/native/host.ts).
Napi::Value HostWrap::SetLogLevels(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (host_ && (info.Length() < 1 || !apply_log_levels(*host_, info[0])))
    Napi::TypeError::New(env, "setLogLevels(levels: Uint8Array of at most 5 levels)").ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value HostWrap::Close(const Napi::CallbackInfo& info) {
  shutdown();
  return info.Env().Undefined();
}

Napi::Value HostWrap::Ref(const Napi::CallbackInfo& info) {
  for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(async_), reinterpret_cast<uv_handle_t*>(poll_),
                         reinterpret_cast<uv_handle_t*>(timer_)})
    if (h != nullptr) uv_ref(h);
  return info.Env().Undefined();
}

Napi::Value HostWrap::Unref(const Napi::CallbackInfo& info) {
  for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(async_), reinterpret_cast<uv_handle_t*>(poll_),
                         reinterpret_cast<uv_handle_t*>(timer_)})
    if (h != nullptr) uv_unref(h);
  return info.Env().Undefined();
}

void HostWrap::OnAsync(uv_async_t* handle) {
  auto* self = static_cast<HostWrap*>(handle->data);
  if (self != nullptr) self->deliver();
}

// Threaded: one JS crossing per wake-up. Inline: the callback's own submits (run at once) make
// records too (kWritten, ...): deliver those in further rounds before returning to libuv, at most
// kMaxInlineDeliveries, then leave the rest to the next libuv iteration. Never re-entered: a
// submit during the callback only queues records.
void HostWrap::deliver() {
  if (!host_ || delivering_) return;
  delivering_ = true;
  uint32_t rounds = host_->is_inline() ? kMaxInlineDeliveries : 1;
  for (uint32_t i = 0; i < rounds && host_ && deliver_batch(); i++) {
  }
  delivering_ = false;
  if (host_ && host_->inline_has_records()) host_->inline_kick();
}

namespace {
// After a failed N-API call on a libuv callback: a pending JS exception (a value) is surfaced as
// uncaught, as one thrown by onEvents would be; none (the isolate is terminating: a worker's
// terminate(), env teardown) means nobody is left to tell.
void surface_exception(napi_env env) {
  napi_value exc = nullptr;
  napi_valuetype t = napi_undefined;
  if (napi_get_and_clear_last_exception(env, &exc) == napi_ok && exc != nullptr && napi_typeof(env, exc, &t) == napi_ok &&
      t != napi_undefined)
    napi_fatal_exception(env, exc);
}

// new Listener(host, id) / new Connection(host, id) (host_child.h), raw.
napi_status new_child(napi_env env, napi_ref ctor, napi_value host, uint32_t id, napi_value* out) {
  napi_value fn;
  napi_value args[2] = {host, nullptr};
  napi_status st = napi_get_reference_value(env, ctor, &fn);
  if (st == napi_ok) st = napi_create_uint32(env, id, &args[1]);
  if (st == napi_ok) st = napi_new_instance(env, fn, 2, args, out);
  return st;
}
}  // namespace

// One JS crossing: every record of every thread, the new slabs, the new objects. Returns false when
// there was nothing to deliver, or when it could not be delivered.
// onEvents(records: Uint32Array, blob: Uint8Array, slabs: ArrayBuffer[], objects: object[])
//
// Every N-API call here is raw and its status checked. This runs on a libuv callback, outside any
// JS call, and a worker's terminate() (from another thread) can stop JS between any two calls: they
// then fail with a status, where node-addon-api would throw a Napi::Error that nothing here catches
// (std::terminate), or abort while building it. Nobody will read the records then: they are
// dropped, with the slab references not yet handed to an ArrayBuffer (those are released by their
// finalizers, like the listener and connection objects already made).
bool HostWrap::deliver_batch() {
  batch_.clear();
  host_->drain(batch_);
  if (batch_.records.empty()) return false;
  trace::point("js_deliver", batch_.records.size());
  napi_env env = Env();
  Napi::HandleScope scope(Env());  // napi_open_handle_scope checks only its arguments
  size_t handed = 0;  // batch_.slabs[0, handed) belong to ArrayBuffers now
  auto drop = [&]() {
    for (size_t i = handed; i < batch_.slabs.size(); i++) io::SlabPool::unref(batch_.slabs[i]);
    batch_.clear();
    surface_exception(env);
    return false;
  };
  size_t nrec = batch_.records.size();
  void* data = nullptr;
  napi_value records_ab, records, blob_ab, blob, slabs, objects;
  if (napi_create_arraybuffer(env, nrec * sizeof(io::Record), &data, &records_ab) != napi_ok) return drop();
  std::memcpy(data, batch_.records.data(), nrec * sizeof(io::Record));
  if (napi_create_typedarray(env, napi_uint32_array, nrec * (sizeof(io::Record) / sizeof(uint32_t)), records_ab, 0, &records) != napi_ok)
    return drop();
  if (napi_create_arraybuffer(env, batch_.blob.size(), &data, &blob_ab) != napi_ok) return drop();
  if (!batch_.blob.empty()) std::memcpy(data, batch_.blob.data(), batch_.blob.size());
  if (napi_create_typedarray(env, napi_uint8_array, batch_.blob.size(), blob_ab, 0, &blob) != napi_ok) return drop();
  if (napi_create_array_with_length(env, batch_.slabs.size(), &slabs) != napi_ok) return drop();
  for (size_t i = 0; i < batch_.slabs.size(); i++) {
    io::Slab* s = batch_.slabs[i];
    napi_value ab;
    // External: JS views the slab in place; the finalizer drops JS's reference (docs/buffer-ownership.md).
    // A call refused at N-API's entry check (JS cannot run) has attached no finalizer: drop() unrefs.
    if (napi_create_external_arraybuffer(
            env, s->data, io::kSlabSize, [](napi_env, void*, void* slab) { io::SlabPool::unref(static_cast<io::Slab*>(slab)); },
            s, &ab) != napi_ok)
      return drop();
    handed = i + 1;
    if (napi_set_element(env, slabs, static_cast<uint32_t>(i), ab) != napi_ok) return drop();
  }
  if (napi_create_array(env, &objects) != napi_ok) return drop();
  uint32_t nobj = 0;
  napi_value self = Value();
  for (const io::Record& r : batch_.records) {
    napi_ref ctor = nullptr;
    if (r.type == static_cast<uint32_t>(io::Ev::kListening)) {
      ctor = instance_->listener_ctor;
    } else if (r.type == static_cast<uint32_t>(io::Ev::kConnOpen)) {
      ctor = instance_->connection_ctor;
    } else if (r.type == static_cast<uint32_t>(io::Ev::kLog) || r.type == static_cast<uint32_t>(io::Ev::kLogDropped)) {
      log_records_++;
    }
    if (ctor == nullptr) continue;
    napi_value obj;
    if (new_child(env, ctor, self, r.conn, &obj) != napi_ok || napi_set_element(env, objects, nobj++, obj) != napi_ok) return drop();
  }
  batch_.clear();
  napi_value argv[4] = {records, blob, slabs, objects};
  napi_value fn, result;
  if (napi_get_reference_value(env, on_events_, &fn) != napi_ok ||
      napi_make_callback(env, *async_context_, self, fn, 4, argv, &result) != napi_ok)
    surface_exception(env);
  trace::point("js_deliver_end");
  return true;
}

}  // namespace l2n::binding
