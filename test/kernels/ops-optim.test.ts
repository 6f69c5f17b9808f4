/**
 * Non-GEMM kernels, part 3: optimizer steps and EMA (reference/trm-algorithm.md 7 and 8) on every
 * backend, checked step by step against the update rules written out here in float64.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as K from '../../src/kernels/index.js';
import { randn } from '../helpers.js';
import { backends, restoreBackend } from './ops-helpers.js';

afterAll(restoreBackend);

/** A gradient with exact zeros sprinkled in (sign(0), atan2(0, 0) and zero moments get exercised). */
function gradAt(n: number, t: number): Float32Array {
  const g = randn(n, 1000 + t, 0.1 * t);
  for (let i = 0; i < n; i += 5) g[i] = 0;
  return g;
}

const STEPS = 6;

describe.each(backends)('optimizers on $label', ({ setup }) => {
  it.each([1, 7, 97, 513])(
    'AdamATan2 n=%i: exact rule of 7.2 (no eps, bias corrections placed as written), with weight decay',
    n => {
      setup();
      const lr = 3e-3,
        b1 = 0.9,
        b2 = 0.95,
        wd = 0.5;
      const p = randn(n, n),
        m = new Float32Array(n),
        v = new Float32Array(n);
      for (let t = 1; t <= STEPS; t++) {
        const g = gradAt(n, t),
          want = { p: new Float64Array(n), m: new Float64Array(n), v: new Float64Array(n) };
        for (let i = 0; i < n; i++) {
          let pi = p[i],
            mi = m[i],
            vi = v[i];
          pi = pi * (1 - lr * wd);
          mi = mi + (1 - b1) * (g[i] - mi);
          vi = vi + (1 - b2) * (g[i] * g[i] - vi);
          pi = pi - (lr / (1 - b1 ** t)) * Math.atan2(mi, Math.sqrt(vi) / Math.sqrt(1 - b2 ** t));
          want.p[i] = pi;
          want.m[i] = mi;
          want.v[i] = vi;
        }
        K.adamAtan2Step(p, m, v, g, n, lr, b1, b2, wd, t);
        expect(p).toBeAllclose(want.p, { rtol: 1e-7, atol: 1e-9 });
        expect(m).toBeAllclose(want.m, { rtol: 1e-7, atol: 0 });
        expect(v).toBeAllclose(want.v, { rtol: 1e-7, atol: 0 });
      }
    },
  );

  it('AdamATan2 step 1 from zero moments moves each weight by lr*atan(1-b1)/(1-b1), sign of g', () => {
    setup();
    const n = 6,
      lr = 0.01,
      wd = 0.1,
      p = randn(n, 3),
      p0 = p.slice();
    const g = Float32Array.from([3, -2, 0, 1e-6, -1e3, 0.5]);
    K.adamAtan2Step(p, new Float32Array(n), new Float32Array(n), g, n, lr, 0.9, 0.95, wd, 1);
    const want = Array.from(p0, (x, i) => x * (1 - lr * wd) - ((lr * Math.atan(0.1)) / 0.1) * Math.sign(g[i]));
    expect(p).toBeAllclose(want, { rtol: 1e-7, atol: 1e-9 });
  });

  it.each([1, 7, 97, 513])('AdamW n=%i: decoupled decay, bias-corrected moments, eps outside the sqrt', n => {
    setup();
    const lr = 3e-3,
      b1 = 0.9,
      b2 = 0.95,
      eps = 1e-8,
      wd = 0.5;
    const p = randn(n, n + 1),
      m = new Float32Array(n),
      v = new Float32Array(n);
    for (let t = 1; t <= STEPS; t++) {
      const g = gradAt(n, t),
        want = { p: new Float64Array(n), m: new Float64Array(n), v: new Float64Array(n) };
      for (let i = 0; i < n; i++) {
        const mi = b1 * m[i] + (1 - b1) * g[i],
          vi = b2 * v[i] + (1 - b2) * g[i] ** 2;
        want.p[i] = p[i] * (1 - lr * wd) - (lr * (mi / (1 - b1 ** t))) / (Math.sqrt(vi / (1 - b2 ** t)) + eps);
        want.m[i] = mi;
        want.v[i] = vi;
      }
      K.adamwStep(p, m, v, g, n, lr, b1, b2, eps, wd, t);
      expect(p).toBeAllclose(want.p, { rtol: 1e-7, atol: 1e-9 });
      expect(m).toBeAllclose(want.m, { rtol: 1e-7, atol: 0 });
      expect(v).toBeAllclose(want.v, { rtol: 1e-7, atol: 0 });
    }
  });

  it.each([1, 7, 97, 513])('SignSGD rows of width %i: decoupled decay, sign(0) = 0, other rows untouched', n => {
    setup();
    const lr = 0.01,
      wd = 0.1,
      rows = Int32Array.of(3, 0),
      p = randn(5 * n, n + 2);
    for (let t = 1; t <= 3; t++) {
      const g = gradAt(5 * n, t),
        want = Array.from(p, (x, i) =>
          [0, 3].includes(Math.floor(i / n)) ? x * (1 - lr * wd) - lr * Math.sign(g[i]) : x,
        );
      K.signSgdRows(p, g, rows, 2, n, lr, wd);
      expect(p).toBeAllclose(want, { rtol: 1e-7, atol: 0 });
      for (let i = 0; i < 5 * n; i++)
        if (!(i >= n && i < 3 * n) && i < 4 * n && g[i] === 0) expect(p[i]).toBe(Math.fround(want[i]));
    }
  });

  it.each([1, 7, 97, 513])('EMA n=%i: shadow = decay*shadow + (1 - decay)*param', n => {
    setup();
    const shadow = randn(n, n + 3),
      decay = 0.999;
    for (let t = 1; t <= 3; t++) {
      const p = randn(n, n + 10 * t),
        want = Array.from(shadow, (s, i) => decay * s + (1 - decay) * p[i]);
      K.emaUpdate(shadow, p, n, decay);
      expect(shadow).toBeAllclose(want, { rtol: 1e-7, atol: 1e-9 });
    }
  });
});
