// Connection: the JS handle of one upgraded connection (created by Host on kConnOpen). Stream
// traffic goes through Host.submit() batches; close() here is the rare, direct path: graceful
// sends go-away and flushes, otherwise abort. A connection collected while open is aborted.
#include "binding/host_child.h"

namespace l2n::binding {
namespace {
struct ConnectionTraits {
  static constexpr const char* kName = "Connection";
  static constexpr const napi_type_tag& kTag = kConnectionTag;
  static constexpr io::Op kCloseOp = io::Op::kCloseConn;
  static constexpr bool kGraceful = true;
};
using ConnectionWrap = HostChildWrap<ConnectionTraits>;
}  // namespace

Napi::Function InitConnection(Napi::Env env) { return ConnectionWrap::Define(env); }

}  // namespace l2n::binding
