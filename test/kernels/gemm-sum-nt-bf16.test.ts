/**
 * gemmSumNTBf16 (a bf16 run's small token mixer weight gradients: C = beta*C + sum over items of
 * A_b B_b^T with every operand value rounded to bf16, fp32 sums) on every native dispatch path: against
 * the reference (gemmBf16's batch sum, float64 inside each item) within fp32 rounding; bit for bit the
 * same on 1, 2 and 3 threads; a bf16 tensor operand gives the bits of the fp32 operand it was rounded
 * from (the kernel rounds an fp32 operand as the bf16 packs do); independent of the tiling; beta = 0
 * never reads C; where VDPBF16PS does not run it (AVX2, portable, the AMX kernel active) bitwise
 * gemmBf16's batch sum. The checked wrapper's sizes and types.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { addon, gemmSumNTBf16, setThreads, useBackend } from '../../src/kernels/index.js';
import { narrowInto } from '../../src/kernels/ref/bf16.js';
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

const bf16Of = (x: Float32Array): Uint16Array => {
  const o = new Uint16Array(x.length);
  narrowInto(o, x);
  return o;
};
/** Whether this path sums on VDPBF16PS (else it is gemmBf16's batch sum). */
const vdp = (p: string) => p === 'avx512' && addon!.info().bf16Native && !addon!.info().amx;

// M, N, K, batch: the cpu-sudoku4 mixer's two gradients (smaller batch), k tails past whole 32-value
// vectors (odd: a last pair with a zero partner), one item, a single row or column
const shapes: Array<[number, number, number, number]> = [
  [512, 17, 64, 6],
  [17, 256, 64, 5],
  [45, 19, 37, 5],
  [30, 83, 5, 3],
  [7, 9, 33, 1],
  [1, 40, 70, 4],
  [23, 1, 1, 7],
];

describe.runIf(addon)('gemmSumNTBf16', () => {
  for (const p of nativePaths)
    it(`${p}: the reference within fp32 rounding, threads 1 = 2 = 3 bit for bit`, () => {
      addon!.setIsa(p);
      expectSumNtLikeRef('gemmSumNTBf16', shapes);
    });

  for (const p of nativePaths)
    it(`${p}: a bf16 A or B gives the bits of the fp32 operand it was rounded from`, () => {
      addon!.setIsa(p);
      setThreads(2);
      for (const [M, N, K, batch] of shapes) {
        const x = sumNtArgs(M, N, K, batch, 1);
        const run = (A: Float32Array | Uint16Array, B: Float32Array | Uint16Array) => {
          const c = x.C.slice();
          addon!.gemmSumNTBf16(c, A, B, M, N, K, batch, x.sa, x.sb, 1);
          return c;
        };
        const plain = run(x.A, x.B);
        expect(sameBits(run(bf16Of(x.A), x.B), plain), `${M}x${N}x${K} b${batch} bf16 A`).toBe(true);
        expect(sameBits(run(x.A, bf16Of(x.B)), plain), `${M}x${N}x${K} b${batch} bf16 B`).toBe(true);
        expect(sameBits(run(bf16Of(x.A), bf16Of(x.B)), plain), `${M}x${N}x${K} b${batch} both`).toBe(true);
      }
    });

  for (const p of nativePaths)
    it(`${p}: VDPBF16PS's sums, or else gemmBf16's batch sum bit for bit`, () => {
      addon!.setIsa(p);
      setThreads(2);
      let differs = 0;
      for (const [M, N, K, batch] of shapes) {
        const x = sumNtArgs(M, N, K, batch, 1);
        const c = x.C.slice(),
          g = x.C.slice();
        addon!.gemmSumNTBf16(c, x.A, x.B, M, N, K, batch, x.sa, x.sb, 1);
        addon!.gemmBf16(false, true, M, N, K, 1, x.A, K, x.sa, x.B, K, x.sb, 1, g, N, 0, batch);
        if (!vdp(p)) expect(sameBits(c, g), `${M}x${N}x${K} b${batch}`).toBe(true);
        else if (!sameBits(c, g)) differs++;
      }
      // (on VDPBF16PS the order of the additions differs from the item-by-item sum: some shapes show it)
      if (vdp(p)) expect(differs).toBeGreaterThan(0);
    });

  it('the bits do not depend on the tiling: rows 5..16 alone give the same elements', () => {
    addon!.setIsa(addon!.info().bestIsa);
    expectSumNtTilingFree('gemmSumNTBf16');
  });

  it('beta = 0 writes C without reading it (NaN there is ignored)', () => {
    addon!.setIsa(addon!.info().bestIsa);
    expectSumNtBeta0IgnoresC('gemmSumNTBf16');
  });

  it('the checked wrapper takes the sizes the strides imply, fp32 or bf16 operands', () => {
    useBackend('native');
    const c = new Float32Array(4 * 3);
    expect(() =>
      gemmSumNTBf16(c, new Uint16Array(2 * 10 + 4 * 5 - 1), new Float32Array(3 * 5), 4, 3, 5, 3, 10, 0, 1),
    ).toThrow(/gemmSumNTBf16: A has 39 elements, .* needs 40/);
    expect(() => gemmSumNTBf16(c, new Float32Array(40), new Int32Array(15) as never, 4, 3, 5, 3, 10, 0, 1)).toThrow(
      /gemmSumNTBf16: B must be Float32Array, got Int32Array/,
    );
    gemmSumNTBf16(c, new Uint16Array(40), new Float32Array(15), 4, 3, 5, 3, 10, 0, 1);
    expect(c.every(v => v === 0)).toBe(true);
    useBackend('ref');
    expect(() => gemmSumNTBf16(c, new Uint16Array(40), new Float32Array(15), 4, 3, 5, 3, 10, 0, 1)).not.toThrow();
    useBackend('native');
  });
});
