/**
 * SwiGLU's exp (native/ops/fast_exp.h) runs as plain C++ on the portable path and as AVX-512
 * intrinsics on the AVX-512 path, the same IEEE operations in the same order: every dispatch path
 * the CPU can run must give the same bits, including inputs at and past the exp clamp, and stay
 * within float rounding of the float64 reference.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { addon, refBackend } from '../../src/kernels/index.js';
import { rand } from '../../src/kernels/cases.js';

const isa0 = addon?.info().isa;
afterAll(() => {
  if (addon && isa0) addon.setIsa(isa0);
});

function inputs(N: number, H: number): { gu: Float32Array; dy: Float32Array } {
  const gu = rand(N * 2 * H, 31, 12);
  // the clamp edges of fast_exp (x in [-87, 88], x = -gate), huge values, zeros and tails
  const edge = [-1000, -100, -88.5, -88, -87.9, -87, 0, -0, 1e-30, 86.9, 87, 87.5, 100, 1000, 1e30, -1e30];
  edge.forEach((v, i) => {
    gu[i] = v;
    if (Math.abs(v) <= 1000) gu[2 * H + H + i] = v; // an up value too (finite products)
  });
  return { gu, dy: rand(N * H, 32, 2) };
}

describe.skipIf(!addon)('swiglu on every ISA path', () => {
  const N = 7,
    H = 1000 + 13; // not a multiple of 16: the masked tails run
  const paths = (['portable', 'avx2', 'avx512'] as const).filter(p => addon!.setIsa(p));

  it('forward and backward give the same bits on every path the CPU runs', () => {
    const { gu, dy } = inputs(N, H);
    const outs = paths.map(p => {
      addon!.setIsa(p);
      const out = new Float32Array(N * H),
        dg = rand(N * 2 * H, 33);
      addon!.swigluForward(out, gu, N, H);
      addon!.swigluBackward(dg, dy, gu, N, H);
      return [out, dg];
    });
    for (let i = 1; i < outs.length; i++)
      for (let j = 0; j < 2; j++)
        expect(
          Buffer.compare(Buffer.from(outs[0][j].buffer), Buffer.from(outs[i][j].buffer)),
          `${paths[i]} [${j}]`,
        ).toBe(0);
  });

  it('a sweep of gate bit patterns gives the same bits on every path', () => {
    // every 4099th 32-bit pattern (NaN, infinities, zeros and subnormals among them) and every float
    // in short windows at the clamps (gate -88 / 87) and around 0, through the forward (up = 1) and
    // the backward (dout = 1): the AVX-512 exp never forms -gate (native/ops/swiglu_avx512.cpp)
    const bits: number[] = [];
    for (let b = 0; b < 2 ** 32; b += 4099) bits.push(b);
    const f = new Float32Array(1),
      u = new Uint32Array(f.buffer);
    for (const centre of [-88, 87, -87, 88, 1e-3, -1e-3]) {
      f[0] = centre;
      for (let d = -3000; d <= 3000; d++) bits.push(u[0] + d);
    }
    // and 2^20 gates spread over [-24, 24], where a model's gates live: one operation of the exp fused or
    // split differently changes a few of these (3 in 2^20 for one Horner step), and none of the above
    for (let i = 0; i < 2 ** 20; i++) {
      f[0] = -24 + (48 * i) / 2 ** 20;
      bits.push(u[0]);
    }
    const H = bits.length,
      gu = new Float32Array(2 * H).fill(1);
    new Uint32Array(gu.buffer, 0, H).set(bits);
    const dy = new Float32Array(H).fill(1);
    const outs = paths.map(p => {
      addon!.setIsa(p);
      const out = new Float32Array(H),
        dg = new Float32Array(2 * H);
      addon!.swigluForward(out, gu, 1, H);
      addon!.swigluBackward(dg, dy, gu, 1, H);
      // a NaN gate's gradient is NaN on every path, its sign bit not (the compilers order the scalar
      // path's products differently): NaNs compare as one value
      for (const v of [out, dg]) for (let i = 0; i < v.length; i++) if (Number.isNaN(v[i])) v[i] = Number.NaN;
      return Buffer.concat([Buffer.from(out.buffer), Buffer.from(dg.buffer)]);
    });
    for (let i = 1; i < outs.length; i++) expect(Buffer.compare(outs[0], outs[i]), paths[i]).toBe(0);
  });

  it('matches the float64 reference on each path, past the clamp too', () => {
    const { gu, dy } = inputs(N, H);
    const want = new Float32Array(N * H),
      wantDg = new Float32Array(N * 2 * H);
    refBackend.swigluForward(want, gu, N, H);
    refBackend.swigluBackward(wantDg, dy, gu, N, H);
    for (const p of paths) {
      addon!.setIsa(p);
      const out = new Float32Array(N * H),
        dg = new Float32Array(N * 2 * H);
      addon!.swigluForward(out, gu, N, H);
      addon!.swigluBackward(dg, dy, gu, N, H);
      expect(out).toBeAllclose(want, { rtol: 1e-5, atol: 1e-6 });
      expect(dg).toBeAllclose(wantDg, { rtol: 1e-5, atol: 1e-6 });
    }
  });
});
