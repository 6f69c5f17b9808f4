/**
 * `bench gemm`'s repetitions (src/bench/gemm.ts): --reps N times each product exactly N times; without it a
 * product is timed until its calls fill 0.25 s (at least three calls, 31 at most), so a short product's median
 * is not one slow call away from the floor.
 */
import { describe, expect, it } from 'vitest';
import { runGemmBench, timeCalls } from '../../src/bench/gemm.js';
import { backendInfo } from '../../src/kernels/index.js';

describe('timeCalls', () => {
  // a clock that the timed function moves on by the next of `costs` (ms)
  const fake = (costs: number[]) => {
    let now = 0,
      i = 0;
    return { f: () => void (now += costs[i++ % costs.length]), now: () => now };
  };

  it('stops once the calls sum to the budget, after the minimum', () => {
    const c = fake([10]);
    expect(timeCalls(c.f, 3, 31, 250, c.now)).toEqual(Array(25).fill(10));
    const slow = fake([200]);
    expect(timeCalls(slow.f, 3, 31, 250, slow.now)).toEqual([200, 200, 200]);
  });

  it('never passes the maximum, and min = max gives exactly that many', () => {
    const c = fake([1]);
    expect(timeCalls(c.f, 3, 31, 250, c.now)).toHaveLength(31);
    const d = fake([1000]);
    expect(timeCalls(d.f, 5, 5, 250, d.now)).toHaveLength(5);
  });
});

describe.runIf(backendInfo().backend === 'native')('bench gemm repetitions', () => {
  const opts = { batches: [32], threads: [1], shapes: ['mlp_t.down fwd'] };
  it('--reps N: N timed calls; without it at least three, up to 31', () => {
    expect(runGemmBench({ ...opts, reps: 2 })[0].reps).toBe(2);
    const [row] = runGemmBench(opts);
    expect(row.reps).toBeGreaterThanOrEqual(3);
    expect(row.reps).toBeLessThanOrEqual(31);
  });
});
