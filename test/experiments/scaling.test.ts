/** The one-pass test-time scaling grid equals separate runs at each N_sup and k. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { AGGREGATORS, scalingCombos, testTimeScaling, type ScalingResult } from '../../src/experiments/index.js';
import { scalingCsv, scalingMarkdown } from '../../src/experiments/table.js';
import type { InitSpec } from '../../src/model/init.js';
import { resolveTrainConfig } from '../../src/train/config.js';
import { evaluate } from '../../src/train/evaluate.js';
import { createWorkspace, evalWeights, train } from '../../src/train/loop.js';
import { createTrainState, type TrainState } from '../../src/train/state.js';
import { makeSudoku4, type Sudoku4 } from '../train/fixture.js';

let d: Sudoku4, st: TrainState;
beforeAll(async () => {
  d = await makeSudoku4(40, 30, 2, mkdtempSync(join(tmpdir(), 'trm-scaling-')));
  st = createTrainState(
    resolveTrainConfig('cpu-sudoku4', {
      model: { hidden_size: 16, puzzle_emb_ndim: 16 },
      batch_size: 8,
      steps: 60,
      eval_interval: 0,
    }),
    d.train.meta,
  );
  await train(st, createWorkspace(st, d.train));
});

const random: InitSpec = { mode: 'random', scale: 1, training: false };
const row = (r: ScalingResult, agg: string, k: number, nsup: number) =>
  r.rows.find(x => x.aggregator === agg && x.k === k && x.nsup === nsup)!;

describe('test-time scaling in one pass', () => {
  it('static init, k = 1: each N_sup column equals a separate evaluation at that depth', async () => {
    const w = evalWeights(st);
    const grid = await testTimeScaling(st.model, w, d.test, {
      nsup: [1, 2, 3, 5],
      k: [1],
      aggregators: ['single'],
      init: { mode: 'static', scale: 1, training: false },
      seed: 0,
      batchSize: 16,
    });
    for (const n of [1, 2, 3, 5]) {
      const e = await evaluate(st.model, w, d.test, { batchSize: 16, nsup: n });
      expect(row(grid, 'single', 1, n).exact_acc).toBeCloseTo(e.exact_acc, 12);
      expect(row(grid, 'single', 1, n).token_acc).toBeCloseTo(e.token_acc, 12);
    }
    expect(grid.examples).toBe(30); // padding rows of the last batch (30 = 16 + 14) are excluded
  });

  it('random init: the grid equals separate runs for every aggregator, k and N_sup', async () => {
    const w = evalWeights(st),
      aggs = [...AGGREGATORS];
    const grid = await testTimeScaling(st.model, w, d.test, {
      nsup: [2, 4],
      k: [1, 2, 3],
      aggregators: aggs,
      init: random,
      seed: 7,
      batchSize: 16,
    });
    expect(grid.rows.length).toBe(scalingCombos(aggs, [1, 2, 3]).length * 2);
    for (const n of [2, 4])
      for (const k of [1, 2, 3]) {
        const one = await testTimeScaling(st.model, w, d.test, {
          nsup: [n],
          k: [k],
          aggregators: aggs,
          init: random,
          seed: 7,
          batchSize: 16,
        });
        for (const x of one.rows) expect(row(grid, x.aggregator, x.k, n)).toEqual(x);
      }
  });

  it('random chains differ and best-of-k bounds hold: oracle >= every aggregator; k = 1 aggregators equal single', async () => {
    const r = await testTimeScaling(st.model, evalWeights(st), d.test, {
      nsup: [4],
      k: [1, 4],
      aggregators: [...AGGREGATORS],
      init: random,
      seed: 1,
      batchSize: 16,
    });
    for (const a of ['cell-vote', 'puzzle-vote', 'confidence', 'vote-confidence']) {
      expect(row(r, a, 1, 4).exact_acc).toBe(row(r, 'single', 1, 4).exact_acc);
      expect(row(r, 'oracle', 4, 4).exact_acc).toBeGreaterThanOrEqual(row(r, a, 4, 4).exact_acc);
    }
    expect(row(r, 'oracle', 4, 4).exact_acc).toBeGreaterThanOrEqual(row(r, 'oracle', 1, 4).exact_acc);
    // a different seed draws other inits: some accuracy differs
    const r2 = await testTimeScaling(st.model, evalWeights(st), d.test, {
      nsup: [4],
      k: [1, 4],
      aggregators: ['single', 'oracle'],
      init: random,
      seed: 2,
      batchSize: 16,
    });
    expect(r2.rows.map(x => x.token_acc)).not.toEqual(
      r.rows.filter(x => x.aggregator === 'single' || x.aggregator === 'oracle').map(x => x.token_acc),
    );
  });

  it('writes the table as Markdown and long-form CSV', async () => {
    const r = await testTimeScaling(st.model, evalWeights(st), d.test, {
      nsup: [1, 2],
      k: [1, 2],
      aggregators: ['single', 'cell-vote'],
      init: random,
      seed: 0,
      batchSize: 16,
    });
    const md = scalingMarkdown(r, { checkpoint: 'ck', step: 60, data: 'd', split: 'test', init: 'random', seed: 0 });
    expect(md).toContain('| aggregator | k | compute | N=1 | N=2 |');
    expect(md.trim().split('\n').length).toBe(3 + 3 + 1); // caption, blank, header, rule, single/1 + cell-vote/1,2
    const csv = scalingCsv(r).trim().split('\n');
    expect(csv[0]).toBe('aggregator,k,noise,nsup,compute,exact_acc,token_acc');
    expect(csv.length).toBe(1 + 3 * 2);
  });
});
