/**
 * evaluate.ts: accuracy on a split (reference/trm-algorithm.md 6.3): every chunk starts from a
 * fresh carry and runs all N_sup supervision steps (q_halt does not stop it); the prediction is the
 * argmax after the last step. Also reported, at no extra cost: exact accuracy after each step
 * (test-time depth) and with q-based halting (the answer at the first step with q_halt > 0).
 * Streams over the split in chunks, so memory does not grow with its size.
 */
import type { DatasetSplit } from '../data/dataset.js';
import { read } from '../kernels/core.js';
import { type StepActs, allocActs } from '../model/acts.js';
import { chainRng, runChain } from '../model/chain.js';
import type { TrmConfig } from '../model/config.js';
import type { InitSpec } from '../model/init.js';
import type { Weights } from '../model/params.js';
import { allocBatch, uploadBatch } from '../model/step.js';
import { newBatch, splitSize, testBatch } from './data.js';

export interface EvalOptions {
  batchSize: number;
  /** supervision steps (default: the config's halt_max_steps) */
  nsup?: number;
  /** evaluate the first `limit` examples only (0 = all) */
  limit?: number;
  onProgress?: (done: number, total: number) => void;
  /** reuse activations across calls (must match batchSize) */
  acts?: StepActs;
  /** where each batch starts (default: static, the H_init / L_init buffers) */
  init?: InitSpec;
  /** seed of the random init modes (chain 0 of each batch, as testTimeScaling) */
  seed?: number;
}

export interface EvalResult {
  examples: number;
  nsup: number;
  exact_acc: number;
  token_acc: number;
  /** lm loss per sample after the last step */
  lm_loss: number;
  /** exact accuracy after step 1..nsup */
  exact_by_step: number[];
  /** exact accuracy when each sample stops at its first q_halt > 0 (else at nsup) */
  exact_acc_halting: number;
  /** mean supervision steps under q-based halting */
  mean_halt_steps: number;
  seconds: number;
}

export async function evaluate(c: TrmConfig, w: Weights, split: DatasetSplit, o: EvalOptions): Promise<EvalResult> {
  const t0 = performance.now();
  const nsup = o.nsup ?? c.halt_max_steps,
    B = o.batchSize;
  const total = o.limit ? Math.min(o.limit, splitSize(split)) : splitSize(split);
  const a = o.acts ?? allocActs(c, B),
    L = a.d.L;
  const batch = newBatch(B, L),
    dev = allocBatch(B, L);
  const byStep = new Array<number>(nsup).fill(0);
  const stopStep = new Int32Array(B),
    stopOk = new Uint8Array(B);
  let exact = 0,
    token = 0,
    lm = 0,
    haltExact = 0,
    haltSteps = 0;
  const init = o.init ?? { mode: 'static', scale: 1, training: false };
  for (let start = 0, bi = 0; start < total; start += B, bi++) {
    const n = testBatch(split, start, total, batch);
    uploadBatch(dev, batch);
    stopStep.fill(0);
    await runChain(c, w, a, dev, {
      nsup,
      init,
      rng: chainRng(o.seed ?? 0, bi, 0),
      onStep: async (s, r) => {
        const [seqCorrect, q] = await Promise.all([read(r.seqCorrect), read(r.q)]);
        for (let b = 0; b < n; b++) {
          byStep[s - 1] += seqCorrect[b];
          if (stopStep[b] === 0 && (q[2 * b] > 0 || s === nsup)) {
            stopStep[b] = s;
            stopOk[b] = seqCorrect[b];
          }
        }
        if (s < nsup) return;
        const [counts, tokLoss] = await Promise.all([read(r.counts), read(r.tokLoss)]);
        for (let b = 0; b < n; b++) {
          const valid = counts[2 * b];
          exact += seqCorrect[b];
          token += valid > 0 ? counts[2 * b + 1] / valid : 0;
          haltExact += stopOk[b];
          haltSteps += stopStep[b];
        }
        lm += perSampleLoss(tokLoss, counts, L, n);
      },
    });
    o.onProgress?.(start + n, total);
  }
  const d = Math.max(1, total);
  return {
    examples: total,
    nsup,
    exact_acc: exact / d,
    token_acc: token / d,
    lm_loss: lm / d,
    exact_by_step: byStep.map(v => v / d),
    exact_acc_halting: haltExact / d,
    mean_halt_steps: haltSteps / d,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Sum over the first n samples of the mean token loss (the padded rest is ignored). */
function perSampleLoss(tokLoss: Float32Array, counts: Int32Array, L: number, n: number): number {
  let s = 0;
  for (let b = 0; b < n; b++) {
    let t = 0;
    for (let i = b * L; i < (b + 1) * L; i++) t += tokLoss[i];
    s += t / Math.max(1, counts[2 * b]);
  }
  return s;
}
