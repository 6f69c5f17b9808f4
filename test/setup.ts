/**
 * setup.ts: shared test helpers. `toBeAllclose` compares arrays elementwise with
 * |a - b| <= atol + rtol*|b| and reports the worst index; seeded random inputs come from rng().
 */
import { expect } from 'vitest';
// The Node edge registers the default device (native, else the reference) for every test file.
import '../src/kernels/select.js';

interface AllcloseOpts {
  rtol?: number;
  atol?: number;
}

expect.extend({
  toBeAllclose(received: ArrayLike<number>, expected: ArrayLike<number>, opts: AllcloseOpts = {}) {
    const rtol = opts.rtol ?? 1e-5,
      atol = opts.atol ?? 1e-6;
    if (received.length !== expected.length)
      return { pass: false, message: () => `length ${received.length} != expected ${expected.length}` };
    let worst = -1,
      worstExcess = 0;
    for (let i = 0; i < received.length; i++) {
      const a = received[i],
        b = expected[i];
      const excess = Math.abs(a - b) - (atol + rtol * Math.abs(b));
      if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
        worst = i;
        worstExcess = excess;
      }
    }
    return {
      pass: worst < 0,
      message: () =>
        worst < 0
          ? 'arrays are close'
          : `arrays differ at [${worst}]: ${received[worst]} vs ${expected[worst]} (rtol ${rtol}, atol ${atol})`,
    };
  },
});

declare module 'vitest' {
  interface Assertion<T = any> {
    toBeAllclose(expected: ArrayLike<number>, opts?: AllcloseOpts): T;
  }
  interface AsymmetricMatchersContaining {
    toBeAllclose(expected: ArrayLike<number>, opts?: AllcloseOpts): void;
  }
}
