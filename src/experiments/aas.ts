/**
 * aas.ts: path independence, the Asymptotic Alignment Score (reference/experiments.md 7). Pass 1
 * runs each puzzle from the init for N steps; pass 2 runs it again for N steps from ANOTHER
 * puzzle's final (y, z): the batch rolled by one (the blog's "swap" score), or by every offset
 * 0..n-1 (Anil et al.'s all pairs, j = i included). Scores: cosine of the flattened final y (and
 * z) of the two passes, over the full [S, D] latent including the puzzle-prefix positions, and
 * the fraction of cells whose predictions agree. The curve compares pass 2 after each step s with
 * pass 1's FINAL state and answer, so it shows how fast a foreign start is pulled to the same end.
 * The core works on any recurrence (LatentRunner), which is how it is tested on toy maps.
 */
import type { DatasetSplit } from '../data/dataset.js';
import { Rng, STREAM } from '../data/rng.js';
import { allocActs, type StepActs } from '../model/acts.js';
import type { TrmConfig } from '../model/config.js';
import { chainRng } from '../model/chain.js';
import { startCarry } from '../model/carry.js';
import type { InitSpec } from '../model/init.js';
import type { Weights } from '../model/params.js';
import { read, write } from '../kernels/core.js';
import { allocCarry } from '../model/carry.js';
import { runChain } from '../model/chain.js';
import { allocBatch, IGNORE_LABEL, type Batch, uploadBatch } from '../model/step.js';
import { newBatch, splitSize, testBatch } from '../train/data.js';
import { scoreBoard } from './aggregate.js';

/** A batch of B recurrent states, each `per` floats in y and in z, with L predicted cells. */
export interface LatentRunner {
  B: number;
  per: number;
  L: number;
  /** Run `steps` steps from (y, z) in place; after each, onStep(s, preds (B x L), y, z). */
  run(
    y: Float32Array,
    z: Float32Array,
    steps: number,
    onStep: (s: number, preds: Int32Array, y: Float32Array, z: Float32Array) => void,
  ): Promise<void>;
}

/** Sums over scored (puzzle, second pass) pairs after each pass-2 step; the final scores are the last entries. */
export interface AasSums {
  samples: number;
  /** cells per puzzle */
  L: number;
  cosY: Float64Array; // (steps) cos(pass-2 y after step s, pass-1 final y)
  cosZ: Float64Array;
  match: Float64Array; // (steps) cells agreeing with pass 1's final answer
}

export function emptyAasSums(steps: number, L: number): AasSums {
  return {
    samples: 0,
    L,
    cosY: new Float64Array(steps),
    cosZ: new Float64Array(steps),
    match: new Float64Array(steps),
  };
}

/** cos(a, b) = <a, b> / max(|a| |b|, 1e-8), in double precision. */
export function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0,
    aa = 0,
    bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.max(Math.sqrt(aa) * Math.sqrt(bb), 1e-8);
}

export interface AasBatchResult {
  /** pass-1 final predictions (B x L) */
  preds: Int32Array;
  swap: AasSums;
  allPairs: AasSums | null;
}

/**
 * Pass 1 from (y0, z0), then pass 2 from the rolled finals. Only rows 0..n-1 are scored and
 * rolled among themselves (padding rows keep their own state). Needs n >= 2.
 */
export async function aasBatch(
  run: LatentRunner,
  y0: Float32Array,
  z0: Float32Array,
  n: number,
  steps: number,
  allPairs: boolean,
): Promise<AasBatchResult> {
  const { B, per, L } = run;
  const y1 = y0.slice(),
    z1 = z0.slice(),
    p1 = new Int32Array(B * L);
  await run.run(y1, z1, steps, (s, preds) => {
    if (s === steps) p1.set(preds);
  });
  const pass2 = async (offset: number, sums: AasSums) => {
    const y2 = y1.slice(),
      z2 = z1.slice();
    for (let b = 0; b < n; b++) {
      const src = (b - offset + n) % n;
      y2.set(y1.subarray(src * per, (src + 1) * per), b * per);
      z2.set(z1.subarray(src * per, (src + 1) * per), b * per);
    }
    await run.run(y2, z2, steps, (s, preds, y, z) => {
      for (let b = 0; b < n; b++) {
        const cy = cosine(y.subarray(b * per, (b + 1) * per), y1.subarray(b * per, (b + 1) * per));
        const cz = cosine(z.subarray(b * per, (b + 1) * per), z1.subarray(b * per, (b + 1) * per));
        let m = 0;
        for (let i = b * L; i < (b + 1) * L; i++) if (preds[i] === p1[i]) m++;
        sums.cosY[s - 1] += cy;
        sums.cosZ[s - 1] += cz;
        sums.match[s - 1] += m;
      }
    });
    sums.samples += n;
  };
  const swap = emptyAasSums(steps, L);
  await pass2(1, swap);
  let all: AasSums | null = null;
  if (allPairs) {
    all = emptyAasSums(steps, L);
    for (let j = 0; j < n; j++) await pass2(j, all);
  }
  return { preds: p1, swap, allPairs: all };
}

export function addAasSums(into: AasSums, s: AasSums): void {
  into.samples += s.samples;
  for (let i = 0; i < into.match.length; i++) {
    into.cosY[i] += s.cosY[i];
    into.cosZ[i] += s.cosZ[i];
    into.match[i] += s.match[i];
  }
}

/** Scores after pass-2 step `step` (the final ones at step N). */
export interface AasPoint {
  step: number;
  aas_y: number;
  aas_z: number;
  pred_match: number;
}

export interface AasScores extends Omit<AasPoint, 'step'> {
  curve: AasPoint[];
}

export function aasScores(s: AasSums): AasScores {
  const ns = Math.max(1, s.samples);
  const curve = Array.from(s.match, (m, i) => ({
    step: i + 1,
    aas_y: s.cosY[i] / ns,
    aas_z: s.cosZ[i] / ns,
    pred_match: m / (ns * s.L),
  }));
  return { ...finalScores(curve[curve.length - 1]), curve };
}

const finalScores = (p: Omit<AasPoint, 'step'>) => ({ aas_y: p.aas_y, aas_z: p.aas_z, pred_match: p.pred_match });

// ---- the model ---------------------------------------------------------------------------------

/** A LatentRunner over the TRM: y, z are the carry, one step is one supervision step (no halting).
 *  The scores need the latents on the host: they are written to the device carry before the
 *  chain and read back after every step (the numbers AAS reports). */
export function trmRunner(c: TrmConfig, w: Weights, a: StepActs, batch: Batch): LatentRunner {
  const { B, S, D, L } = a.d,
    carry = allocCarry(B, S, D);
  return {
    B,
    per: S * D,
    L,
    async run(y, z, steps, onStep) {
      write(carry.y, y);
      write(carry.z, z);
      // EqR models (train_noise > 0): the same noise sequence in every pass, so pass 1 and the
      // foreign-start pass 2 differ by their start alone
      if (c.train_noise > 0) carry.noise = new Rng(0, STREAM.eqrEvalNoise);
      await runChain(c, w, a, batch, {
        nsup: steps,
        init: { mode: 'static', scale: 1, training: false },
        rng: null,
        carry,
        onStep: async (s, r) => {
          const [preds, yd, zd] = await Promise.all([read(r.preds), read(carry.y), read(carry.z)]);
          y.set(yd);
          z.set(zd);
          onStep(s, preds, y, z);
        },
      });
    },
  };
}

export interface AasOptions {
  nsup: number;
  init: InitSpec;
  seed: number;
  batchSize: number;
  allPairs: boolean;
  limit?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface AasResult extends AasScores {
  examples: number;
  nsup: number;
  /** pass-1 exact accuracy (the model's accuracy from this init) */
  exact_acc: number;
  all_pairs: Omit<AasScores, 'curve'> | null;
  seconds: number;
}

export async function pathIndependence(
  c: TrmConfig,
  w: Weights,
  split: DatasetSplit,
  o: AasOptions,
): Promise<AasResult> {
  const t0 = performance.now();
  const total = o.limit ? Math.min(o.limit, splitSize(split)) : splitSize(split),
    B = o.batchSize;
  const a = allocActs(c, B),
    { L, S } = a.d,
    batch = newBatch(B, L),
    dev = allocBatch(B, L);
  const swap = emptyAasSums(o.nsup, L),
    all = emptyAasSums(o.nsup, L);
  let exact = 0,
    scored = 0;
  for (let start = 0, bi = 0; start < total; start += B, bi++) {
    const n = testBatch(split, start, total, batch);
    uploadBatch(dev, batch);
    const carry = startCarry(c, w, B, S, o.init, chainRng(o.seed, bi, 0));
    if (n >= 2) {
      const [y0, z0] = await Promise.all([read(carry.y), read(carry.z)]);
      const r = await aasBatch(trmRunner(c, w, a, dev), y0.slice(), z0.slice(), n, o.nsup, o.allPairs);
      addAasSums(swap, r.swap);
      if (r.allPairs) addAasSums(all, r.allPairs);
      for (let b = 0; b < n; b++) {
        const [valid, ok] = scoreBoard(
          r.preds.subarray(b * L, (b + 1) * L),
          batch.labels.subarray(b * L, (b + 1) * L),
          IGNORE_LABEL,
        );
        if (ok === valid) exact++;
      }
      scored += n;
    }
    o.onProgress?.(start + n, total);
  }
  return {
    examples: scored,
    nsup: o.nsup,
    exact_acc: exact / Math.max(1, scored),
    ...aasScores(swap),
    all_pairs: o.allPairs ? finalScores(aasScores(all)) : null,
    seconds: (performance.now() - t0) / 1000,
  };
}
