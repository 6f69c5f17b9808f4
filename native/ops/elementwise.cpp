// elementwise.cpp: add, add3, axpby, scale and the deterministic float64 sum. Memory-bound loops
// written for the auto-vectoriser; scalars are applied in float64 and rounded once on store.
#include <vector>

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

void axpby(float* out, const float* a, const float* b, double alpha, double beta, long n) {
  parallel_for(n, n, [&](long lo, long hi) {
    for (long i = lo; i < hi; i++) out[i] = (float)(alpha * a[i] + beta * b[i]);
  });
}

void scale(float* out, const float* inp, double alpha, long n) {
  parallel_for(n, n, [&](long lo, long hi) {
    for (long i = lo; i < hi; i++) out[i] = (float)(alpha * inp[i]);
  });
}

// The chunk size fixes the summation order; it must not depend on the thread count.
constexpr long kSumChunk = 8192;
constexpr int kSumLanes = 8;

static double sum_chunk(const float* x, long n) {
  double acc[kSumLanes] = {0};
  long i = 0;
  for (; i + kSumLanes <= n; i += kSumLanes)
    for (int j = 0; j < kSumLanes; j++) acc[j] += x[i + j];
  for (; i < n; i++) acc[0] += x[i];
  double s = 0;
  for (int j = 0; j < kSumLanes; j++) s += acc[j];
  return s;
}

double sum(const float* inp, long n) {
  long nchunks = (n + kSumChunk - 1) / kSumChunk;
  std::vector<double> part(nchunks);  // (nchunks) one partial per chunk
  parallel_for(nchunks, n, [&](long lo, long hi) {
    for (long c = lo; c < hi; c++) {
      long c0 = c * kSumChunk, c1 = c0 + kSumChunk < n ? c0 + kSumChunk : n;
      part[c] = sum_chunk(inp + c0, c1 - c0);
    }
  });
  double s = 0;
  for (long c = 0; c < nchunks; c++) s += part[c];
  return s;
}

}  // namespace trm
