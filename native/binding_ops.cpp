// binding_ops.cpp: Node-API entry points of the fused elementwise kernels in ops/.
#include "napi_util.h"

namespace trm {

void register_ops(Napi::Env env, Napi::Object exports) {
  (void)env;
  (void)exports;
}

}  // namespace trm
