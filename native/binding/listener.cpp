// Listener: the JS handle of one listening socket (created by Host on kListening). A listener
// dropped without close() is closed by its finalizer.
#include "binding/host_child.h"

namespace l2n::binding {
namespace {
struct ListenerTraits {
  static constexpr const char* kName = "Listener";
  static constexpr const napi_type_tag& kTag = kListenerTag;
  static constexpr io::Op kCloseOp = io::Op::kCloseListener;
  static constexpr bool kGraceful = false;
};
using ListenerWrap = HostChildWrap<ListenerTraits>;
}  // namespace

Napi::Function InitListener(Napi::Env env) { return ListenerWrap::Define(env); }

}  // namespace l2n::binding
