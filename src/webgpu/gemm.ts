/**
 * webgpu/gemm.ts: the WGSL GEMM, C = alpha*op(A)*op(B) + beta*C, row-major, batched by strides
 * (the contract of src/kernels/backend.ts and native/gemm/gemm.h). A workgroup of 16x16
 * invocations computes a (16*TM) x (16*TN) tile of C; each invocation holds a TM x TN register
 * block (rows ty + 16r, columns tx + 16c, so shared-memory reads are broadcasts or consecutive).
 * op(A) and op(B) are staged through workgroup memory in BK-deep slices, loaded along whichever
 * axis is contiguous in memory (the transposes are specializations), zero-padded past the edges
 * so any M, N, K works. grid: x over column tiles, y over row tiles, z over batch items.
 * strideC = 0 with batch > 1 sums every item into one C: each workgroup then walks the batch
 * itself (no atomics, deterministic). beta = 0 never reads C. Device-free.
 */
import type { KernelSpec } from './wgsl.js';

export const BK = 16;

/** The spec for one specialization: transposes and register block (TM = TN = 4 or 8). */
export function gemmSpec(transA: boolean, transB: boolean, T: number): KernelSpec {
  const BM = 16 * T, BN = 16 * T;
  const loadsA = (BM * BK) / 256, loadsB = (BK * BN) / 256;
  // (i, k) of the l-th element this invocation loads, contiguous along the memory's fast axis.
  const aIdx = transA ? `let i = t % ${BM}u; let k = t / ${BM}u + ${256 / BM}u * l;` : `let k = t % ${BK}u; let i = t / ${BK}u + ${256 / BK}u * l;`;
  const aAddr = transA ? 'gk * P.lda + gi' : 'gi * P.lda + gk';
  const bIdx = transB ? `let k = t % ${BK}u; let j = t / ${BK}u + ${256 / BK}u * l;` : `let j = t % ${BN}u; let k = t / ${BN}u + ${256 / BN}u * l;`;
  const bAddr = transB ? 'gj * P.ldb + gk' : 'gk * P.ldb + gj';
  return {
    name: `gemm${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}${T}`,
    tensors: [{ name: 'A', type: 'f32' }, { name: 'B', type: 'f32' }, { name: 'C', type: 'f32', write: true }],
    params: [['M', 'u32'], ['N', 'u32'], ['K', 'u32'], ['lda', 'u32'], ['ldb', 'u32'], ['ldc', 'u32'],
      ['strideA', 'u32'], ['strideB', 'u32'], ['strideC', 'u32'], ['batch', 'u32'], ['sumC', 'u32'], ['alpha', 'f32'], ['beta', 'f32']],
    wg: 256,
    workgroup: '16, 16',
    prelude: `var<workgroup> As: array<f32, ${BK * BM}>;
var<workgroup> Bs: array<f32, ${BK * BN}>;`,
    body: `  let tx = lid.x; let ty = lid.y; let t = ty * 16u + tx;
  let row0 = wid.y * ${BM}u; let col0 = wid.x * ${BN}u;
  var acc: array<f32, ${T * T}>;
  for (var q = 0u; q < ${T * T}u; q++) { acc[q] = 0.0; }
  var b0 = wid.z; var b1 = wid.z + 1u;
  if (P.sumC != 0u) { b0 = 0u; b1 = P.batch; }
  for (var b = b0; b < b1; b++) {
    let aBase = b * P.strideA; let bBase = b * P.strideB;
    for (var k0 = 0u; k0 < P.K; k0 += ${BK}u) {
      for (var l = 0u; l < ${loadsA}u; l++) {
        ${aIdx}
        let gi = row0 + i; let gk = k0 + k;
        var x = 0.0;
        if (gi < P.M && gk < P.K) { x = A[aBase + ${aAddr}]; }
        As[k * ${BM}u + i] = x;
      }
      for (var l = 0u; l < ${loadsB}u; l++) {
        ${bIdx}
        let gj = col0 + j; let gk = k0 + k;
        var x = 0.0;
        if (gj < P.N && gk < P.K) { x = B[bBase + ${bAddr}]; }
        Bs[k * ${BN}u + j] = x;
      }
      workgroupBarrier();
      for (var kk = 0u; kk < ${BK}u; kk++) {
        var a: array<f32, ${T}>; var bv: array<f32, ${T}>;
        for (var r = 0u; r < ${T}u; r++) { a[r] = As[kk * ${BM}u + ty + 16u * r]; }
        for (var c = 0u; c < ${T}u; c++) { bv[c] = Bs[kk * ${BN}u + tx + 16u * c]; }
        for (var r = 0u; r < ${T}u; r++) {
          for (var c = 0u; c < ${T}u; c++) { acc[r * ${T}u + c] = fma(a[r], bv[c], acc[r * ${T}u + c]); }
        }
      }
      workgroupBarrier();
    }
  }
  let cBase = wid.z * P.strideC;
  for (var r = 0u; r < ${T}u; r++) {
    let gi = row0 + ty + 16u * r;
    if (gi >= P.M) { continue; }
    for (var c = 0u; c < ${T}u; c++) {
      let gj = col0 + tx + 16u * c;
      if (gj >= P.N) { continue; }
      let idx = cBase + gi * P.ldc + gj;
      var y = P.alpha * acc[r * ${T}u + c];
      if (P.beta != 0.0) { y += P.beta * C[idx]; }
      C[idx] = y;
    }
  }`,
  };
}

/** Register block for a product: 8x8 (128x128 tiles) when there are enough such tiles to fill a
 *  large GPU (>= 128 workgroups), else 4x4 (64x64 tiles, four times the workgroups). */
export function gemmBlock(M: number, N: number, items: number): 4 | 8 {
  return Math.ceil(M / 128) * Math.ceil(N / 128) * items >= 128 ? 8 : 4;
}
