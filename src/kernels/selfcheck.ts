/**
 * selfcheck.ts: runs every kernel of the shared case table (cases.ts) on the native backend and
 * on the TypeScript reference with the same inputs and reports the largest difference of every
 * output. Used by `trm selfcheck` (and CI) to show, on the user's machine, that the compiled
 * kernels agree with the readable ones. (The test suite checks both against float64 and finite
 * differences.)
 *
 * Tolerances follow the error of float32 arithmetic, not a fixed relative difference: a GEMM
 * output is a sum of K products, so its rounding error scales with K and with sum_k |a_ik b_kj|
 * (the operands' magnitude), however close to zero the sum itself lands; an output near zero by
 * cancellation may differ from the float64 reference by far more than 1e-4 of itself and still be
 * exact to float32. GEMM outputs are therefore compared per element against
 * c * K * 2^-24 * (|alpha| sum_k |a_ik||b_kj| + |beta||c_ij|), as test/kernels does with atol ~ sqrt(K).
 * Cases that run GEMMs inside another kernel (the fused half-blocks) declare a tolerance (rtol > 0)
 * and are held to it: |native - reference| <= atol + rtol |reference| per element (tol 1).
 */
import type { KernelBackend } from './backend.js';
import type { Device } from './device.js';
import { type Arr, type KernelCase, kernelCases } from './cases.js';
import { refBackend } from './ref/index.js';
import { nativeBackend } from './select.js';

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

const absF = (a: unknown) => Float32Array.from(a as Float32Array, Math.abs);

/** Per-element scale of a gemm output: |alpha| sum_k |a_ik||b_kj| + |beta||c_ij| (the reference gemm on absolute values). */
export function gemmErrorScale(args: unknown[]): Float32Array {
  const [tA, tB, M, N, K, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC, batch] = args as [
    boolean,
    boolean,
    number,
    number,
    number,
    number,
    Float32Array,
    number,
    number,
    Float32Array,
    number,
    number,
    number,
    Float32Array,
    number,
    number,
    number,
  ];
  const out = absF(C);
  refBackend.gemm(
    tA,
    tB,
    M,
    N,
    K,
    Math.abs(alpha),
    absF(A),
    lda,
    sA,
    absF(B),
    ldb,
    sB,
    Math.abs(beta),
    out,
    ldc,
    sC,
    batch,
  );
  return out;
}

/** max_i |a_i - b_i| / scale_i (scale floored at the smallest normal float32); NaN counts as Infinity. */
export function maxScaledDiff(a: ArrayLike<number>, b: ArrayLike<number>, scale: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]) / Math.max(scale[i], 2 ** -126);
    if (!(d <= worst)) worst = d;
  }
  return Number.isNaN(worst) ? Infinity : worst;
}

function maxRelDiff(a: Arr, b: Arr): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]) / (1e-3 + Math.abs(b[i]));
    if (!(d <= worst)) worst = d; // NaN propagates as Infinity-like failure
  }
  return Number.isNaN(worst) ? Infinity : worst;
}

/** max_i |a_i - b_i| / (atol + rtol |b_i|): at most 1 within the case's declared tolerance. */
function maxTolDiff(a: Arr, b: Arr, rtol: number, atol: number): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]) / (atol + rtol * Math.abs(b[i]));
    if (!(d <= worst)) worst = d;
  }
  return Number.isNaN(worst) ? Infinity : worst;
}

function call(be: KernelBackend, c: KernelCase, args: unknown[]): void {
  (be[c.name] as (...a: unknown[]) => unknown).apply(be, args);
}

/** Compare native against the reference kernel by kernel; empty if the addon did not load. */
export function selfCheck(tol = 1e-4): SelfCheckResult[] {
  if (!nativeBackend) return [];
  const results: SelfCheckResult[] = [];
  for (const c of kernelCases) {
    const gemm = c.name === 'gemm' || c.name === 'gemmBf16',
      declared = !gemm && (c.rtol ?? 0) > 0;
    // the fused SwiGLU GEMMs: silu(g) * u (or its gradients) of K-long fp32 sums (the reference sums in float64), compared element
    // by element: the tolerance of a reduction (as on a GPU below), not of an elementwise kernel
    const t = gemm
      ? GEMM_SLACK * (c.args()[4] as number) * U32
      : declared
        ? 1
        : ['gemmSwiglu', 'linearSwiglu', 'linearSwigluBackward', 'gemmSwigluBackward'].includes(c.name)
          ? Math.max(tol, 1e-3)
          : tol;
    try {
      const a1 = c.args(),
        a2 = c.args(),
        scale = gemm ? gemmErrorScale(c.args()) : null;
      call(nativeBackend, c, a1);
      call(refBackend, c, a2);
      let diff = 0;
      for (const i of c.out)
        diff = Math.max(
          diff,
          scale
            ? maxScaledDiff(a1[i] as Arr, a2[i] as Arr, scale)
            : declared
              ? maxTolDiff(a1[i] as Arr, a2[i] as Arr, c.rtol!, c.atol ?? 0)
              : maxRelDiff(a1[i] as Arr, a2[i] as Arr),
        );
      results.push({ kernel: c.name, maxRelDiff: diff, tol: t, ok: diff <= t });
    } catch (e) {
      results.push({ kernel: c.name, maxRelDiff: Infinity, tol: t, ok: false, error: (e as Error).message });
    }
  }
  return results;
}

/** Any device (e.g. webgpu) against the reference on the same cases: arguments are uploaded, the
 *  outputs read back. Element-wise tolerances as above; fp32 reductions on a GPU get 1e-3. */
export async function selfCheckDevice(dev: Device): Promise<SelfCheckResult[]> {
  const results: SelfCheckResult[] = [];
  const up = (a: unknown): unknown => {
    if (!(a instanceof Float32Array || a instanceof Int32Array || a instanceof Uint8Array)) return a;
    const t =
      a instanceof Float32Array ? dev.f32(a.length) : a instanceof Int32Array ? dev.i32(a.length) : dev.u8(a.length);
    dev.write(t, a);
    return t;
  };
  for (const c of kernelCases) {
    const gemm = c.name === 'gemm' || c.name === 'gemmBf16',
      declared = !gemm && (c.rtol ?? 0) > 0;
    // a declared tolerance gets the GPU's 10x on fp32 reductions too
    const t = gemm ? GEMM_SLACK * (c.args()[4] as number) * U32 : declared ? 10 : c.reduce ? 1e-3 : 1e-4;
    try {
      const want = c.args(),
        args = c.args().map(up),
        scale = gemm ? gemmErrorScale(c.args()) : null;
      call(refBackend, c, want);
      (dev[c.name] as (...a: unknown[]) => unknown).apply(dev, args);
      let diff = 0;
      for (const i of c.out) {
        const got = (await dev.read(args[i] as never)) as Arr;
        diff = Math.max(
          diff,
          scale
            ? maxScaledDiff(got, want[i] as Arr, scale)
            : declared
              ? maxTolDiff(got, want[i] as Arr, c.rtol!, c.atol ?? 0)
              : maxRelDiff(got, want[i] as Arr),
        );
      }
      results.push({ kernel: c.name, maxRelDiff: diff, tol: t, ok: diff <= t });
    } catch (e) {
      results.push({ kernel: c.name, maxRelDiff: Infinity, tol: t, ok: false, error: (e as Error).message });
    }
  }
  return results;
}
