/**
 * ops-helpers.ts: shared pieces of the ops*.test.ts suites: the backends to run each suite on,
 * float64 central finite differences for checking backward kernels, and the item sums' operands.
 */
import { addon, nativeBackend, useBackend } from '../../src/kernels/index.js';
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
