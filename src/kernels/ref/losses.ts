/**
 * ref/losses.ts: reference stablemax cross-entropy, BCE with logits, argmax and match counts
 * (native/ops/losses.cpp; reference/trm-algorithm.md 5.1, 5.2, 6.4). Stablemax in float64:
 * s(v) = v + 1 (v >= 0), 1 / (1 - v + 1e-30) (v < 0); s'(v) = 1 (v >= 0), s(v)^2 (v < 0).
 */
import type { F32, I32, U8 } from '../backend.js';
import { checkIndices } from './embedding.js';

const s = (v: number): number => (v >= 0 ? v + 1 : 1 / (1 - v + 1e-30));
const ds = (v: number): number => (v >= 0 ? 1 : s(v) ** 2);

function rowSum(logits: F32, i: number, V: number): number {
  let S = 0;
  for (let j = 0; j < V; j++) S += s(logits[i * V + j]);
  return S;
}

export function stablemaxCeForward(
  loss: F32,
  logits: F32,
  labels: I32,
  N: number,
  V: number,
  ignoreIndex: number,
): void {
  checkIndices('stablemaxCeForward', 'labels', labels, N, V, ignoreIndex);
  for (let i = 0; i < N; i++) {
    loss[i] = labels[i] === ignoreIndex ? 0 : Math.log(rowSum(logits, i, V)) - Math.log(s(logits[i * V + labels[i]]));
  }
}

export function stablemaxCeBackward(
  dlogits: F32,
  dloss: F32,
  logits: F32,
  labels: I32,
  N: number,
  V: number,
  ignoreIndex: number,
): void {
  checkIndices('stablemaxCeBackward', 'labels', labels, N, V, ignoreIndex);
  for (let i = 0; i < N; i++) {
    const l = labels[i];
    if (l === ignoreIndex) continue;
    const c = dloss[i] / rowSum(logits, i, V);
    for (let j = 0; j < V; j++) if (j !== l) dlogits[i * V + j] += c * ds(logits[i * V + j]);
    const xl = logits[i * V + l];
    dlogits[i * V + l] += c * ds(xl) - (dloss[i] * ds(xl)) / s(xl);
  }
}

export function bceLogitsForward(loss: F32, logits: F32, targets: F32, N: number): void {
  for (let i = 0; i < N; i++) {
    const x = logits[i];
    loss[i] = Math.max(x, 0) - x * targets[i] + Math.log1p(Math.exp(-Math.abs(x)));
  }
}

export function bceLogitsBackward(dlogits: F32, dloss: F32, logits: F32, targets: F32, N: number): void {
  for (let i = 0; i < N; i++) {
    const x = logits[i],
      e = Math.exp(-Math.abs(x));
    const sig = x >= 0 ? 1 / (1 + e) : e / (1 + e);
    dlogits[i] += dloss[i] * (sig - targets[i]);
  }
}

export function argmax(out: I32, logits: F32, N: number, V: number): void {
  for (let i = 0; i < N; i++) {
    let best = 0;
    for (let j = 1; j < V; j++) if (logits[i * V + j] > logits[i * V + best]) best = j;
    out[i] = best;
  }
}

export function matchCounts(
  seqCorrect: U8,
  counts: I32,
  pred: I32,
  labels: I32,
  B: number,
  S: number,
  ignoreIndex: number,
): void {
  for (let b = 0; b < B; b++) {
    let valid = 0,
      correct = 0;
    for (let k = b * S; k < (b + 1) * S; k++) {
      if (labels[k] === ignoreIndex) continue;
      valid++;
      if (pred[k] === labels[k]) correct++;
    }
    counts[2 * b] = valid;
    counts[2 * b + 1] = correct;
    seqCorrect[b] = valid === correct ? 1 : 0;
  }
}

export function lossGrad(
  dtok: F32,
  dbce: F32,
  counts: I32,
  weights: F32 | null,
  B: number,
  L: number,
  lossScale: number,
): void {
  for (let b = 0; b < B; b++) {
    const w = weights ? lossScale * weights[b] : lossScale;
    dtok.fill(w / Math.max(1, counts[2 * b]), b * L, (b + 1) * L);
    dbce[b] = 0.5 * w;
  }
}
