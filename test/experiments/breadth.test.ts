/**
 * Test-time breadth on a trained 4x4 model (reference/test-time-breadth.md): PTRM noise, the
 * step-history selectors (convergence, first-halt, best-q-any) against a brute-force reference
 * that keeps every step of every chain, computed the old way (one padded batch per chain), and
 * evaluation cost (only real rows computed; the packing changes no result, bitwise).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DatasetSplit } from '../../src/data/dataset.js';
import {
  aggregate,
  type Aggregator,
  type ChainRecord,
  type ScalingOptions,
  scalingCsv,
  scalingMarkdown,
  scoreBoard,
  testTimeScaling,
} from '../../src/experiments/index.js';
import { pathIndependence } from '../../src/experiments/aas.js';
import { read, upload } from '../../src/kernels/core.js';
import { allocActs } from '../../src/model/acts.js';
import { chainRng, runChain } from '../../src/model/chain.js';
import type { InitSpec } from '../../src/model/init.js';
import type { Weights } from '../../src/model/params.js';
import { allocBatch, IGNORE_LABEL, uploadBatch } from '../../src/model/step.js';
import { resolveTrainConfig } from '../../src/train/config.js';
import { newBatch, splitSize, testBatch } from '../../src/train/data.js';
import { evaluate } from '../../src/train/evaluate.js';
import { createWorkspace, evalWeights, train } from '../../src/train/loop.js';
import { createTrainState, type TrainState } from '../../src/train/state.js';
import { makeSudoku4, type Sudoku4 } from '../train/fixture.js';

let d: Sudoku4, st: TrainState, w: Weights, wHalt: Weights;
beforeAll(async () => {
  // about half the held-out puzzles solved: the selectors have something to choose between
  d = await makeSudoku4(100, 30, 4, mkdtempSync(join(tmpdir(), 'trm-breadth-')));
  st = createTrainState(
    resolveTrainConfig('cpu-sudoku4', {
      model: { hidden_size: 32, puzzle_emb_ndim: 32 },
      batch_size: 8,
      steps: 300,
      eval_interval: 0,
    }),
    d.train.meta,
  );
  await train(st, createWorkspace(st, d.train));
  w = evalWeights(st);
  // this short run's q head never says halt (q_halt < 0 throughout); the same model with the halt
  // logit's bias raised by the median q_halt at step 3 halts on about half the chains by then, so
  // the halting selectors are exercised on real chains
  const q: number[] = [];
  await testTimeScaling(st.model, w, d.test, {
    ...{ nsup: [3], k: [3], aggregators: ['single'], init: perSample, seed: 3, batchSize: 16 },
    onRecord: (_s, _n, rec) => q.push(...rec.q[0]),
  });
  q.sort((a, b) => a - b);
  const bias = Float32Array.from(await read(w.qHeadB));
  bias[0] -= q[q.length >> 1];
  wHalt = { ...w, qHeadB: upload(bias) };
}, 120_000);

const perSample: InitSpec = { mode: 'random-per-sample', scale: 1, training: false };
const staticInit: InitSpec = { mode: 'static', scale: 1, training: false };

/** Every step of every chain of every puzzle, computed as before: one padded batch of B rows per chain. */
async function history(
  split: DatasetSplit,
  o: { k: number; nsup: number; init: InitSpec; seed: number; B: number; w: Weights },
) {
  const c = st.model,
    w = o.w,
    total = splitSize(split),
    a = allocActs(c, o.B),
    L = a.d.L,
    V = c.vocab_size;
  const batch = newBatch(o.B, L),
    dev = allocBatch(o.B, L);
  // h[e][r][s - 1] = { board, q, logits }
  const h: { board: Int32Array; q: number; logits: Float32Array }[][][] = [];
  const labels: Int32Array[] = [];
  for (let start = 0, bi = 0; start < total; start += o.B, bi++) {
    const n = testBatch(split, start, total, batch);
    for (let b = 0; b < n; b++) {
      h.push([]);
      labels.push(batch.labels.slice(b * L, (b + 1) * L));
    }
    uploadBatch(dev, batch);
    for (let r = 0; r < o.k; r++) {
      for (let b = 0; b < n; b++) h[start + b].push([]);
      await runChain(c, w, a, dev, {
        nsup: o.nsup,
        init: o.init,
        rng: chainRng(o.seed, bi, r),
        onStep: async (_s, res) => {
          const [preds, q, logits] = await Promise.all([read(res.preds), read(res.q), read(res.logits)]);
          for (let b = 0; b < n; b++)
            h[start + b][r].push({
              board: preds.slice(b * L, (b + 1) * L),
              q: q[2 * b],
              logits: logits.slice(b * L * V, (b + 1) * L * V),
            });
        },
      });
    }
  }
  return { h, labels, L, V };
}

/** The selectors by brute force over the whole history (independent of trace.ts): the board chosen for one puzzle at N. */
function bruteForce(
  agg: Aggregator,
  chains: { board: Int32Array; q: number; logits: Float32Array }[][],
  N: number,
  k: number,
  L: number,
  V: number,
) {
  const at = (r: number, s: number) => chains[r][s - 1];
  const confidence = () => {
    let best = 0;
    for (let r = 1; r < k; r++) if (at(r, N).q > at(best, N).q) best = r;
    return at(best, N).board;
  };
  switch (agg) {
    case 'convergence': {
      const score = (r: number) => {
        const t0 = Math.max(2, N - 2);
        if (N < 2) return Number.NaN;
        let sum = 0;
        for (let t = t0; t <= N; t++) {
          const a = at(r, t).logits,
            b = at(r, t - 1).logits;
          let tok = 0;
          for (let i = 0; i < L; i++) {
            let ss = 0;
            for (let v = 0; v < V; v++) ss += (a[i * V + v] - b[i * V + v]) ** 2;
            tok += Math.sqrt(ss);
          }
          sum += tok / L;
        }
        return sum / (N - t0 + 1);
      };
      let best = 0;
      for (let r = 1; r < k; r++) if (score(r) < score(best)) best = r;
      return at(best, N).board;
    }
    case 'first-halt': {
      let br = -1,
        bt = 0;
      for (let r = 0; r < k; r++)
        for (let t = 1; t <= N; t++)
          if (at(r, t).q > 0) {
            if (br < 0 || t < bt || (t === bt && at(r, t).q > at(br, bt).q)) {
              br = r;
              bt = t;
            }
            break;
          }
      return br < 0 ? confidence() : at(br, bt).board;
    }
    case 'best-q-any': {
      let br = 0,
        bt = 1;
      for (let t = 1; t <= N; t++) for (let r = 0; r < k; r++) if (at(r, t).q > at(br, bt).q) [br, bt] = [r, t];
      return at(br, bt).board;
    }
    default: {
      const out = new Int32Array(L);
      const boards = chains.slice(0, k).map(x => x[N - 1].board),
        q = chains.slice(0, k).map(x => x[N - 1].q);
      return aggregate(agg as Exclude<Aggregator, 'oracle'>, { boards, q }, out);
    }
  }
}

const grid = (o: Partial<ScalingOptions> & { w?: Weights }) =>
  testTimeScaling(st.model, o.w ?? w, d.test, {
    nsup: [1, 2, 5, 8],
    k: [1, 3],
    aggregators: ['single', 'confidence', 'puzzle-vote', 'convergence', 'first-halt', 'best-q-any'],
    init: perSample,
    seed: 3,
    batchSize: 16,
    ...o,
  });

/** Every recorded board and q_halt of a grid run, by (puzzle, chain, noise index, N_sup index). */
async function records(o: Partial<ScalingOptions> & { w?: Weights }) {
  const out = new Map<string, { board: number[]; q: number }>();
  const r = await grid({
    ...o,
    onRecord: (start: number, n: number, rec: ChainRecord) => {
      const kmax = Math.max(...(o.k ?? [1, 3])),
        nS = new Set(o.noise ?? [0]).size;
      for (let g = 0; g < nS; g++)
        for (let r = 0; r < kmax; r++)
          for (let b = 0; b < n; b++)
            rec.nsup.forEach((_, si) => {
              const row = (g * kmax + r) * n + b,
                ch = rec.chains(si, [row]);
              out.set(`${start + b}/${r}/${g}/${si}`, { board: Array.from(ch.boards[0]), q: ch.q[0] as number });
            });
    },
  });
  return { r, rec: out };
}

describe('test-time breadth', () => {
  it('every selector equals a brute-force reference over padded per-chain batches; chains and q_halt bitwise', async () => {
    const nsup = [1, 2, 5, 8],
      k = 3;
    const { h, labels, L, V } = await history(d.test, { k, nsup: 8, init: perSample, seed: 3, B: 16, w: wHalt });
    const { r, rec } = await records({ k: [1, k], w: wHalt }); // 30 puzzles: the last batch's 14 x 3 rows run in passes of 16, 16, 10
    expect(r.examples).toBe(30);
    // the recorded chains are the padded run's, bit for bit
    for (let e = 0; e < 30; e++)
      for (let c = 0; c < k; c++)
        nsup.forEach((N, si) => {
          const x = rec.get(`${e}/${c}/0/${si}`)!;
          expect(x.board).toEqual(Array.from(h[e][c][N - 1].board));
          expect(x.q).toBe(Math.fround(h[e][c][N - 1].q));
        });
    let distinct = 0;
    for (const agg of ['single', 'confidence', 'puzzle-vote', 'convergence', 'first-halt', 'best-q-any'] as const)
      for (const kk of agg === 'single' ? [1] : [1, k])
        for (const N of nsup) {
          let exact = 0;
          for (let e = 0; e < 30; e++) {
            const [valid, ok] = scoreBoard(bruteForce(agg, h[e], N, kk, L, V), labels[e], IGNORE_LABEL);
            if (ok === valid) exact++;
          }
          const row = r.rows.find(x => x.aggregator === agg && x.k === kk && x.nsup === N)!;
          expect(row.exact_acc, `${agg} k ${kk} N ${N}`).toBe(exact / 30);
          expect(row.compute).toBe(kk * N);
          if (exact > 0 && exact < 30) distinct++;
        }
    expect(distinct).toBeGreaterThan(10); // the model is neither hopeless nor perfect: the comparison means something
    // both branches of first-halt are taken: some puzzles have a chain halted by step 5, some none
    const halted = h.filter(chains => chains.some(c => c.slice(0, 5).some(x => x.q > 0))).length;
    expect(halted).toBeGreaterThan(0);
    expect(halted).toBeLessThan(30);
  });

  it('first-halt with one chain is evaluation with q-halting; convergence with one chain is that chain', async () => {
    const nsup = [1, 2, 3, 5, 8];
    const r = await grid({ k: [1], nsup, batchSize: 16, w: wHalt });
    let bites = 0;
    for (const N of nsup) {
      const e = await evaluate(st.model, wHalt, d.test, { batchSize: 16, nsup: N, init: perSample, seed: 3 });
      const at = (a: string) => r.rows.find(x => x.aggregator === a && x.k === 1 && x.nsup === N)!;
      expect(at('first-halt').exact_acc).toBe(e.exact_acc_halting);
      expect(at('convergence').exact_acc).toBe(e.exact_acc);
      expect(at('single').exact_acc).toBe(e.exact_acc);
      if (e.mean_halt_steps < N - 0.5) bites++;
    }
    expect(bites).toBeGreaterThan(1); // chains halt before N_sup: the halting answers are exercised
  });

  it('noise 0 is bitwise no noise; noise changes the chains, reproducibly per seed', async () => {
    const plain = await records({ nsup: [2, 5] });
    const mixed = await records({ noise: [0.3, 0], nsup: [2, 5] }); // sorted: index 0 is sigma 0
    expect(mixed.r.noise).toEqual([0, 0.3]);
    let differ = 0;
    for (const [key, x] of plain.rec) {
      expect(mixed.rec.get(key)).toEqual(x); // bitwise: q compared with toEqual on the float32 value
      const [e, c, , si] = key.split('/');
      if (mixed.rec.get(`${e}/${c}/1/${si}`)!.q !== x.q) differ++;
    }
    expect(differ).toBeGreaterThan(plain.rec.size / 2);
    expect(mixed.r.rows.filter(x => x.noise === 0)).toEqual(plain.r.rows);
    expect(mixed.r.rows.filter(x => x.noise === 0.3).map(x => x.token_acc)).not.toEqual(
      plain.r.rows.map(x => x.token_acc),
    );
    // the same seed again: the same numbers; another seed: others
    const again = await records({ noise: [0, 0.3], nsup: [2, 5] });
    expect(again.rec).toEqual(mixed.rec);
    const other = await records({ noise: [0, 0.3], nsup: [2, 5], seed: 4 });
    expect(
      [...other.rec.entries()].filter(([key, x]) => key.split('/')[2] === '1' && mixed.rec.get(key)!.q !== x.q).length,
    ).toBeGreaterThan(0);
  });

  it('noise on z, y and both perturb different latents; with static init the noisy chains differ', async () => {
    const q = async (noiseOn: 'z' | 'y' | 'both') =>
      [...(await records({ noise: [0.5], noiseOn, init: staticInit, nsup: [4] })).rec.values()].map(x => x.q);
    const [z, y, both] = [await q('z'), await q('y'), await q('both')];
    expect(z).not.toEqual(y);
    expect(z).not.toEqual(both);
    expect(y).not.toEqual(both);
    // static init: without noise the 3 chains of a puzzle are identical; with it they are not
    const { rec } = await records({ noise: [0.5], init: staticInit, nsup: [4] });
    let split = 0;
    for (let e = 0; e < 30; e++) if (rec.get(`${e}/0/0/0`)!.q !== rec.get(`${e}/1/0/0`)!.q) split++;
    expect(split).toBeGreaterThan(15);
  });

  it('an EqR model (damping, train_noise) runs the grid and path independence with its noise, reproducibly', async () => {
    const eqr = { ...st.model, damping: 0.05, train_noise: 0.05 };
    const run = (seed: number) =>
      testTimeScaling(eqr, w, d.test, {
        nsup: [2, 5],
        k: [1, 3],
        aggregators: ['single', 'convergence'],
        init: perSample,
        seed,
        batchSize: 16,
      });
    const [a, b, other] = [await run(3), await run(3), await run(4)];
    const plain = await testTimeScaling(st.model, w, d.test, {
      nsup: [2, 5],
      k: [1, 3],
      aggregators: ['single', 'convergence'],
      init: perSample,
      seed: 3,
      batchSize: 16,
    });
    expect(a.rows).toEqual(b.rows); // same seed, same numbers
    const tok = (r: typeof a) => r.rows.map(x => x.token_acc);
    expect(tok(other)).not.toEqual(tok(a)); // the noise follows the seed
    expect(tok(plain)).not.toEqual(tok(a)); // and damping + noise change the chains
    const aas = () =>
      pathIndependence(eqr, w, d.test, { nsup: 3, init: perSample, seed: 3, batchSize: 8, allPairs: false, limit: 16 });
    const [p1, p2] = [await aas(), await aas()];
    expect(p1.aas_z).toBe(p2.aas_z);
    expect(Number.isFinite(p1.aas_z)).toBe(true);
  });

  it('only real rows are computed, and how they are packed changes nothing', async () => {
    // 20 puzzles: a full batch of 16 and a short one of 4 (4 x 3 chains x 2 noise levels = 24 rows)
    const o: Partial<ScalingOptions> = { noise: [0, 0.2], noiseOn: 'both', limit: 20, nsup: [2, 5] };
    const base = await records(o);
    for (const rowsPerPass of [5, 256]) {
      const x = await records({ ...o, rowsPerPass });
      expect(x.rec).toEqual(base.rec);
      expect(x.r.rows).toEqual(base.r.rows);
      expect(x.r.row_steps).toBe(base.r.row_steps);
    }
    // 20 puzzles x 3 chains x 2 noise levels x 5 steps; padded batches would have been 32 x 3 x 2 x 5
    expect(base.r.row_steps).toBe(20 * 3 * 2 * 5);
    // two puzzles, 4 chains, --batch 128: 8 rows per step, not 4 x 128
    const two = await grid({ limit: 2, k: [4], nsup: [3], batchSize: 128 });
    expect(two.row_steps).toBe(2 * 4 * 3);
    expect(two.rows.every(x => x.compute === x.k * x.nsup)).toBe(true);
  });

  it('writes the noise and compute columns', async () => {
    const r = await grid({ noise: [0, 0.3], k: [1, 2], nsup: [2, 4], aggregators: ['single', 'best-q-any'] });
    const csv = scalingCsv(r).trim().split('\n');
    expect(csv[0]).toBe('aggregator,k,noise,nsup,compute,exact_acc,token_acc');
    expect(csv.length).toBe(1 + 2 * 3 * 2); // 2 noise levels x (single/1, best-q-any/1, best-q-any/2) x 2 N_sup
    expect(csv.filter(l => l.startsWith('best-q-any,2,0.3,4,8,'))).toHaveLength(1);
    const meta = { checkpoint: 'ck', step: 300, data: 'd', split: 'test', init: 'random-per-sample', seed: 3 };
    const md = scalingMarkdown(r, meta);
    expect(md).toContain('| aggregator | k | noise | compute | N=2 | N=4 |');
    expect(md).toContain('| best-q-any | 2 | 0.3 | 2 × N |');
    // without noise there is no noise column
    const plain = scalingMarkdown(await grid({ k: [1], nsup: [2], aggregators: ['single'] }), meta);
    expect(plain).toContain('| aggregator | k | compute | N=2 |');
    expect(plain).toContain('| single | 1 | 1 × N |');
  });

  it('refuses bad noise settings with one line', async () => {
    await expect(grid({ noise: [-0.1] })).rejects.toThrow(/noise std must be finite and >= 0/);
    await expect(grid({ noise: [0.1], noiseOn: 'x' as 'z' })).rejects.toThrow(/noise target must be one of z, y, both/);
  });
});
