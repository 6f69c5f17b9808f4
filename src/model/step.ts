/**
 * step.ts: one supervision step (reference/trm-algorithm.md 1.1, 5): input embedding, the deep
 * recursion, heads, loss = sum_b mean_t stablemaxCE + 0.5 * sum_b BCE(q_halt, sequence exactly
 * right), and backward through the last n+1 net calls into every parameter gradient, the puzzle
 * embedding rows included, all scaled by lossScale (1 / global batch in training). Not here:
 * halting, carry refills and the optimizer (src/train/).
 */
import { ShapeError } from '../errors.js';
import {
  argmax,
  bceLogitsBackward,
  bceLogitsForward,
  castU8F32,
  copy2d,
  type F32T,
  fill,
  type I32T,
  i32,
  lossGrad,
  matchCounts,
  readSync,
  sizeOf,
  stablemaxCeBackward,
  stablemaxCeForward,
  type U8T,
  write,
  device,
} from '../kernels/core.js';
import { inputEmbeddingBackward, inputEmbeddingForward, type EmbedSizes } from '../nn/embedding.js';
import { lmHeadBackward, lmHeadForward, qHeadBackward, qHeadForward } from '../nn/heads.js';
import type { StepActs } from './acts.js';
import type { Carry } from './carry.js';
import type { TrmConfig } from './config.js';
import type { Weights } from './params.js';
import { deepRecursion, deepRecursionBackward } from './trm.js';

export const IGNORE_LABEL = -100;

/** A batch as the data layer fills it, on the host. */
export interface HostBatch {
  inputs: Int32Array; // (B, L)
  labels: Int32Array; // (B, L)
  puzzleIds: Int32Array; // (B)
}

/** A batch on the device, size B (zeros). */
export function allocBatch(B: number, L: number): Batch {
  return { inputs: i32(B * L), labels: i32(B * L), puzzleIds: i32(B) };
}

/** Host batch into a device batch of the same size (host devices: a copy; no puzzle id check here). */
export function uploadBatch(dst: Batch, src: HostBatch): void {
  write(dst.inputs, src.inputs);
  write(dst.labels, src.labels);
  write(dst.puzzleIds, src.puzzleIds);
}

/** A batch on the device. Host batches (the data layer's) are written into one each step. */
export interface Batch {
  inputs: I32T; // (B, L) token ids
  labels: I32T; // (B, L) target ids, IGNORE_LABEL where not scored
  puzzleIds: I32T; // (B)
  /** (B, L) milestone supervision (train/milestones.ts): the final solution, when `labels` holds
   *  this step's milestone; seqCorrect (the halting target, exact accuracy) is taken against it */
  finalLabels?: I32T;
}

/** Scalar losses of a step, from its outputs on the host (stepLosses). */
export interface StepLosses {
  /** lm_loss + 0.5 * q_halt_loss, unscaled (batch sums) */
  loss: number;
  lmLoss: number;
  qHaltLoss: number;
}

/** What a step leaves on the device (views into the acts); numbers come from stepLosses. */
export interface StepResult {
  logits: F32T; // (B, L, V)
  q: F32T; // (B, 2) [q_halt, q_continue]
  preds: I32T; // (B, L)
  seqCorrect: U8T; // (B)
  counts: I32T; // (2B) [valid, correct]
  tokLoss: F32T; // (B*L) per-token stablemax CE
  bce: F32T; // (B) q_halt BCE per sample
}

/** The losses of a step from its host-side outputs (spec 5): lm = sum_b mean over valid tokens of
 *  the CE, q_halt = sum_b BCE; float64 sums in batch order. */
export function lossesOf(tokLoss: Float32Array, counts: Int32Array, bce: Float32Array, B: number): StepLosses {
  const L = tokLoss.length / B;
  let lmLoss = 0,
    qHaltLoss = 0;
  for (let b = 0; b < B; b++) {
    let s = 0;
    for (let t = b * L; t < (b + 1) * L; t++) s += tokLoss[t];
    lmLoss += s / Math.max(1, counts[2 * b]);
    qHaltLoss += bce[b];
  }
  return { loss: lmLoss + 0.5 * qHaltLoss, lmLoss, qHaltLoss };
}

/** The step's losses, read now: host devices only (a GPU caller reads the three tensors itself). */
export function stepLosses(r: StepResult): StepLosses {
  return lossesOf(readSync(r.tokLoss), readSync(r.counts), readSync(r.bce), sizeOf(r.bce));
}

function embedSizes(c: TrmConfig, a: StepActs): EmbedSizes {
  const { B, L, P, S, D, V } = a.d;
  return { B, L, P, S, D, V, ndim: c.puzzle_emb_ndim, numIds: c.num_puzzle_identifiers };
}

/**
 * One supervision step on the batch, from `carry` (updated in place to the new, detached y and z).
 * With `grads`, back-propagates lossScale * loss, ADDING into grads (zero them first);
 * `sampleWeights` (B) scales each sample's loss in the gradient (the returned losses are unweighted).
 * `c` may use fewer loop counts than the acts were allocated for (randomised recursion).
 * Only kernels run here: nothing is read back to the host.
 */
export function supervisionStep(
  c: TrmConfig,
  w: Weights,
  a: StepActs,
  carry: Carry,
  batch: Batch,
  grads: Weights | null,
  lossScale = 1,
  sampleWeights?: F32T,
): StepResult {
  const { B, L, S, D, V, P } = a.d,
    N = B * S * D;
  if (sizeOf(carry.y) !== N || sizeOf(carry.z) !== N)
    throw new ShapeError(
      `supervisionStep: carry holds ${sizeOf(carry.y) / (S * D)} slots, the activations were allocated for B = ${B}`,
    );
  if (sizeOf(batch.inputs) !== B * L || sizeOf(batch.labels) !== B * L || sizeOf(batch.puzzleIds) !== B)
    throw new ShapeError(
      `supervisionStep: batch has inputs ${sizeOf(batch.inputs)}, labels ${sizeOf(batch.labels)}, puzzleIds ${sizeOf(batch.puzzleIds)}; expected ${B}x${L}, ${B}x${L}, ${B}`,
    );
  if (a.calls.length < c.L_cycles + 1)
    throw new ShapeError(
      `supervisionStep: L_cycles ${c.L_cycles} needs ${c.L_cycles + 1} net-call buffers, the activations hold ${a.calls.length}`,
    );
  // w does not change inside a step: a device may keep work on it between kernels (Device.freezeWeights)
  const dev = device();
  dev.freezeWeights?.(true);
  try {
    const ez = embedSizes(c, a);

    // forward
    inputEmbeddingForward(a.x, batch.inputs, batch.puzzleIds, w.embedTokens, w.puzzleEmb, ez, a.emb);
    deepRecursion(c, a, w, a.x, carry.y, carry.z, carry.noise ?? null, grads !== null);
    lmHeadForward(a.logits, carry.y, w.lmHead, B, S, P, D, V);
    qHeadForward(a.q, carry.y, w.qHeadW, w.qHeadB, B, S, D);

    // loss (spec 5): per-token CE; halting target = the sequence is exactly right
    stablemaxCeForward(a.tokLoss, a.logits, batch.labels, B * L, V, IGNORE_LABEL);
    argmax(a.preds, a.logits, B * L, V);
    matchCounts(a.seqCorrect, a.counts, a.preds, batch.labels, B, L, IGNORE_LABEL);
    // milestones: counts (the CE's denominators) stay the milestone's; "exactly right" is the solution
    if (batch.finalLabels) matchCounts(a.seqCorrect, a.finalCounts, a.preds, batch.finalLabels, B, L, IGNORE_LABEL);
    copy2d(a.qHalt, a.q, B, 1, 1, 2);
    castU8F32(a.target, a.seqCorrect, B);
    bceLogitsForward(a.bce, a.qHalt, a.target, B);
    const result: StepResult = {
      logits: a.logits,
      q: a.q,
      preds: a.preds,
      seqCorrect: a.seqCorrect,
      counts: a.counts,
      tokLoss: a.tokLoss,
      bce: a.bce,
    };
    if (!grads) return result;

    // backward: upstream gradients of sum_b w_b (mean CE_b + 0.5 BCE_b)
    lossGrad(a.dtok, a.dbce, a.counts, sampleWeights ?? null, B, L, lossScale);
    fill(a.dlogits, 0, B * L * V);
    stablemaxCeBackward(a.dlogits, a.dtok, a.logits, batch.labels, B * L, V, IGNORE_LABEL);
    fill(a.dqHalt, 0, B);
    bceLogitsBackward(a.dqHalt, a.dbce, a.qHalt, a.target, B);
    copy2d(a.dq, a.dqHalt, B, 1, 2, 1); // q_continue's gradient stays 0 (no_ACT_continue)
    fill(a.dh, 0, N);
    lmHeadBackward(a.dh, grads.lmHead, a.dlogits, carry.y, w.lmHead, B, S, P, D, V);
    qHeadBackward(a.dh, grads.qHeadW, grads.qHeadB, a.dq, carry.y, w.qHeadW, B, S, D);
    deepRecursionBackward(c, a, w, grads);
    inputEmbeddingBackward(grads.embedTokens, grads.puzzleEmb, a.dx, batch.inputs, batch.puzzleIds, ez, a.emb);
    return result;
  } finally {
    dev.freezeWeights?.(false);
  }
}
