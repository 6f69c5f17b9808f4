/**
 * RMSNorm's row loops (native/ops/rmsnorm_rows.h) run as baseline x86-64 code on the portable path
 * and compiled for AVX2 (rmsnorm_avx2.cpp) and AVX-512 (rmsnorm_avx512.cpp) on theirs: the same float64
 * operations per element, so every path the CPU runs must give the same bits, for both axes, both
 * directions, row tails (D not a multiple of 8) and several sequence-axis column blocks (D > 128).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { addon } from '../../src/kernels/index.js';
import { rand } from '../../src/kernels/cases.js';

const isa0 = addon?.info().isa;
afterAll(() => {
  if (addon && isa0) addon.setIsa(isa0);
});

describe.skipIf(!addon)('rmsnorm on every ISA path', () => {
  const paths = (['portable', 'avx2', 'avx512'] as const).filter(p => addon!.setIsa(p));
  const shapes: Array<[number, number, number]> = [
    [3, 17, 64],
    [2, 5, 300],
    [4, 9, 13],
    [1, 1, 1],
  ];

  it.each(shapes)('B %i, S %i, D %i: forward and backward bitwise the same on each path', (B, S, D) => {
    const N = B * S,
      x = rand(N * D, 41, 3),
      dy = rand(N * D, 42),
      start = rand(N * D, 43);
    const outs = paths.map(p => {
      addon!.setIsa(p);
      const y = new Float32Array(N * D),
        rstd = new Float32Array(N),
        dx = start.slice(),
        ys = new Float32Array(N * D),
        rs = new Float32Array(B * D),
        dxs = start.slice();
      addon!.rmsnormForward(y, rstd, x, N, D, 1e-5);
      addon!.rmsnormBackward(dx, dy, y, rstd, N, D);
      addon!.rmsnormSeqForward(ys, rs, x, B, S, D, 1e-5);
      addon!.rmsnormSeqBackward(dxs, dy, ys, rs, B, S, D);
      return Buffer.concat([y, rstd, dx, ys, rs, dxs].map(v => Buffer.from(v.buffer)));
    });
    expect(outs[0].some(v => v !== 0)).toBe(true);
    for (let i = 1; i < outs.length; i++) expect(Buffer.compare(outs[0], outs[i]), paths[i]).toBe(0);
  });
});
