/**
 * gemmSumNT (the small token mixer's weight gradients: C = beta*C + sum over items of A_b B_b^T, one
 * sum per element over items and k) on every native dispatch path: against the reference (gemm's
 * batch sum, float64 inside each item) within fp32 rounding; bit for bit the same on 1, 2 and 3
 * threads; independent of the tiling (a block of rows gives the same bits as the whole product);
 * beta = 0 never reads C; k lengths with and without a tail past whole 16-lane vectors.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { addon, gemmSumNT, setThreads, useBackend } from '../../src/kernels/index.js';
import {
  expectSumNtBeta0IgnoresC,
  expectSumNtLikeRef,
  expectSumNtTilingFree,
  nativePaths,
  restoreNative,
  sameBits,
  sumNtArgs,
} from './ops-helpers.js';

afterAll(restoreNative);

// M, N, K, batch: the cpu-sudoku4 mixer's two gradients (dW_gate_up 512 x 17, dW_down 17 x 256 at
// D 64, smaller batch), k tails, one item, a single row or column, P rows not a multiple of 4
const shapes: Array<[number, number, number, number]> = [
  [512, 17, 64, 6],
  [17, 256, 64, 5],
  [20, 9, 64, 11], // k 64 (the small presets' D: the AVX2 tile's unrolled items) small enough for the lane model
  [45, 19, 37, 5],
  [30, 83, 5, 3],
  [7, 9, 16, 1],
  [1, 40, 33, 4],
  [23, 1, 1, 7],
];

describe.runIf(addon)('gemmSumNT', () => {
  for (const p of nativePaths)
    it(`${p}: the reference within fp32 rounding, threads 1 = 2 = 3 bit for bit`, () => {
      addon!.setIsa(p);
      expectSumNtLikeRef('gemmSumNT', shapes);
    });

  it('beta = 0 writes C without reading it (NaN there is ignored)', () => {
    addon!.setIsa(addon!.info().bestIsa);
    expectSumNtBeta0IgnoresC('gemmSumNT');
  });

  for (const p of nativePaths)
    it(`${p}: the bits do not depend on the tiling: rows 5..16 alone give the same elements`, () => {
      addon!.setIsa(p);
      expectSumNtTilingFree('gemmSumNT');
    });

  // A scalar model of the vector tiles' arithmetic: 16 lanes per element (lane l takes k = l mod 16 of
  // every item, items in order, lanes past K add 0 * 0), one fused multiply-add per k (the fp32
  // product of two fp32 values is exact in a double, so fround(acc + x * y) is the FMA but for double
  // rounding, which these fixed inputs never hit), then the fixed tree: halves, quarters, pairs.
  // From 4 items, each of the two halves of the items ([0, ceil(batch/2)), the rest) so, then their sum.
  function laneModel(x: ReturnType<typeof sumNtArgs>, M: number, N: number, K: number, batch: number) {
    const f = Math.fround,
      out = x.C.slice(),
      kk = Math.ceil(K / 16) * 16,
      halves = batch >= 4 ? [0, Math.ceil(batch / 2), batch] : [0, batch];
    const sum = (i: number, j: number, b0: number, b1: number) => {
      let a = new Array(16).fill(0);
      for (let b = b0; b < b1; b++)
        for (let k = 0; k < kk; k++) {
          const u = k < K ? x.A[b * x.sa + i * K + k] : 0,
            v = k < K ? x.B[b * x.sb + j * K + k] : 0;
          a[k & 15] = f(a[k & 15] + u * v);
        }
      for (let w = 8; w >= 1; w >>= 1) a = a.slice(0, w).map((v, l) => f(v + a[l + w]));
      return a[0];
    };
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = sum(i, j, halves[0], halves[1]);
        if (halves.length === 3) s = f(s + sum(i, j, halves[1], halves[2]));
        out[i * N + j] = x.beta === 0 ? s : f(f(x.beta * out[i * N + j]) + s);
      }
    return out;
  }
  for (const p of nativePaths.filter(q => q !== 'portable'))
    it(`${p}: bit for bit the 16-lane FMA model`, () => {
      addon!.setIsa(p);
      setThreads(2);
      for (const [M, N, K, batch] of shapes.filter(([m, n, , b]) => m * n * b < 20000))
        for (const beta of [1, 0]) {
          const x = sumNtArgs(M, N, K, batch, beta);
          const c = x.C.slice();
          addon!.gemmSumNT(c, x.A, x.B, M, N, K, batch, x.sa, x.sb, beta);
          expect(sameBits(c, laneModel(x, M, N, K, batch)), `${M}x${N}x${K} b${batch} beta ${beta}`).toBe(true);
        }
    });

  // The AVX2 tile runs the AVX-512 tile's lanes as two halves with the same FMAs and reduction
  // tree: the same bits (checked where the CPU has both; elsewhere the line above says skipped).
  it.runIf(nativePaths.includes('avx512') && nativePaths.includes('avx2'))('avx2 gives the avx512 bits', () => {
    setThreads(2);
    for (const [M, N, K, batch] of shapes) {
      const x = sumNtArgs(M, N, K, batch, 1);
      const got = (p: 'avx512' | 'avx2') => {
        addon!.setIsa(p);
        const c = x.C.slice();
        addon!.gemmSumNT(c, x.A, x.B, M, N, K, batch, x.sa, x.sb, 1);
        return c;
      };
      expect(sameBits(got('avx512'), got('avx2')), `${M}x${N}x${K} b${batch}`).toBe(true);
    }
  });

  it('the checked wrapper takes the sizes the strides imply', () => {
    useBackend('native');
    const c = new Float32Array(4 * 3);
    expect(() =>
      gemmSumNT(c, new Float32Array(2 * 10 + 4 * 5 - 1), new Float32Array(3 * 5), 4, 3, 5, 3, 10, 0, 1),
    ).toThrow(/gemmSumNT: A has 39 elements, .* needs 40/);
    gemmSumNT(c, new Float32Array(40), new Float32Array(15), 4, 3, 5, 3, 10, 0, 1);
    expect(c.every(v => v === 0)).toBe(true);
  });
});
