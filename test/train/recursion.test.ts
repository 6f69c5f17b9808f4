/** Randomised recursion, CGAR curriculum and supervision weighting (reference/experiments.md 5, 8). */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/data/rng.js';
import { allocActs, createParams, resolveConfig, supervisionStep, weightsView } from '../../src/model/index.js';

import { loadTrainState, saveCheckpoint } from '../../src/train/checkpoint.js';
import { resolveTrainConfig, type TrainConfig } from '../../src/train/config.js';
import { createWorkspace, train, trainStep } from '../../src/train/loop.js';
import {
  curriculumDepth,
  drawAround,
  expectedCompute,
  stepDepth,
  supervisionWeights,
} from '../../src/train/recursion.js';
import { createTrainState } from '../../src/train/state.js';
import { host, staticCarry } from '../helpers.js';
import { makeSudoku4, type Sudoku4 } from './fixture.js';

let d: Sudoku4;
const root = mkdtempSync(join(tmpdir(), 'trm-recursion-'));
beforeAll(async () => {
  d = await makeSudoku4(40, 10, 2, root);
});
const tiny = (over: Partial<TrainConfig> = {}) =>
  resolveTrainConfig('cpu-sudoku4', {
    model: { hidden_size: 16, puzzle_emb_ndim: 16 },
    batch_size: 4,
    steps: 12,
    log_interval: 3,
    eval_interval: 0,
    ...over,
  });

describe('recursion samplers', () => {
  it('drawAround is uniform on [max(1, d - w), d + w]', () => {
    const rng = new Rng(1),
      count = new Map<number, number>();
    for (let i = 0; i < 60000; i++) {
      const v = drawAround(6, 2, rng);
      count.set(v, (count.get(v) ?? 0) + 1);
    }
    expect([...count.keys()].sort()).toEqual([4, 5, 6, 7, 8]);
    for (const n of count.values()) expect(Math.abs(n / 60000 - 0.2)).toBeLessThan(0.01);
    // clipped at 1: d = 2, w = 3 -> {1..5}, mean 3 (above d: the draw is not symmetric any more)
    let sum = 0;
    const seen = new Set<number>();
    for (let i = 0; i < 50000; i++) {
      const v = drawAround(2, 3, rng);
      sum += v;
      seen.add(v);
    }
    expect([...seen].sort()).toEqual([1, 2, 3, 4, 5]);
    expect(sum / 50000).toBeCloseTo(3, 1);
    expect(drawAround(5, 0, rng)).toBe(5);
  });

  it("CGAR: (2,1) -> (4,2) -> (6,3) at 30% / 60% of the steps for the paper's n 6, T 3", () => {
    const c = resolveConfig({ L_cycles: 6, H_cycles: 3, vocab_size: 11, seq_len: 81, num_puzzle_identifiers: 1 });
    const at = (t: number) => curriculumDepth(c, t, 1000);
    expect(at(1)).toEqual({ n: 2, T: 1 });
    expect(at(300)).toEqual({ n: 2, T: 1 });
    expect(at(301)).toEqual({ n: 4, T: 2 });
    expect(at(600)).toEqual({ n: 4, T: 2 });
    expect(at(601)).toEqual({ n: 6, T: 3 });
    expect(at(1000)).toEqual({ n: 6, T: 3 });
    // expected compute: 0.3 * 3 + 0.3 * 10 + 0.4 * 21 = 12.3 net calls vs 21
    const e = expectedCompute(resolveTrainConfig('paper-sudoku-mlp', { curriculum: 'cgar' }), c);
    expect(e.net_calls).toBeCloseTo(12.3, 10);
    expect(e.net_calls_ratio).toBeCloseTo(12.3 / 21, 10);
  });

  it('expected compute of randomised n and T (independent draws)', () => {
    const c = resolveConfig({
      L_cycles: 6,
      H_cycles: 3,
      halt_max_steps: 16,
      vocab_size: 11,
      seq_len: 81,
      num_puzzle_identifiers: 1,
    });
    const e = expectedCompute(
      resolveTrainConfig('paper-sudoku-mlp', { rand_n_width: 2, rand_T_width: 1, rand_nsup_width: 8 }),
      c,
    );
    expect(e.net_calls).toBeCloseTo(3 * 7, 10); // E[T] E[n + 1] = 3 * 7: symmetric draws keep the mean
    expect(e.nsup_cap).toBeCloseTo(16, 10);
    const clipped = expectedCompute(resolveTrainConfig('paper-sudoku-mlp', { rand_n_width: 8 }), c);
    expect(clipped.grad_calls).toBeCloseTo(8.5, 10); // n on [1, 14] (clipped at 1): E[n + 1] = 8.5 > 7
    const clamp = expectedCompute(
      resolveTrainConfig('paper-sudoku-mlp', { rand_nsup_width: 2, rand_nsup_clamp: true }),
      c,
    );
    expect(clamp.nsup_cap).toBeCloseTo((14 + 15 + 16 + 16 + 16) / 5, 10);
  });

  it('stepDepth is a function of (seed, step): same step, same draw', () => {
    const c = resolveConfig({ L_cycles: 3, H_cycles: 2, vocab_size: 11, seq_len: 81, num_puzzle_identifiers: 1 });
    const cfg = resolveTrainConfig('cpu-sudoku9', { rand_n_width: 2, rand_T_width: 1 });
    expect(stepDepth(cfg, c, 17, 100)).toEqual(stepDepth(cfg, c, 17, 100));
    const ns = new Set(Array.from({ length: 200 }, (_, t) => stepDepth(cfg, c, t + 1, 200).n));
    expect([...ns].sort()).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('supervision weighting', () => {
  it("weights scale each sample's gradient: g(w) = w0 g(e0) + w1 g(e1)", () => {
    const c = resolveConfig({
      hidden_size: 16,
      puzzle_emb_ndim: 16,
      puzzle_emb_len: 1,
      vocab_size: 6,
      seq_len: 4,
      num_puzzle_identifiers: 3,
      L_cycles: 2,
      H_cycles: 1,
      mlp_t: true,
      pos_encodings: 'none',
      expansion: 2,
    });
    const w = createParams(c, 3),
      a = allocActs(c, 2);
    const batch = {
      inputs: Int32Array.from([1, 2, 3, 4, 5, 1, 2, 3]),
      labels: Int32Array.from([2, 3, 4, 5, 1, 2, 3, 4]),
      puzzleIds: Int32Array.from([1, 2]),
    };
    const grad = (sw: number[]) => {
      const g = weightsView(c);
      supervisionStep(c, w, a, staticCarry(c, w, 2, a.d.S), batch, g, 0.5, Float32Array.from(sw));
      return host(g.data);
    };
    const g0 = grad([1, 0]),
      g1 = grad([0, 1]),
      gw = grad([0.7, 0.49]);
    let err = 0,
      scale = 0;
    for (let i = 0; i < gw.length; i++) {
      err = Math.max(err, Math.abs(gw[i] - (0.7 * g0[i] + 0.49 * g1[i])));
      scale = Math.max(scale, Math.abs(gw[i]));
    }
    expect(scale).toBeGreaterThan(0);
    expect(err).toBeLessThan(1e-5 * scale);
    expect(Array.from(supervisionWeights(new Float32Array(3), Int32Array.from([0, 1, 3]), 0.7))).toEqual([
      1,
      Math.fround(0.7),
      Math.fround(0.7 ** 3),
    ]);
  });
});

describe('training with randomised recursion', () => {
  it('draws above the default take effect: deeper steps run, slots run past the default N_sup', async () => {
    const st = createTrainState(tiny({ rand_n_width: 2, rand_nsup_width: 3, ema: false }), d.train.meta);
    const ws = createWorkspace(st, d.train);
    const base = st.model.H_cycles * (st.model.L_cycles + 1); // T 2, n 2: 6
    const calls = new Set<number>();
    let maxSteps = 0;
    for (let i = 0; i < 40; i++) {
      const r = await trainStep(st, ws);
      calls.add(r.netCalls);
      for (const s of st.carry.steps) maxSteps = Math.max(maxSteps, s);
      for (let b = 0; b < 4; b++) expect(st.carry.steps[b]).toBeLessThanOrEqual(st.carry.cap[b]);
    }
    expect(Math.max(...calls)).toBeGreaterThan(base); // n up to 4: T (n + 1) = 10
    expect(Math.min(...calls)).toBeLessThan(base);
    expect(maxSteps).toBeGreaterThan(st.model.halt_max_steps); // caps up to N_sup + 3
    for (const cap of st.carry.cap) {
      expect(cap).toBeGreaterThanOrEqual(1);
      expect(cap).toBeLessThanOrEqual(st.model.halt_max_steps + 3);
    }
  });

  it('the clamp flag reproduces trm-jax: no slot runs past the default N_sup', async () => {
    const st = createTrainState(tiny({ rand_nsup_width: 3, rand_nsup_clamp: true, ema: false }), d.train.meta);
    const ws = createWorkspace(st, d.train);
    for (let i = 0; i < 30; i++) {
      await trainStep(st, ws);
      for (const s of st.carry.steps) expect(s).toBeLessThanOrEqual(st.model.halt_max_steps);
    }
  });

  it('resumes exactly with random init, random n / T / N_sup, CGAR and weighting on', async () => {
    const cfg = tiny({
      steps: 10,
      train_init: 'random-per-sample',
      rand_n_width: 1,
      rand_T_width: 1,
      rand_nsup_width: 2,
      curriculum: 'cgar',
      hsw_decay: 0.7,
    });
    const full = createTrainState(cfg, d.train.meta),
      lossA: number[] = [];
    await train(full, createWorkspace(full, d.train), { onStep: (_s, r) => lossA.push(r.loss) });
    const part = createTrainState(cfg, d.train.meta),
      lossB: number[] = [];
    let stop = false;
    await train(part, createWorkspace(part, d.train), {
      onStep: (s, r) => {
        lossB.push(r.loss);
        if (s.step === 4) stop = true;
      },
      stopRequested: () => stop,
    });
    saveCheckpoint(join(root, 'rand-run'), part);
    const { state } = loadTrainState(join(root, 'rand-run'));
    expect(Array.from(state.carry.cap)).toEqual(Array.from(part.carry.cap));
    await train(state, createWorkspace(state, d.train), { onStep: (_s, r) => lossB.push(r.loss) });
    expect(lossB).toEqual(lossA);
    expect(state.params.data).toEqual(full.params.data);
  });

  it('refuses bad settings with the key and what was expected', () => {
    expect(() => tiny({ train_init: 'gaussian' as never })).toThrow(
      /train_init must be one of static, random, random-per-sample, mixed/,
    );
    expect(() => tiny({ rand_n_width: -1 })).toThrow(/rand_n_width must be an integer >= 0/);
    expect(() => tiny({ curriculum: 'pdc' as never })).toThrow(/curriculum must be 'none' or 'cgar'/);
    expect(() => tiny({ hsw_decay: 0 })).toThrow(/hsw_decay must be in \(0, 1\]/);
  });
});
