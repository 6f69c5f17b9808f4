import { beforeAll, describe, expect, it } from 'vitest';
import { IGNORE_LABEL } from '../../src/model/index.js';
import { newBatch, splitSize, testBatch, TrainSampler } from '../../src/train/data.js';
import { makeSudoku4, type Sudoku4 } from './fixture.js';

let d: Sudoku4;
beforeAll(async () => {
  d = await makeSudoku4(30, 10, 3);
});

describe('training sampler', () => {
  it('an epoch takes one augmentation per group, groups in a seeded shuffled order', () => {
    const s = new TrainSampler(d.train, 4);
    const order = s.epochOrder(0);
    expect(order.length).toBe(30);
    const groups = [...order].map(ex => Math.floor(ex / 4)); // 1 + 3 aug per group
    expect(new Set(groups).size).toBe(30);
    expect([...new TrainSampler(d.train, 4).epochOrder(0)]).toEqual([...order]);
    expect([...s.epochOrder(1)]).not.toEqual([...order]);
  });

  it('streams across epochs; the cursor alone resumes the stream', () => {
    const s = new TrainSampler(d.train, 4),
      B = 8;
    const cur = { epoch: 0, pos: 0 },
      a = newBatch(B, 16);
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) {
      s.next(cur, a);
      seen.push(...a.inputs.subarray(0, 16));
    }
    expect(cur).toEqual({ epoch: 1, pos: 10 });
    const resumed = { epoch: 1, pos: 2 },
      b = newBatch(B, 16),
      fresh = new TrainSampler(d.train, 4);
    fresh.next(resumed, b);
    s.next({ epoch: 1, pos: 2 }, a);
    expect([...b.inputs]).toEqual([...a.inputs]);
  });

  it('test batches are sequential and padded with ignored labels', () => {
    const B = 4,
      out = newBatch(B, 16),
      n = splitSize(d.test);
    expect(n).toBe(10);
    expect(testBatch(d.test, 8, n, out)).toBe(2);
    expect([...out.labels.subarray(2 * 16)].every(v => v === IGNORE_LABEL)).toBe(true);
    expect([...out.inputs.subarray(2 * 16)].every(v => v === 0)).toBe(true);
    expect(out.inputs[0]).toBe(d.test.inputs[8 * 16]);
  });
});
