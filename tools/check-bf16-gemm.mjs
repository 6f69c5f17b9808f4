#!/usr/bin/env node
/**
 * tools/check-bf16-gemm.mjs [--threads N]: checks the bf16 GEMM this CPU runs (AMX tiles, VDPBF16PS
 * or the emulated rounding), from the built package alone (dist/ and the addon; no test runner), for
 * a machine where the test suite cannot run (a lent GPU host with another CPU kind):
 *   - against a float64 reference on operands rounded to bf16: every transpose, odd K, K across two
 *     k blocks, shared-A batches, summed items (strideC 0), alpha and beta, ld padding untouched;
 *   - 1 thread against N threads, bit for bit;
 *   - with AMX on and off (where the AMX kernel runs): both within the fp32 summation tolerance;
 *   - the fused channel-MLP kernels (SwiGLU in the GEMM epilogues) against gemm + swiglu, bit for bit.
 * Prints one line per check and exits 1 on the first failure.
 */
import { addon, addonError, gemm, setThreads } from '../dist/kernels/index.js';
import { gemmBf16Float64 } from '../dist/kernels/ref/gemm.js';

const threads = Number(process.argv[process.argv.indexOf('--threads') + 1]) || 0;
if (!addon) {
  console.error(`check-bf16-gemm: no native addon: ${addonError ?? 'not built (npm ci)'}`);
  process.exit(1);
}
const info = addon.info();
console.log(`bf16 kernel: ${info.gemmBf16Kernel}; AMX ${info.amx ? 'on' : 'off'}; ${info.threads} threads`);

let seed = 12345;
function randn(n) {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const u = (seed + 0.5) / 2 ** 32;
    seed = (seed * 1103515245 + 12345) >>> 0;
    const v = (seed + 0.5) / 2 ** 32;
    out[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return out;
}
let failures = 0;
function check(name, ok, detail = '') {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
  if (!ok) failures++;
}
const same = (a, b) =>
  Buffer.compare(
    Buffer.from(a.buffer, a.byteOffset, a.byteLength),
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  ) === 0;

const refBf16 = gemmBf16Float64;
function worst(got, want, rtol, atol) {
  let w = 0;
  for (let i = 0; i < want.length; i++) w = Math.max(w, Math.abs(got[i] - want[i]) / (atol + rtol * Math.abs(want[i])));
  return w; // <= 1: within tolerance
}

const shapes = [
  [1, 1, 1],
  [7, 97, 513],
  [37, 45, 71],
  [30, 257, 1100],
  [14, 32, 2],
  [16, 32, 32],
  [33, 65, 97],
  [97, 512, 17],
  [200, 130, 2100],
];
for (const [M, N, K] of shapes)
  for (const ta of [false, true])
    for (const tb of [false, true]) {
      const lda = (ta ? M : K) + 3,
        ldb = (tb ? K : N) + 1,
        ldc = N + 2;
      const A = randn((ta ? K : M) * lda),
        B = randn((tb ? N : K) * ldb),
        C = randn(M * ldc),
        C0 = C.slice();
      gemm({ transA: ta, transB: tb, M, N, K, alpha: 0.75, beta: -0.5, A, lda, B, ldb, C, ldc, precision: 'bf16' });
      const want = refBf16(ta, tb, M, N, K, 0.75, A, lda, B, ldb, -0.5, C0, ldc);
      const got = new Float64Array(M * N);
      let pad = true;
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) got[i * N + j] = C[i * ldc + j];
        for (let j = N; j < ldc; j++) pad &&= C[i * ldc + j] === C0[i * ldc + j];
      }
      const w = worst(got, want, 1e-5, 1e-6 + 2e-6 * K);
      check(
        `${ta ? 'T' : 'N'}${tb ? 'T' : 'N'} ${M}x${N}x${K} vs float64 on bf16 operands`,
        w <= 1 && pad,
        `worst ${w.toFixed(3)} of the tolerance${pad ? '' : ', padding written'}`,
      );
    }

{
  const M = 29,
    N = 37,
    K = 41,
    batch = 6;
  const A = randn(M * K),
    B = randn(batch * K * N);
  const C = new Float32Array(batch * M * N);
  gemm({ M, N, K, A, B, C, batch, strideA: 0, strideB: K * N, strideC: M * N, precision: 'bf16' });
  const S = randn(M * N),
    S0 = S.slice();
  gemm({ M, N, K, A, B, C: S, batch, strideA: 0, strideB: K * N, strideC: 0, beta: 1, precision: 'bf16' });
  const sum = new Float64Array(M * N);
  let w = 0;
  for (let b = 0; b < batch; b++) {
    const want = refBf16(false, false, M, N, K, 1, A, K, B.subarray(b * K * N), N, 0, C, N);
    w = Math.max(w, worst(C.subarray(b * M * N, (b + 1) * M * N), want, 1e-5, 2e-5));
    for (let i = 0; i < M * N; i++) sum[i] += want[i];
  }
  for (let i = 0; i < M * N; i++) sum[i] += S0[i];
  w = Math.max(w, worst(S, sum, 1e-5, 1e-4));
  check('batched: shared A, summed items (strideC 0)', w <= 1, `worst ${w.toFixed(3)} of the tolerance`);
}

const nth = threads || info.threads;
for (const c of [
  { M: 1000, N: 300, K: 1301, transA: false, transB: true },
  { M: 97, N: 1030, K: 601, transA: true, transB: false },
  { M: 64, N: 96, K: 97, batch: 12, transA: false, transB: false, strideA: 0 },
  { M: 3104, N: 3072, K: 512, transA: false, transB: true },
]) {
  const batch = c.batch ?? 1;
  const A = randn(batch * c.M * c.K),
    B = randn(batch * c.K * c.N),
    C1 = randn(batch * c.M * c.N);
  const out = [];
  for (const th of [1, nth]) {
    setThreads(th);
    const C = C1.slice();
    gemm({ ...c, A, B, C, beta: 0.25, batch, precision: 'bf16' });
    out.push(C);
  }
  check(`1 and ${nth} threads bit for bit, ${c.M}x${c.N}x${c.K}${batch > 1 ? ` x${batch}` : ''}`, same(out[0], out[1]));
}
setThreads(nth);

if (info.amx) {
  for (const [M, N, K] of [
    [3104, 3072, 512],
    [97, 512, 97],
    [64, 64, 17],
  ]) {
    const A = randn(M * K),
      B = randn(K * N),
      on = new Float32Array(M * N),
      off = new Float32Array(M * N);
    gemm({ M, N, K, A, B, C: on, precision: 'bf16' });
    addon.setAmx(false);
    gemm({ M, N, K, A, B, C: off, precision: 'bf16' });
    addon.setAmx(true);
    const w = worst(on, Float64Array.from(off), 1e-5, 1e-6 + 4e-6 * K);
    check(`AMX vs VDPBF16PS ${M}x${N}x${K}`, w <= 1, `worst ${w.toFixed(3)} of the tolerance`);
  }
} else console.log('skip AMX vs VDPBF16PS: the AMX kernel does not run here');

{
  // the channel MLP's fused gate_up (SwiGLU in the epilogue) against gemm + swiglu, bf16
  const N = 776,
    D = 512,
    I = 1536;
  const X = randn(N * D),
    W = randn(2 * I * D).map(v => v * 0.05),
    out = new Float32Array(N * I),
    gu = new Float32Array(N * 2 * I);
  addon.linearSwiglu(out, gu, X, W, N, D, I, true, true);
  const gu2 = new Float32Array(N * 2 * I);
  gemm({ M: N, N: 2 * I, K: D, A: X, B: W, C: gu2, transB: true, precision: 'bf16' });
  check("fused channel gate_up keeps gemm's [G | U] bit for bit (bf16)", same(gu, gu2));
  // bf16's SwiGLU epilogue uses a fast exp (within a few ulp of swigluForward's), so: within 1e-5
  const ref = new Float32Array(N * I);
  addon.swigluForward(ref, gu2, N, I);
  const w = worst(out, Float64Array.from(ref), 1e-5, 1e-6);
  check('fused channel gate_up: silu(G) * U as swigluForward', w <= 1, `worst ${w.toFixed(3)} of the tolerance`);
}
console.log(failures ? `${failures} check(s) FAILED` : 'all bf16 GEMM checks passed');
process.exit(failures ? 1 : 0);
