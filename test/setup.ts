/**
 * setup.ts: shared test helpers. `toBeAllclose` compares arrays elementwise with
 * |a - b| <= atol + rtol*|b| and reports the worst index; seeded random inputs come from rng().
 */
import { afterAll, afterEach, beforeEach, expect } from 'vitest';
// The Node edge registers the default device (native, else the reference) for every test file.
import '../src/kernels/select.js';

// vitest's worker reports to the runner over an RPC with a fixed 60 s timeout. A test that keeps this
// worker's event loop busy that long (a long spawnSync, synchronous work without an await) fails the
// whole run with "Timeout calling onTaskUpdate" and names no test. This names it: a 1 s timer notes
// any gap of 30 s or more, with the test that was running (or the last one started).
let lastTest = '(no test yet)';
beforeEach(ctx => {
  lastTest = `${ctx.task.file?.name ?? ''} > ${ctx.task.name}`;
});
let lastTick = performance.now();
function noteBlocking(): void {
  const now = performance.now(),
    gap = now - lastTick;
  lastTick = now;
  if (gap >= 30_000)
    process.stderr.write(
      `test/setup.ts: this worker's event loop was blocked ${(gap / 1000).toFixed(0)} s in or after '${lastTest}' (vitest's RPC to the runner times out at 60 s)\n`,
    );
}
const loopWatch = setInterval(noteBlocking, 1000);
loopWatch.unref();
afterEach(noteBlocking); // (a test that blocked to its end: the timer would not fire before afterAll)
afterAll(() => clearInterval(loopWatch));

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
