// elementwise.cpp: add, add3, and the bias add with its backward (column sums in float64, rows in
// order, so the result does not depend on the thread count). Memory-bound loops written for the
// auto-vectoriser.

#include "ops.h"

namespace trm {

void add(float* out, const float* a, const float* b, long n) {
  parallel_for(n, n, [&](long lo, long hi) {
    for (long i = lo; i < hi; i++) out[i] = a[i] + b[i];
  });
}

void add3(float* out, const float* a, const float* b, const float* c, long n) {
  parallel_for(n, n, [&](long lo, long hi) {
    for (long i = lo; i < hi; i++) out[i] = (a[i] + b[i]) + c[i];
  });
}

void add_bias(float* out, const float* bias, long N, long C) {
  parallel_for(N, N * C, [&](long lo, long hi) {
    for (long n = lo; n < hi; n++)
      for (long c = 0; c < C; c++) out[n * C + c] += bias[c];
  });
}

void bias_backward(float* dbias, const float* dout, long N, long C) {
  parallel_for(C, N * C, [&](long lo, long hi) {
    for (long c = lo; c < hi; c++) {
      double s = 0;
      for (long n = 0; n < N; n++) s += dout[n * C + c];
      dbias[c] = (float)(dbias[c] + s);
    }
  });
}

}  // namespace trm
