/**
 * optim.ts: the two optimizers of TRM training (reference/trm-algorithm.md 7) and the EMA (8), as
 * init / step pairs over the flat parameter block. Dense parameters (every trainable tensor, no
 * exclusions) take AdamATan2 or AdamW; the puzzle-embedding rows present in the batch take
 * SignSGD with decoupled decay; H_init / L_init never change. Moments and the EMA shadow reuse
 * the parameter layout, so a checkpoint saves them by the same names.
 */
import { adamAtan2Step, adamwStep, emaUpdate, signSgdRows } from '../kernels/index.js';
import type { Weights } from '../model/params.js';
import type { TrainConfig } from './config.js';

export interface OptState {
  m: Float32Array; // same layout as the parameter block; only trainable ranges are used
  v: Float32Array;
}

export function optInit(w: Weights): OptState {
  return { m: new Float32Array(w.data.length), v: new Float32Array(w.data.length) };
}

/** One dense step (t counted from 1) on every trainable tensor. */
export function denseStep(w: Weights, g: Weights, s: OptState, cfg: TrainConfig, lr: number, t: number): void {
  for (const e of w.spec) {
    if (!e.trainable) continue;
    const r = (a: Float32Array) => a.subarray(e.offset, e.offset + e.size);
    if (cfg.optimizer === 'adamw') adamwStep(r(w.data), r(s.m), r(s.v), r(g.data), e.size, lr, cfg.beta1, cfg.beta2, cfg.adamw_eps, cfg.weight_decay, t);
    else adamAtan2Step(r(w.data), r(s.m), r(s.v), r(g.data), e.size, lr, cfg.beta1, cfg.beta2, cfg.weight_decay, t);
  }
}

/** SignSGD on the puzzle-embedding rows whose ids occur in the batch (gradients already summed per id).
 *  `rows` (>= B) receives the distinct ids in first-seen order: they are host data (the batch). */
export function puzzleEmbStep(w: Weights, g: Weights, puzzleIds: Int32Array, rows: Int32Array, lr: number, wd: number): void {
  if (!w.puzzleEmb || !g.puzzleEmb) return;
  const nd = w.puzzleEmb.length / rowsOf(w);
  const seen = new Set<number>();
  for (const id of puzzleIds) {
    if (seen.has(id)) continue;
    rows[seen.size] = id;
    seen.add(id);
  }
  signSgdRows(w.puzzleEmb, g.puzzleEmb, rows, seen.size, nd, lr, wd);
}

function rowsOf(w: Weights): number {
  return w.spec.find(e => e.name === 'inner.puzzle_emb.weights')!.shape[0];
}

/** A new EMA shadow: a copy of the parameters. */
export function emaInit(w: Weights): Float32Array {
  return w.data.slice();
}

/** shadow <- rate * shadow + (1 - rate) * param on trainable tensors (buffers are not averaged). */
export function emaStep(shadow: Float32Array, w: Weights, rate: number): void {
  for (const e of w.spec) {
    if (!e.trainable) continue;
    emaUpdate(shadow.subarray(e.offset, e.offset + e.size), w.data.subarray(e.offset, e.offset + e.size), e.size, rate);
  }
}

/** The weights to evaluate and save: the shadow for trainable tensors, current buffers (spec 8). */
export function emaWeightsInto(out: Weights, shadow: Float32Array, w: Weights): Weights {
  for (const e of w.spec) {
    const src = e.trainable ? shadow : w.data;
    out.data.set(src.subarray(e.offset, e.offset + e.size), e.offset);
  }
  return out;
}
