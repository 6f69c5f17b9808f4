/**
 * ops-helpers.ts: shared pieces of the ops*.test.ts suites: the backends to run each suite on,
 * float64 central finite differences for checking backward kernels, and the item sums' operands and
 * their check against the reference.
 */
import { expect } from 'vitest';
import { addon, nativeBackend, refBackend, setThreads, useBackend } from '../../src/kernels/index.js';
import { randn } from '../helpers.js';

/** Every available backend, for describe.each; setup() makes it the active one. */
export const backends = [
  ...(nativeBackend ? [{ label: 'native', setup: () => useBackend('native') }] : []),
  { label: 'ref', setup: () => useBackend('ref') },
];

/** The native dispatch paths this CPU runs (best first), for suites that test each one. */
export const nativePaths = addon ? (['avx512', 'avx2', 'portable'] as const).filter(p => addon!.setIsa(p)) : [];
if (addon) addon.setIsa(addon.info().bestIsa);

/** Each native path as its own backend, then the TypeScript reference. */
export const pathBackends = [
  ...nativePaths.map(p => ({
    label: `native ${p}`,
    setup: () => {
      useBackend('native');
      addon!.setIsa(p);
    },
  })),
  { label: 'ref', setup: () => useBackend('ref') },
];

/** Restores the default backend after a suite. */
export function restoreBackend(): void {
  if (nativeBackend) useBackend('native');
}

/** Central-difference gradient of sum(w * f(x)) with respect to x, all in float64. */
export function fdGrad(
  f: (x: Float64Array) => ArrayLike<number>,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  h = 1e-6,
): Float64Array {
  const xp = Float64Array.from(x),
    g = new Float64Array(x.length);
  const L = (): number => {
    const y = f(xp);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += w[i] * y[i];
    return s;
  };
  for (let i = 0; i < xp.length; i++) {
    const x0 = xp[i];
    xp[i] = x0 + h;
    const lp = L();
    xp[i] = x0 - h;
    const lm = L();
    xp[i] = x0;
    g[i] = (lp - lm) / (2 * h);
  }
  return g;
}

/** Random integers in [0, n) (and `ignore` with probability pIgnore), from a seeded rng. */
export function randInts(count: number, n: number, r: () => number, ignore?: number, pIgnore = 0): Int32Array {
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) out[i] = ignore !== undefined && r() < pIgnore ? ignore : Math.floor(r() * n);
  return out;
}

/** Seeded operands of an item sum C = beta*C + sum over items of A_b B_b^T (gemmSumNT, gemmSumNTBf16):
 *  items spaced by more than one product (strides > M*K, N*K), as the token mixer's operands are not. */
export function sumNtArgs(M: number, N: number, K: number, batch: number, beta: number) {
  const sa = M * K + 3,
    sb = N * K + 5;
  return { C: randn(M * N, M + N), A: randn(batch * sa, K + 1), B: randn(batch * sb, K + 2), sa, sb, beta };
}

/** Whether two typed arrays hold the same bytes. */
export function sameBits(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return (
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}

/** The native item-sum kernel (gemmSumNT or gemmSumNTBf16, on the current path) against the reference
 *  backend's on each shape [M, N, K, batch], beta 1 and 0.5: within fp32 rounding, and bit for bit on
 *  1, 2 and 3 threads. */
export function expectSumNtLikeRef(
  kernel: 'gemmSumNT' | 'gemmSumNTBf16',
  shapes: ReadonlyArray<readonly [number, number, number, number]>,
): void {
  for (const [M, N, K, batch] of shapes)
    for (const beta of [1, 0.5]) {
      const x = sumNtArgs(M, N, K, batch, beta);
      const want = x.C.slice();
      refBackend[kernel](want, x.A, x.B, M, N, K, batch, x.sa, x.sb, beta);
      const got: Float32Array[] = [];
      for (const t of [1, 2, 3]) {
        setThreads(t);
        const c = x.C.slice();
        addon![kernel](c, x.A, x.B, M, N, K, batch, x.sa, x.sb, beta);
        got.push(c);
      }
      expect(got[0], `${M}x${N}x${K} b${batch}`).toBeAllclose(want, { rtol: 1e-5, atol: 1e-5 * Math.sqrt(K * batch) });
      expect(sameBits(got[0], got[1]) && sameBits(got[0], got[2]), `${M}x${N}x${K} b${batch} threads`).toBe(true);
    }
}

/** beta = 0 writes C without reading it: NaN there gives the bits of a zero C with beta = 1. */
export function expectSumNtBeta0IgnoresC(kernel: 'gemmSumNT' | 'gemmSumNTBf16'): void {
  const [M, N, K, batch] = [40, 17, 64, 4],
    x = sumNtArgs(M, N, K, batch, 0);
  const fresh = new Float32Array(M * N).fill(Number.NaN),
    zero = new Float32Array(M * N);
  addon![kernel](fresh, x.A, x.B, M, N, K, batch, x.sa, x.sb, 0);
  addon![kernel](zero, x.A, x.B, M, N, K, batch, x.sa, x.sb, 1);
  expect(sameBits(fresh, zero)).toBe(true);
  expect(fresh.every(Number.isFinite)).toBe(true);
}

/** The bits do not depend on the tiling: rows 5..16 of A alone (12 rows: now the shorter side, so the
 *  kernel swaps which operand it tiles) give the same elements as the whole product, on two threads. */
export function expectSumNtTilingFree(kernel: 'gemmSumNT' | 'gemmSumNTBf16'): void {
  setThreads(2);
  const [M, N, K, batch] = [29, 21, 48, 5],
    x = sumNtArgs(M, N, K, batch, 0);
  const whole = new Float32Array(M * N);
  addon![kernel](whole, x.A, x.B, M, N, K, batch, x.sa, x.sb, 0);
  const part = new Float32Array(12 * N);
  addon![kernel](part, x.A.subarray(5 * K), x.B, 12, N, K, batch, x.sa, x.sb, 0);
  expect(sameBits(part, whole.slice(5 * N, 17 * N))).toBe(true);
}

/** After a suite that changed the native path or thread count: the best path, the default threads and
 *  the native backend again. */
export function restoreNative(): void {
  if (addon) {
    addon.setIsa(addon.info().bestIsa);
    setThreads(addon.info().threads);
  }
  if (nativeBackend) useBackend('native');
}
