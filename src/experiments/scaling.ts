/**
 * scaling.ts: test-time scaling in one pass (reference/experiments.md 3-4). For every test batch,
 * k chains start from their own latent init (chain r of batch i draws from Rng(seed, STREAM.eval, i, r))
 * and run without halting to the largest N_sup; at each requested N_sup the chains' boards and
 * q_halt are kept, and every aggregator and every k (the first k chains) is read off those same
 * passes. Evaluation runs no halting, so the answer at step s is what a run with N_sup = s gives.
 * Padding rows of the last batch are excluded.
 */
import type { DatasetSplit } from '../data/dataset.js';
import { TrmError } from '../errors.js';
import { allocActs, type StepActs } from '../model/acts.js';
import type { TrmConfig } from '../model/config.js';
import { read } from '../kernels/core.js';
import { chainRng, MAX_CHAINS, runChain } from '../model/chain.js';
import type { InitSpec } from '../model/init.js';
import type { Weights } from '../model/params.js';
import { allocBatch, IGNORE_LABEL, uploadBatch } from '../model/step.js';
import { newBatch, splitSize, testBatch } from '../train/data.js';
import { aggregate, type Aggregator, scoreBoard } from './aggregate.js';

export interface ScalingOptions {
  nsup: number[];
  k: number[];
  aggregators: Aggregator[];
  init: InitSpec;
  seed: number;
  batchSize: number;
  limit?: number;
  onProgress?: (done: number, total: number) => void;
  acts?: StepActs;
}

export interface ScalingRow {
  aggregator: Aggregator;
  k: number;
  nsup: number;
  exact_acc: number;
  token_acc: number;
}

export interface ScalingResult {
  examples: number;
  nsup: number[];
  k: number[];
  aggregators: Aggregator[];
  rows: ScalingRow[];
  seconds: number;
}

/** The (aggregator, k) pairs reported: 'single' only at k = 1 (it reads chain 0 whatever k is). */
export function scalingCombos(aggs: Aggregator[], ks: number[]): [Aggregator, number][] {
  const out: [Aggregator, number][] = [];
  for (const a of aggs) for (const k of ks) if (a !== 'single' || k === 1) out.push([a, k]);
  if (aggs.includes('single') && !ks.includes(1)) out.unshift(['single', 1]);
  return out;
}

export async function testTimeScaling(
  c: TrmConfig,
  w: Weights,
  split: DatasetSplit,
  o: ScalingOptions,
): Promise<ScalingResult> {
  const t0 = performance.now();
  const nsups = [...new Set(o.nsup)].sort((a, b) => a - b),
    ks = [...new Set(o.k)].sort((a, b) => a - b);
  const maxN = nsups[nsups.length - 1],
    kmax = ks[ks.length - 1],
    B = o.batchSize;
  if (!(nsups[0] >= 1) || !(ks[0] >= 1) || kmax > MAX_CHAINS)
    throw new TrmError('TRM_BAD_CONFIG', `scaling: N_sup and k must be >= 1 and k <= ${MAX_CHAINS}`);
  const total = o.limit ? Math.min(o.limit, splitSize(split)) : splitSize(split);
  const a = o.acts ?? allocActs(c, B),
    L = a.d.L;
  const batch = newBatch(B, L),
    dev = allocBatch(B, L);
  // boards[r][si] (B x L) and q[r][si] (B): chain r at the si-th requested N_sup
  const boards = Array.from({ length: kmax }, () => nsups.map(() => new Int32Array(B * L)));
  const qs = Array.from({ length: kmax }, () => nsups.map(() => new Float32Array(B)));
  const combos = scalingCombos(o.aggregators, ks);
  const exact = new Float64Array(combos.length * nsups.length),
    token = new Float64Array(combos.length * nsups.length);
  const out = new Int32Array(L);
  for (let start = 0, bi = 0; start < total; start += B, bi++) {
    const n = testBatch(split, start, total, batch);
    uploadBatch(dev, batch);
    for (let r = 0; r < kmax; r++) {
      let si = 0;
      await runChain(c, w, a, dev, {
        nsup: maxN,
        init: o.init,
        rng: chainRng(o.seed, bi, r),
        onStep: async (s, res) => {
          if (s !== nsups[si]) return;
          const [preds, q] = await Promise.all([read(res.preds), read(res.q)]);
          boards[r][si].set(preds);
          for (let b = 0; b < B; b++) qs[r][si][b] = q[2 * b];
          si++;
        },
      });
    }
    for (let si = 0; si < nsups.length; si++) {
      for (let b = 0; b < n; b++) {
        const labels = batch.labels.subarray(b * L, (b + 1) * L);
        const chainBoards = boards.map(br => br[si].subarray(b * L, (b + 1) * L)),
          chainQ = qs.map(qr => qr[si][b]);
        combos.forEach(([agg, k], ci) => {
          const idx = ci * nsups.length + si;
          if (agg === 'oracle') {
            let anyExact = 0,
              bestTok = 0;
            for (let r = 0; r < k; r++) {
              const [valid, ok] = scoreBoard(chainBoards[r], labels, IGNORE_LABEL);
              if (ok === valid) anyExact = 1;
              bestTok = Math.max(bestTok, valid > 0 ? ok / valid : 0);
            }
            exact[idx] += anyExact;
            token[idx] += bestTok;
            return;
          }
          aggregate(agg, { boards: chainBoards.slice(0, k), q: chainQ.slice(0, k) }, out);
          const [valid, ok] = scoreBoard(out, labels, IGNORE_LABEL);
          if (ok === valid) exact[idx] += 1;
          token[idx] += valid > 0 ? ok / valid : 0;
        });
      }
    }
    o.onProgress?.(start + n, total);
  }
  const d = Math.max(1, total),
    rows: ScalingRow[] = [];
  combos.forEach(([aggregator, k], ci) => {
    nsups.forEach((nsup, si) => {
      rows.push({
        aggregator,
        k,
        nsup,
        exact_acc: exact[ci * nsups.length + si] / d,
        token_acc: token[ci * nsups.length + si] / d,
      });
    });
  });
  return {
    examples: total,
    nsup: nsups,
    k: ks,
    aggregators: o.aggregators,
    rows,
    seconds: (performance.now() - t0) / 1000,
  };
}
