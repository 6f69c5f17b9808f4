// embedding.cpp: scaled table lookup, out[i] = scale * table[ids[i]], and its backward
// dtable[ids[i]] += scale * dout[i]. The backward splits the D columns across threads and walks the
// rows in order inside each, so repeated ids accumulate in the same order for any thread count.
// The scale is applied in float64 and rounded once on store.
#include "ops.h"

namespace trm {

long first_bad_id(const int32_t* ids, long N, long V) {
  for (long i = 0; i < N; i++)
    if (ids[i] < 0 || ids[i] >= V) return i;
  return -1;
}

void embedding_forward(float* out, const int32_t* ids, const float* table, long N, long D, double scale) {
  parallel_for(N, N * D, [&](long lo, long hi) {
    for (long i = lo; i < hi; i++) {
      const float* row = table + (long)ids[i] * D;
      float* y = out + i * D;
      for (long d = 0; d < D; d++) y[d] = (float)(scale * row[d]);
    }
  });
}

void embedding_backward(float* dtable, const float* dout, const int32_t* ids, long N, long D, double scale) {
  parallel_for(D, N * D, [&](long lo, long hi) {
    for (long i = 0; i < N; i++) {
      float* g = dtable + (long)ids[i] * D;
      const float* dy = dout + i * D;
      for (long d = lo; d < hi; d++) g[d] = (float)(g[d] + scale * dy[d]);
    }
  });
}

}  // namespace trm
