// optim_avx2.cpp: AdamATan2's element loop on four float64 lanes (AVX2): fast_atan2.h's operations as
// vector operations in the same order (no FMA contraction; every branch of the scalar code computed and
// selected), so the same bits as optim.cpp's scalar loop. Compiled by a target pragma like
// gemm/kernel_avx2.cpp; only C headers after it.
#pragma GCC optimize("fp-contract=off")
#pragma GCC target("avx2")
#include <immintrin.h>

#include "optim_rows.h"

namespace trm {
namespace {

// fast_atan2 of four lanes
inline __m256d fast_atan2_4(__m256d y, __m256d x) {
  using namespace fatan;
  const __m256d sign = _mm256_set1_pd(-0.0), zero = _mm256_setzero_pd(), one = _mm256_set1_pd(1.0);
  const __m256d a = _mm256_andnot_pd(sign, y), b = _mm256_andnot_pd(sign, x);
  const __m256d same = _mm256_cmp_pd(a, b, _CMP_EQ_OQ), a0 = _mm256_cmp_pd(a, zero, _CMP_EQ_OQ);
  const __m256d q = _mm256_blendv_pd(_mm256_div_pd(a, b), _mm256_blendv_pd(one, zero, a0), same);
  const __m256d big = _mm256_cmp_pd(q, _mm256_set1_pd(kT3P8), _CMP_GT_OQ);
  const __m256d mid = _mm256_andnot_pd(big, _mm256_cmp_pd(q, _mm256_set1_pd(kMid), _CMP_GT_OQ));
  const __m256d t = _mm256_blendv_pd(
      _mm256_blendv_pd(q, _mm256_div_pd(_mm256_sub_pd(q, one), _mm256_add_pd(q, one)), mid),
      _mm256_div_pd(_mm256_set1_pd(-1.0), q), big);
  const __m256d base =
      _mm256_blendv_pd(_mm256_blendv_pd(zero, _mm256_set1_pd(kPio4), mid), _mm256_set1_pd(kPio2), big);
  const __m256d more =
      _mm256_blendv_pd(_mm256_blendv_pd(zero, _mm256_set1_pd(0.5 * kMoreBits), mid), _mm256_set1_pd(kMoreBits), big);
  const __m256d z = _mm256_mul_pd(t, t);
  __m256d p = _mm256_add_pd(_mm256_mul_pd(_mm256_set1_pd(kP0), z), _mm256_set1_pd(kP1));
  p = _mm256_add_pd(_mm256_mul_pd(p, z), _mm256_set1_pd(kP2));
  p = _mm256_add_pd(_mm256_mul_pd(p, z), _mm256_set1_pd(kP3));
  p = _mm256_add_pd(_mm256_mul_pd(p, z), _mm256_set1_pd(kP4));
  __m256d qq = _mm256_add_pd(z, _mm256_set1_pd(kQ0));
  qq = _mm256_add_pd(_mm256_mul_pd(qq, z), _mm256_set1_pd(kQ1));
  qq = _mm256_add_pd(_mm256_mul_pd(qq, z), _mm256_set1_pd(kQ2));
  qq = _mm256_add_pd(_mm256_mul_pd(qq, z), _mm256_set1_pd(kQ3));
  qq = _mm256_add_pd(_mm256_mul_pd(qq, z), _mm256_set1_pd(kQ4));
  const __m256d w = _mm256_div_pd(_mm256_mul_pd(z, p), qq);
  const __m256d r = _mm256_add_pd(base, _mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(t, w), t), more));
  const __m256d res = _mm256_blendv_pd(r, _mm256_sub_pd(_mm256_set1_pd(kPi), r), x);  // (x's sign bit)
  return _mm256_or_pd(_mm256_andnot_pd(sign, res), _mm256_and_pd(sign, y));
}

}  // namespace

void adam_atan2_rows_avx2(float* param, float* m, float* v, const float* grad, long lo, long hi,
                          const AdamAtan2Consts& k) {
  const __m256d vc1 = _mm256_set1_pd(k.c1), vc2 = _mm256_set1_pd(k.c2), vstep = _mm256_set1_pd(k.step_size),
                vbc2 = _mm256_set1_pd(k.sqrt_bc2), vdecay = _mm256_set1_pd(k.decay);
  long i = lo;
  for (; i + 4 <= hi; i += 4) {
    const __m256d g = _mm256_cvtps_pd(_mm_loadu_ps(grad + i)), mo = _mm256_cvtps_pd(_mm_loadu_ps(m + i)),
                  vo = _mm256_cvtps_pd(_mm_loadu_ps(v + i)), po = _mm256_cvtps_pd(_mm_loadu_ps(param + i));
    const __m256d mi = _mm256_add_pd(mo, _mm256_mul_pd(vc1, _mm256_sub_pd(g, mo)));
    const __m256d vi = _mm256_add_pd(vo, _mm256_mul_pd(vc2, _mm256_sub_pd(_mm256_mul_pd(g, g), vo)));
    const __m256d x = _mm256_div_pd(_mm256_sqrt_pd(vi), vbc2);
    const __m256d p = _mm256_sub_pd(_mm256_mul_pd(po, vdecay), _mm256_mul_pd(vstep, fast_atan2_4(mi, x)));
    _mm_storeu_ps(param + i, _mm256_cvtpd_ps(p));
    _mm_storeu_ps(m + i, _mm256_cvtpd_ps(mi));
    _mm_storeu_ps(v + i, _mm256_cvtpd_ps(vi));
  }
  for (; i < hi; i++) adam_atan2_element(param, m, v, grad, i, k);
}

}  // namespace trm
