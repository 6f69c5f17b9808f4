import { describe, expect, it } from 'vitest';
import { lrAt } from '../../src/train/schedule.js';

describe('lrAt', () => {
  const s = { lr_warmup_steps: 100, lr_min_ratio: 1, steps: 1000 };
  it('warms up linearly from 0, then stays constant with min ratio 1 (the official default)', () => {
    expect(lrAt(0, 1e-3, s)).toBe(0);
    expect(lrAt(1, 1e-3, s)).toBeCloseTo(1e-5, 12);
    expect(lrAt(50, 1e-3, s)).toBeCloseTo(5e-4, 12);
    for (const t of [100, 101, 500, 1000, 5000]) expect(lrAt(t, 1e-3, s)).toBeCloseTo(1e-3, 12);
  });
  it('follows a cosine from base to min_ratio * base after warm-up', () => {
    const c = { ...s, lr_min_ratio: 0.1 };
    expect(lrAt(100, 1, c)).toBeCloseTo(1, 12);
    expect(lrAt(550, 1, c)).toBeCloseTo(0.1 + 0.9 * 0.5, 12);
    expect(lrAt(1000, 1, c)).toBeCloseTo(0.1, 12);
    let prev = Infinity;
    for (let t = 100; t <= 1000; t += 50) {
      const v = lrAt(t, 1, c);
      expect(v).toBeLessThanOrEqual(prev);
      prev = v;
    }
  });
  it('has no warm-up with 0 warm-up steps', () => {
    expect(lrAt(1, 2, { lr_warmup_steps: 0, lr_min_ratio: 1, steps: 10 })).toBe(2);
  });
});
