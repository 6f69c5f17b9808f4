/**
 * optim.ts: the two optimizers of TRM training (reference/trm-algorithm.md 7) and the EMA (8), as
 * init / step pairs over the flat parameter block. Dense parameters (every trainable tensor, no
 * exclusions) take AdamATan2 or AdamW; the puzzle-embedding rows present in the batch take
 * SignSGD with decoupled decay; H_init / L_init never change. Moments and the EMA shadow reuse
 * the parameter layout, so a checkpoint saves them by the same names.
 */
import {
  adamAtan2Step,
  adamwStep,
  copy,
  emaUpdate,
  f32,
  type F32T,
  type I32T,
  signSgdRows,
  sizeOf,
  view,
  write,
} from '../kernels/core.js';
import type { Weights } from '../model/params.js';
import type { TrainConfig } from './config.js';

export interface OptState {
  m: F32T; // same layout as the parameter block; only trainable ranges are used
  v: F32T;
}

export function optInit(w: Weights): OptState {
  return { m: f32(sizeOf(w.data)), v: f32(sizeOf(w.data)) };
}

/** One dense step (t counted from 1) on every trainable tensor. */
export function denseStep(w: Weights, g: Weights, s: OptState, cfg: TrainConfig, lr: number, t: number): void {
  for (const e of w.spec) {
    if (!e.trainable) continue;
    const r = (a: F32T) => view(a, e.offset, e.size);
    if (cfg.optimizer === 'adamw')
      adamwStep(
        r(w.data),
        r(s.m),
        r(s.v),
        r(g.data),
        e.size,
        lr,
        cfg.beta1,
        cfg.beta2,
        cfg.adamw_eps,
        cfg.weight_decay,
        t,
      );
    else adamAtan2Step(r(w.data), r(s.m), r(s.v), r(g.data), e.size, lr, cfg.beta1, cfg.beta2, cfg.weight_decay, t);
  }
}

/** SignSGD on the puzzle-embedding rows whose ids occur in the batch (gradients already summed per id).
 *  `rows` (>= B) receives the distinct ids in first-seen order: they are host data (the batch). */
export function puzzleEmbStep(
  w: Weights,
  g: Weights,
  puzzleIds: Int32Array,
  rows: Int32Array,
  rowsDev: I32T,
  lr: number,
  wd: number,
): void {
  if (!w.puzzleEmb || !g.puzzleEmb) return;
  const nd = sizeOf(w.puzzleEmb) / rowsOf(w);
  const seen = new Set<number>();
  for (const id of puzzleIds) {
    if (seen.has(id)) continue;
    rows[seen.size] = id;
    seen.add(id);
  }
  write(rowsDev, rows);
  signSgdRows(w.puzzleEmb, g.puzzleEmb, rowsDev, seen.size, nd, lr, wd);
}

function rowsOf(w: Weights): number {
  return w.spec.find(e => e.name === 'inner.puzzle_emb.weights')!.shape[0];
}

/** A new EMA shadow: a copy of the parameters. */
export function emaInit(w: Weights): F32T {
  const n = sizeOf(w.data),
    shadow = f32(n);
  copy(shadow, w.data, n);
  return shadow;
}

/** shadow <- rate * shadow + (1 - rate) * param on trainable tensors (buffers are not averaged). */
export function emaStep(shadow: F32T, w: Weights, rate: number): void {
  for (const e of w.spec) {
    if (!e.trainable) continue;
    emaUpdate(view(shadow, e.offset, e.size), view(w.data, e.offset, e.size), e.size, rate);
  }
}

/** The weights to evaluate and save: the shadow for trainable tensors, current buffers (spec 8). */
export function emaWeightsInto(out: Weights, shadow: F32T, w: Weights): Weights {
  for (const e of w.spec) {
    const src = e.trainable ? shadow : w.data;
    copy(view(out.data, e.offset, e.size), view(src, e.offset, e.size), e.size);
  }
  return out;
}
