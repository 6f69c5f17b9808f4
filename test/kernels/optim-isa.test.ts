/**
 * AdamATan2's atan2 is native/ops/fast_atan2.h (Cephes' rational approximation), not libm's: the scalar
 * loop (portable path) and its AVX2 twin (optim_avx2.cpp, four float64 lanes) run the same operations,
 * so they must give the same bits; and since the update is rounded to float32, the weights must match a
 * float64 reference that uses Math.atan2 (libm) everywhere but at rare rounding ties.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { addon } from '../../src/kernels/index.js';
import { randn } from '../helpers.js';

const isa0 = addon?.info().isa;
afterAll(() => {
  if (addon && isa0) addon.setIsa(isa0);
});

/** n weights, moments and a gradient with zeros, tiny and huge magnitudes and both signs mixed in. */
function state(n: number, seed: number) {
  const p = randn(n, seed),
    m = randn(n, seed + 1, 1e-2),
    v = randn(n, seed + 2, 1e-3).map(Math.abs),
    g = randn(n, seed + 3, 0.1);
  for (let i = 0; i < n; i += 7) g[i] = 0;
  for (let i = 3; i < n; i += 11) {
    m[i] = 0; // atan2(0, 0)
    v[i] = 0;
    g[i] = 0;
  }
  for (let i = 5; i < n; i += 13) g[i] *= 1e6;
  for (let i = 6; i < n; i += 17) g[i] *= 1e-20;
  return { p, m, v, g };
}

describe.skipIf(!addon)('AdamATan2 with fast_atan2', () => {
  const paths = (['portable', 'avx2', 'avx512'] as const).filter(p => addon!.setIsa(p));
  const n = 100_003, // (not a multiple of four: the AVX2 loop's scalar tail runs too)
    lr = 2e-3,
    b1 = 0.9,
    b2 = 0.95,
    wd = 0.1;

  it('every ISA path gives the same bits over three steps', () => {
    const outs = paths.map(path => {
      addon!.setIsa(path);
      const s = state(n, 7);
      for (let t = 1; t <= 3; t++) addon!.adamAtan2Step(s.p, s.m, s.v, s.g, n, lr, b1, b2, wd, t);
      return Buffer.concat([s.p, s.m, s.v].map(x => Buffer.from(x.buffer)));
    });
    for (let i = 1; i < outs.length; i++) expect(Buffer.compare(outs[0], outs[i]), paths[i]).toBe(0);
  });

  it.each(paths)('%s: weights equal a libm float64 reference but at rounding ties', path => {
    addon!.setIsa(path);
    const s = state(n, 11),
      want = new Float32Array(n);
    const t = 4,
      stepSize = lr / (1 - b1 ** t),
      bc2 = Math.sqrt(1 - b2 ** t);
    for (let i = 0; i < n; i++) {
      const mi = s.m[i] + (1 - b1) * (s.g[i] - s.m[i]),
        vi = s.v[i] + (1 - b2) * (s.g[i] * s.g[i] - s.v[i]);
      want[i] = s.p[i] * (1 - lr * wd) - stepSize * Math.atan2(mi, Math.sqrt(vi) / bc2);
    }
    addon!.adamAtan2Step(s.p, s.m, s.v, s.g, n, lr, b1, b2, wd, t);
    let differ = 0;
    for (let i = 0; i < n; i++) {
      if (s.p[i] === want[i]) continue;
      differ++;
      expect(Math.abs(s.p[i] - want[i]), `weight ${i}`).toBeLessThanOrEqual(Math.abs(want[i]) * 2 ** -23);
    }
    // a float64 atan2 within 2 ulp moves a float32 result only at a tie: none in 20M random trials
    expect(differ).toBeLessThanOrEqual(2);
  });
});
