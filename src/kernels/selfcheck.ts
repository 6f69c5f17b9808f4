/**
 * selfcheck.ts: runs every kernel on the native backend and on the TypeScript reference with the
 * same random inputs and reports the largest relative difference of every output. Used by
 * `trm demo` and `trm selfcheck` to show, on the user's machine, that the compiled kernels agree
 * with the readable ones. (The test suite checks both against float64 and finite differences.)
 *
 * Tolerances follow the error of float32 arithmetic, not a fixed relative difference: a GEMM
 * output is a sum of K products, so its rounding error scales with K and with sum_k |a_ik b_kj|
 * (the operands' magnitude), however close to zero the sum itself lands; an output near zero by
 * cancellation may differ from the float64 reference by far more than 1e-4 of itself and still be
 * exact to float32. GEMM outputs are therefore compared per element against
 * c * K * 2^-24 * (|alpha| sum_k |a_ik||b_kj| + |beta||c_ij|), as test/kernels does with atol ~ sqrt(K).
 */
import type { KernelBackend } from './backend.js';
import { nativeBackend, refBackend } from './select.js';

export interface SelfCheckResult {
  kernel: string;
  /** largest |native - reference| over the error scale of that output (see the file comment) */
  maxRelDiff: number;
  /** the bound maxRelDiff is held to */
  tol: number;
  ok: boolean;
  error?: string;
}

/** Unit roundoff of float32. */
const U32 = 2 ** -24;
/** Headroom over the worst-case K * u growth actually seen (blocked FMA sums stay near sqrt(K) * u). */
const GEMM_SLACK = 8;

function rand(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = ((x / 4294967296) * 2 - 1) * scale;
  }
  return out;
}
function ints(n: number, seed: number, hi: number): Int32Array {
  const r = rand(n, seed);
  return Int32Array.from(r, v => Math.min(hi - 1, Math.floor((v + 1) / 2 * hi)));
}

type Arr = Float32Array | Int32Array | Uint8Array;
/**
 * A case builds fresh arguments; `outs` are the argument positions whose contents are compared.
 * `scale` (with `tol`) gives each output's error scale from the arguments before the call.
 */
interface Case { kernel: keyof KernelBackend; args: () => unknown[]; outs: number[]; tol?: number; scale?: (args: unknown[]) => Float32Array }

const absF = (a: unknown) => Float32Array.from(a as Float32Array, Math.abs);

/** Per-element scale of a gemm output: |alpha| sum_k |a_ik||b_kj| + |beta||c_ij| (the reference gemm on absolute values). */
export function gemmErrorScale(args: unknown[]): Float32Array {
  const [tA, tB, M, N, K, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC, batch] = args as [boolean, boolean, number, number, number, number, Float32Array, number, number, Float32Array, number, number, number, Float32Array, number, number, number];
  const out = absF(C);
  refBackend.gemm(tA, tB, M, N, K, Math.abs(alpha), absF(A), lda, sA, absF(B), ldb, sB, Math.abs(beta), out, ldc, sC, batch);
  return out;
}
const gemmTol = (K: number) => GEMM_SLACK * K * U32;

/** max_i |a_i - b_i| / scale_i (scale floored at the smallest normal float32); NaN counts as Infinity. */
export function maxScaledDiff(a: ArrayLike<number>, b: ArrayLike<number>, scale: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]) / Math.max(scale[i], 2 ** -126);
    if (!(d <= worst)) worst = d;
  }
  return Number.isNaN(worst) ? Infinity : worst;
}

const N = 97, D = 67, V = 11, B = 3, S = 13, H = 5, Dh = 8;
const cases: Case[] = [
  { kernel: 'gemm', args: () => [false, true, 37, 45, 71, 0.5, rand(37 * 71, 1), 71, 0, rand(45 * 71, 2), 71, 0, 0.25, rand(37 * 45, 3), 45, 0, 1], outs: [13], scale: gemmErrorScale, tol: gemmTol(71) },
  { kernel: 'gemm', args: () => [true, false, 29, 33, 97, 1, rand(97 * 29, 4), 29, 0, rand(97 * 33, 5), 33, 0, 0, new Float32Array(29 * 33), 33, 0, 1], outs: [13], scale: gemmErrorScale, tol: gemmTol(97) },
  { kernel: 'add', args: () => [new Float32Array(N * D), rand(N * D, 1), rand(N * D, 2), N * D], outs: [0] },
  { kernel: 'add3', args: () => [new Float32Array(N * D), rand(N * D, 1), rand(N * D, 2), rand(N * D, 3), N * D], outs: [0] },
  { kernel: 'axpby', args: () => [new Float32Array(N * D), rand(N * D, 1), rand(N * D, 2), 0.3, -1.7, N * D], outs: [0] },
  { kernel: 'scale', args: () => [new Float32Array(N * D), rand(N * D, 1), 1.5, N * D], outs: [0] },
  { kernel: 'rmsnormForward', args: () => [new Float32Array(N * D), new Float32Array(N), rand(N * D, 1), N, D, 1e-5], outs: [0, 1] },
  { kernel: 'rmsnormBackward', args: () => [new Float32Array(N * D), rand(N * D, 2), rand(N * D, 3), rand(N, 4), N, D], outs: [0] },
  { kernel: 'rmsnormSeqForward', args: () => [new Float32Array(B * S * D), new Float32Array(B * D), rand(B * S * D, 1), B, S, D, 1e-5], outs: [0, 1] },
  { kernel: 'rmsnormSeqBackward', args: () => [new Float32Array(B * S * D), rand(B * S * D, 2), rand(B * S * D, 3), rand(B * D, 4), B, S, D], outs: [0] },
  { kernel: 'swigluForward', args: () => [new Float32Array(N * D), rand(N * 2 * D, 1, 3), N, D], outs: [0] },
  { kernel: 'swigluBackward', args: () => [new Float32Array(N * 2 * D), rand(N * D, 2), rand(N * 2 * D, 1, 3), N, D], outs: [0] },
  { kernel: 'embeddingForward', args: () => [new Float32Array(N * D), ints(N, 1, V), rand(V * D, 2), N, D, V, 2.0], outs: [0] },
  { kernel: 'embeddingBackward', args: () => [rand(V * D, 3), rand(N * D, 4), ints(N, 1, V), N, D, V, 0.5], outs: [0] },
  { kernel: 'stablemaxCeForward', args: () => [new Float32Array(N), rand(N * V, 1, 20), ints(N, 2, V).map((v, i) => (i % 7 === 0 ? -100 : v)), N, V, -100], outs: [0] },
  { kernel: 'stablemaxCeBackward', args: () => [new Float32Array(N * V), rand(N, 3), rand(N * V, 1, 20), ints(N, 2, V).map((v, i) => (i % 7 === 0 ? -100 : v)), N, V, -100], outs: [0] },
  { kernel: 'bceLogitsForward', args: () => [new Float32Array(N), rand(N, 1, 30), rand(N, 2).map(v => (v > 0 ? 1 : 0)), N], outs: [0] },
  { kernel: 'bceLogitsBackward', args: () => [new Float32Array(N), rand(N, 3), rand(N, 1, 30), rand(N, 2).map(v => (v > 0 ? 1 : 0)), N], outs: [0] },
  { kernel: 'argmax', args: () => [new Int32Array(N), rand(N * V, 1), N, V], outs: [0] },
  { kernel: 'matchCounts', args: () => [new Uint8Array(B), new Int32Array(2 * B), ints(B * S, 1, 3), ints(B * S, 2, 3).map((v, i) => (i % 5 === 0 ? -100 : v)), B, S, -100], outs: [0, 1] },
  { kernel: 'softmaxForward', args: () => [new Float32Array(N * V), rand(N * V, 1, 10), N, V], outs: [0] },
  { kernel: 'softmaxBackward', args: () => [new Float32Array(N * V), rand(N * V, 2), rand(N * V, 3).map(Math.abs), N, V], outs: [0] },
  { kernel: 'ropeForward', args: () => [new Float32Array(B * S * H * Dh), rand(B * S * H * Dh, 1), rand(S * Dh, 2), rand(S * Dh, 3), B, S, H, Dh], outs: [0] },
  { kernel: 'ropeBackward', args: () => [new Float32Array(B * S * H * Dh), rand(B * S * H * Dh, 1), rand(S * Dh, 2), rand(S * Dh, 3), B, S, H, Dh], outs: [0] },
  { kernel: 'adamAtan2Step', args: () => [rand(N * D, 1), rand(N * D, 2, 0.1), rand(N * D, 3, 0.1).map(Math.abs), rand(N * D, 4), N * D, 1e-3, 0.9, 0.95, 0.1, 3], outs: [0, 1, 2] },
  { kernel: 'adamwStep', args: () => [rand(N * D, 1), rand(N * D, 2, 0.1), rand(N * D, 3, 0.1).map(Math.abs), rand(N * D, 4), N * D, 1e-3, 0.9, 0.95, 1e-8, 0.1, 3], outs: [0, 1, 2] },
  { kernel: 'signSgdStep', args: () => [rand(N * D, 1), rand(N * D, 2), N * D, 1e-2, 0.1], outs: [0] },
  { kernel: 'emaUpdate', args: () => [rand(N * D, 1), rand(N * D, 2), N * D, 0.999], outs: [0] },
];

function maxRelDiff(a: Arr, b: Arr): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]) / (1e-3 + Math.abs(b[i]));
    if (!(d <= worst)) worst = d;  // NaN propagates as Infinity-like failure
  }
  return Number.isNaN(worst) ? Infinity : worst;
}

function call(be: KernelBackend, c: Case, args: unknown[]): unknown {
  return (be[c.kernel] as (...a: unknown[]) => unknown).apply(be, args);
}

/** Compare native against the reference kernel by kernel; empty if the addon did not load. */
export function selfCheck(tol = 1e-4): SelfCheckResult[] {
  if (!nativeBackend) return [];
  const results: SelfCheckResult[] = [];
  for (const c of cases) {
    try {
      const a1 = c.args(), a2 = c.args();
      const scale = c.scale?.(c.args());
      const r1 = call(nativeBackend, c, a1), r2 = call(refBackend, c, a2);
      let diff = 0;
      for (const i of c.outs) diff = Math.max(diff, scale ? maxScaledDiff(a1[i] as Arr, a2[i] as Arr, scale) : maxRelDiff(a1[i] as Arr, a2[i] as Arr));
      if (typeof r1 === 'number' && typeof r2 === 'number') diff = Math.max(diff, Math.abs(r1 - r2) / (1e-3 + Math.abs(r2)));
      const t = c.tol ?? tol;
      results.push({ kernel: c.kernel, maxRelDiff: diff, tol: t, ok: diff <= t });
    } catch (e) {
      results.push({ kernel: c.kernel, maxRelDiff: Infinity, tol: c.tol ?? tol, ok: false, error: (e as Error).message });
    }
  }
  // sum has no output array: compare the returned value (the native sum accumulates in double).
  const x = rand(100003, 9);
  const s1 = nativeBackend.sum(x, x.length), s2 = refBackend.sum(x, x.length);
  const d = Math.abs(s1 - s2) / (1e-3 + Math.abs(s2));
  results.push({ kernel: 'sum', maxRelDiff: d, tol, ok: d <= tol });
  return results;
}
