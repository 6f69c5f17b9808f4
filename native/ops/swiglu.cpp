// swiglu.cpp: the gated activation of the SwiGLU MLP (reference/trm-algorithm.md 2.2):
// out = silu(gate) * up, where row r of gateUp (N, 2H) is [gate (H) | up (H)].
// Backward overwrites dgateUp: dgate = dout * up * sig * (1 + gate * (1 - sig)), dup = dout * silu(gate).
#include <cmath>

#include "ops.h"

namespace trm {

void swiglu_forward(float* out, const float* gate_up, long N, long H) {
  parallel_for(N, N * H, [&](long lo, long hi) {
    for (long i = lo; i < hi; i++) {
      const float* g = gate_up + i * 2 * H;
      const float* u = g + H;
      float* y = out + i * H;
      for (long h = 0; h < H; h++) y[h] = g[h] / (1.0f + std::exp(-g[h])) * u[h];
    }
  });
}

void swiglu_backward(float* dgate_up, const float* dout, const float* gate_up, long N, long H) {
  parallel_for(N, N * H, [&](long lo, long hi) {
    for (long i = lo; i < hi; i++) {
      const float* g = gate_up + i * 2 * H;
      const float* u = g + H;
      const float* dy = dout + i * H;
      float* dg = dgate_up + i * 2 * H;
      float* du = dg + H;
      for (long h = 0; h < H; h++) {
        float sig = 1.0f / (1.0f + std::exp(-g[h]));
        float gu = g[h], up = u[h], d = dy[h];
        dg[h] += d * up * sig * (1.0f + gu * (1.0f - sig));
        du[h] += d * gu * sig;
      }
    }
  });
}

}  // namespace trm
