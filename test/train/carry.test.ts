import { describe, expect, it } from 'vitest';
import { createParams, resolveConfig } from '../../src/model/index.js';
import { fillHalted, newTrainCarry, updateHalting } from '../../src/train/carry.js';
import { newBatch } from '../../src/train/data.js';
import { host } from '../helpers.js';

const c = resolveConfig({
  hidden_size: 8,
  num_heads: 2,
  puzzle_emb_ndim: 8,
  puzzle_emb_len: 1,
  seq_len: 4,
  vocab_size: 6,
  halt_max_steps: 4,
});
const w = createParams(c, 1);
const B = 3,
  L = 4,
  S = 5,
  D = 8;

function fresh(tag: number) {
  const f = newBatch(B, L);
  for (let b = 0; b < B; b++) {
    f.inputs.fill(tag * 10 + b, b * L, (b + 1) * L);
    f.labels.fill(tag * 10 + b, b * L, (b + 1) * L);
    f.puzzleIds[b] = tag;
  }
  return f;
}

describe('training carry', () => {
  it('starts halted: the first fill takes every fresh sample and resets y, z to H_init, L_init', () => {
    const tc = newTrainCarry(B, L, S, D);
    expect([...tc.halted]).toEqual([1, 1, 1]);
    fillHalted(tc, fresh(1), w, D);
    expect([...tc.batch.inputs]).toEqual([...fresh(1).inputs]);
    for (let p = 0; p < B * S; p++) {
      expect([...host(tc.y).subarray(p * D, (p + 1) * D)]).toEqual([...host(w.Hinit)]);
      expect([...host(tc.z).subarray(p * D, (p + 1) * D)]).toEqual([...host(w.Linit)]);
    }
  });

  it('a non-halted slot keeps its sample, steps and (y, z); only halted slots take the new sample', () => {
    const tc = newTrainCarry(B, L, S, D);
    fillHalted(tc, fresh(1), w, D);
    host(tc.y).fill(7);
    host(tc.z).fill(8);
    tc.steps.set([2, 3, 1]);
    tc.halted.set([0, 1, 0]);
    fillHalted(tc, fresh(2), w, D);
    // slot 0 and 2 keep batch 1, slot 1 takes batch 2
    expect(tc.batch.inputs[0]).toBe(10);
    expect(tc.batch.inputs[L]).toBe(21);
    expect(tc.batch.inputs[2 * L]).toBe(12);
    expect([...tc.batch.puzzleIds]).toEqual([1, 2, 1]);
    expect([...tc.steps]).toEqual([2, 0, 1]);
    expect(host(tc.y)[0]).toBe(7);
    expect(host(tc.y)[2 * S * D]).toBe(7);
    expect([...host(tc.y).subarray(S * D, S * D + D)]).toEqual([...host(w.Hinit)]);
    expect([...host(tc.z).subarray(S * D, S * D + D)]).toEqual([...host(w.Linit)]);
  });

  it('halts at N_sup, or on q_halt > 0 in training only', () => {
    const tc = newTrainCarry(2, L, S, D);
    const q = new Float32Array([1, 0, -1, 0]); // slot 0 wants to halt, slot 1 does not
    tc.steps.set([0, 0]);
    updateHalting(tc, q, { nsup: 4, exploreProb: 0, training: false, seed: 0, step: 1 });
    expect([...tc.halted]).toEqual([0, 0]); // evaluation: only N_sup counts
    updateHalting(tc, q, { nsup: 4, exploreProb: 0, training: true, seed: 0, step: 2 });
    expect([...tc.halted]).toEqual([1, 0]);
    tc.steps.set([0, 3]);
    updateHalting(tc, q, { nsup: 4, exploreProb: 1, training: true, seed: 0, step: 3 });
    expect(tc.halted[1]).toBe(1); // steps = N_sup always halts, exploration or not
  });
});

describe('ACT exploration statistics', () => {
  it('vetoes halting at step s with probability p * P(U{2..N} > s), redrawn every step', () => {
    const n = 20000,
      nsup = 8,
      p = 0.1;
    const tc = newTrainCarry(n, 1, 1, 1);
    const q = new Float32Array(2 * n).fill(1); // every sample asks to halt
    for (let s = 1; s <= nsup; s++) {
      let vetoed = 0;
      for (const trial of [0, 1]) {
        tc.steps.fill(s - 1);
        updateHalting(tc, q, { nsup, exploreProb: p, training: true, seed: 5, step: 100 * s + trial });
        for (let b = 0; b < n; b++) vetoed += 1 - tc.halted[b];
      }
      const expected = (p * (nsup - s)) / (nsup - 1);
      const frac = vetoed / (2 * n),
        sd = Math.sqrt((expected * (1 - expected)) / (2 * n));
      expect(Math.abs(frac - expected)).toBeLessThanOrEqual(5 * sd + 1e-9);
    }
  });

  it('is seeded: the same (seed, step) gives the same draws, another step others', () => {
    const run = (step: number) => {
      const tc = newTrainCarry(500, 1, 1, 1);
      updateHalting(tc, new Float32Array(1000).fill(1), { nsup: 16, exploreProb: 0.5, training: true, seed: 3, step });
      return [...tc.halted].join('');
    };
    expect(run(7)).toBe(run(7));
    expect(run(7)).not.toBe(run(8));
  });
});
