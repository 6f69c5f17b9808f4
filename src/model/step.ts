/**
 * step.ts: one supervision step (reference/trm-algorithm.md 1.1, 5): input embedding, the deep
 * recursion, heads, loss = sum_b mean_t stablemaxCE + 0.5 * sum_b BCE(q_halt, sequence exactly
 * right), and backward through the last n+1 net calls into every parameter gradient, the puzzle
 * embedding rows included, all scaled by lossScale (1 / global batch in training). Not here:
 * halting, carry refills and the optimizer (src/train/).
 */
import { ShapeError } from '../errors.js';
import {
  argmax, bceLogitsBackward, bceLogitsForward, matchCounts, stablemaxCeBackward, stablemaxCeForward,
} from '../kernels/index.js';
import { inputEmbeddingBackward, inputEmbeddingForward, type EmbedSizes } from '../nn/embedding.js';
import { lmHeadBackward, lmHeadForward, qHeadBackward, qHeadForward } from '../nn/heads.js';
import type { StepActs } from './acts.js';
import type { TrmConfig } from './config.js';
import type { Weights } from './params.js';
import { deepRecursion, deepRecursionBackward } from './trm.js';

export const IGNORE_LABEL = -100;

export interface Batch {
  inputs: Int32Array;    // (B, L) token ids
  labels: Int32Array;    // (B, L) target ids, IGNORE_LABEL where not scored
  puzzleIds: Int32Array; // (B)
}

/** The recurrent state carried between supervision steps. */
export interface Carry {
  y: Float32Array; // (B, S, D)
  z: Float32Array; // (B, S, D)
}

export interface StepResult {
  /** lm_loss + 0.5 * q_halt_loss, unscaled (batch sums) */
  loss: number;
  lmLoss: number;
  qHaltLoss: number;
  logits: Float32Array;     // (B, L, V), a view into the acts
  q: Float32Array;          // (B, 2) [q_halt, q_continue], a view
  preds: Int32Array;        // (B, L)
  seqCorrect: Uint8Array;   // (B)
  counts: Int32Array;       // (2B) [valid, correct]
}

/** A carry of B slots, every slot at (H_init, L_init). */
export function initialCarry(c: TrmConfig, w: Weights, B: number, S: number): Carry {
  const D = c.hidden_size, carry = { y: new Float32Array(B * S * D), z: new Float32Array(B * S * D) };
  resetCarry(carry, w, new Uint8Array(B).fill(1), D);
  return carry;
}

/** Slots with reset[b] != 0 get y <- H_init, z <- L_init at every position (spec 1.3); other starts: init.ts. */
export function resetCarry(carry: Carry, w: Weights, reset: Uint8Array, D: number): void {
  const per = carry.y.length / reset.length;
  for (let b = 0; b < reset.length; b++) {
    if (!reset[b]) continue;
    for (let o = b * per; o < (b + 1) * per; o += D) { carry.y.set(w.Hinit, o); carry.z.set(w.Linit, o); }
  }
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
 */
export function supervisionStep(c: TrmConfig, w: Weights, a: StepActs, carry: Carry, batch: Batch,
  grads: Weights | null, lossScale = 1, sampleWeights?: Float32Array): StepResult {
  const { B, L, S, D, V, P } = a.d, N = B * S * D;
  if (carry.y.length !== N || carry.z.length !== N)
    throw new ShapeError(`supervisionStep: carry holds ${carry.y.length / (S * D)} slots, the activations were allocated for B = ${B}`);
  if (batch.inputs.length !== B * L || batch.labels.length !== B * L || batch.puzzleIds.length !== B)
    throw new ShapeError(`supervisionStep: batch has inputs ${batch.inputs.length}, labels ${batch.labels.length}, puzzleIds ${batch.puzzleIds.length}; expected ${B}x${L}, ${B}x${L}, ${B}`);
  if (a.calls.length < c.L_cycles + 1)
    throw new ShapeError(`supervisionStep: L_cycles ${c.L_cycles} needs ${c.L_cycles + 1} net-call buffers, the activations hold ${a.calls.length}`);
  const ez = embedSizes(c, a);

  // forward
  inputEmbeddingForward(a.x, batch.inputs, batch.puzzleIds, w.embedTokens, w.puzzleEmb, ez);
  deepRecursion(c, a, w, a.x, carry.y, carry.z);
  lmHeadForward(a.logits, carry.y, w.lmHead, B, S, P, D, V);
  qHeadForward(a.q, carry.y, w.qHeadW, w.qHeadB, B, S, D);

  // loss (spec 5): per-sample mean over valid tokens, summed over the batch
  stablemaxCeForward(a.tokLoss, a.logits, batch.labels, B * L, V, IGNORE_LABEL);
  argmax(a.preds, a.logits, B * L, V);
  matchCounts(a.seqCorrect, a.counts, a.preds, batch.labels, B, L, IGNORE_LABEL);
  let lmLoss = 0, qHaltLoss = 0;
  for (let b = 0; b < B; b++) {
    let s = 0;
    for (let t = b * L; t < (b + 1) * L; t++) s += a.tokLoss[t];
    lmLoss += s / Math.max(1, a.counts[2 * b]);
    a.qHalt[b] = a.q[2 * b];
    a.target[b] = a.seqCorrect[b];
  }
  bceLogitsForward(a.bce, a.qHalt, a.target, B);
  for (let b = 0; b < B; b++) qHaltLoss += a.bce[b];
  const result: StepResult = {
    loss: lmLoss + 0.5 * qHaltLoss, lmLoss, qHaltLoss, logits: a.logits, q: a.q, preds: a.preds, seqCorrect: a.seqCorrect, counts: a.counts,
  };
  if (!grads) return result;

  // backward
  for (let b = 0; b < B; b++) {
    const sw = sampleWeights ? lossScale * sampleWeights[b] : lossScale;
    a.dtok.fill(sw / Math.max(1, a.counts[2 * b]), b * L, (b + 1) * L);
    a.dbce[b] = 0.5 * sw;
  }
  stablemaxCeBackward(a.dlogits, a.dtok, a.logits, batch.labels, B * L, V, IGNORE_LABEL);
  bceLogitsBackward(a.dqHalt, a.dbce, a.qHalt, a.target, B);
  for (let b = 0; b < B; b++) { a.dq[2 * b] = a.dqHalt[b]; a.dq[2 * b + 1] = 0; }   // q_continue is unused (no_ACT_continue)
  a.dh.fill(0);
  lmHeadBackward(a.dh, grads.lmHead, a.dlogits, carry.y, w.lmHead, B, S, P, D, V);
  qHeadBackward(a.dh, grads.qHeadW, grads.qHeadB, a.dq, carry.y, w.qHeadW, B, S, D);
  deepRecursionBackward(c, a, w, grads);
  inputEmbeddingBackward(grads.embedTokens, grads.puzzleEmb, a.dx, batch.inputs, batch.puzzleIds, ez);
  return result;
}
