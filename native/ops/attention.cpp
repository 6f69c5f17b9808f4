// attention.cpp: the non-GEMM parts of self-attention (reference/trm-algorithm.md 2.3): row softmax
// and rotary position embedding in the GPT-NeoX rotate-half form of the official code
// (layers.py: apply_rotary_pos_emb), out = x * cos + rotate_half(x) * sin with
// rotate_half(x) = [-x2, x1]:
//   out[i]        = x[i] * cos[s, i]               - x[i + half] * sin[s, i]
//   out[i + half] = x[i + half] * cos[s, i + half] + x[i] * sin[s, i + half]       (i < half)
// The backward applies the transposed rotation. Both may run in place.
#include <cmath>

#include "ops.h"

namespace trm {

void softmax_forward(float* out, const float* inp, long N, long V) {
  parallel_for(N, N * V, [&](long lo, long hi) {
    for (long i = lo; i < hi; i++) {
      const float* x = inp + i * V;
      float* y = out + i * V;
      float mx = -INFINITY;
      for (long j = 0; j < V; j++) mx = x[j] > mx ? x[j] : mx;
      double sum = 0;
      for (long j = 0; j < V; j++) {
        double e = std::exp((double)x[j] - mx);
        y[j] = (float)e;
        sum += e;
      }
      float inv = (float)(1.0 / sum);
      for (long j = 0; j < V; j++) y[j] *= inv;
    }
  });
}

void softmax_backward(float* dinp, const float* dout, const float* out, long N, long V) {
  parallel_for(N, N * V, [&](long lo, long hi) {
    for (long i = lo; i < hi; i++) {
      const float* dy = dout + i * V;
      const float* y = out + i * V;
      float* dx = dinp + i * V;
      double dot = dot_f64(dy, y, V);
      for (long j = 0; j < V; j++) dx[j] = (float)(dx[j] + y[j] * (dy[j] - dot));
    }
  });
}

// transpose = false applies R (forward), true applies R^T (backward), which moves the minus sign.
static void rope_apply(float* out, const float* inp, const float* cos, const float* sin,
                       long B, long S, long H, long Dh, bool transpose) {
  long half = Dh / 2, rows = B * S * H;
  parallel_for(rows, rows * Dh, [&](long lo, long hi) {
    for (long r = lo; r < hi; r++) {
      long s = (r / H) % S;
      const float* x = inp + r * Dh;
      const float* c = cos + s * Dh;
      const float* sn = sin + s * Dh;
      float* y = out + r * Dh;
      for (long i = 0; i < half; i++) {
        float x1 = x[i], x2 = x[i + half];
        if (!transpose) {
          y[i] = x1 * c[i] - x2 * sn[i];
          y[i + half] = x2 * c[i + half] + x1 * sn[i + half];
        } else {
          y[i] += x1 * c[i] + x2 * sn[i + half];
          y[i + half] += x2 * c[i + half] - x1 * sn[i];
        }
      }
    }
  });
}

void rope_forward(float* out, const float* inp, const float* cos, const float* sin, long B, long S, long H, long Dh) {
  rope_apply(out, inp, cos, sin, B, S, H, Dh, false);
}

void rope_backward(float* dinp, const float* dout, const float* cos, const float* sin, long B, long S, long H, long Dh) {
  rope_apply(dinp, dout, cos, sin, B, S, H, Dh, true);
}

}  // namespace trm
