/**
 * ref/optim.ts: reference optimizer steps and EMA (native/ops/optim.cpp; reference/trm-algorithm.md
 * 7 and 8), each element updated in float64 from its float32 state.
 */
import type { F32, I32 } from '../backend.js';

/** AdamATan2 (7.2): no epsilon; 1 - b1^t scales the step, sqrt(1 - b2^t) divides sqrt(v) inside atan2. */
export function adamAtan2Step(
  param: F32,
  m: F32,
  v: F32,
  grad: F32,
  n: number,
  lr: number,
  beta1: number,
  beta2: number,
  wd: number,
  step: number,
): void {
  const stepSize = lr / (1 - beta1 ** step),
    sqrtBc2 = Math.sqrt(1 - beta2 ** step),
    decay = 1 - lr * wd;
  for (let i = 0; i < n; i++) {
    const g = grad[i];
    const mi = m[i] + (1 - beta1) * (g - m[i]);
    const vi = v[i] + (1 - beta2) * (g * g - v[i]);
    param[i] = param[i] * decay - stepSize * Math.atan2(mi, Math.sqrt(vi) / sqrtBc2);
    m[i] = mi;
    v[i] = vi;
  }
}

/** AdamW (7.3): p <- p (1 - lr wd) - lr * mhat / (sqrt(vhat) + eps). */
export function adamwStep(
  param: F32,
  m: F32,
  v: F32,
  grad: F32,
  n: number,
  lr: number,
  beta1: number,
  beta2: number,
  eps: number,
  wd: number,
  step: number,
): void {
  const bc1 = 1 - beta1 ** step,
    bc2 = 1 - beta2 ** step,
    decay = 1 - lr * wd;
  for (let i = 0; i < n; i++) {
    const g = grad[i];
    const mi = beta1 * m[i] + (1 - beta1) * g;
    const vi = beta2 * v[i] + (1 - beta2) * g * g;
    param[i] = param[i] * decay - (lr * (mi / bc1)) / (Math.sqrt(vi / bc2) + eps);
    m[i] = mi;
    v[i] = vi;
  }
}

/** SignSGD (7.1) on the listed rows of a (., width) table: p <- p (1 - lr wd) - lr * sign(g), sign(0) = 0. */
export function signSgdRows(
  param: F32,
  grad: F32,
  rows: I32,
  nRows: number,
  width: number,
  lr: number,
  wd: number,
): void {
  const decay = 1 - lr * wd;
  for (let r = 0; r < nRows; r++) {
    for (let i = rows[r] * width; i < (rows[r] + 1) * width; i++) param[i] = param[i] * decay - lr * Math.sign(grad[i]);
  }
}

/** EMA (8): shadow <- decay * shadow + (1 - decay) * param. */
export function emaUpdate(shadow: F32, param: F32, n: number, decay: number): void {
  for (let i = 0; i < n; i++) shadow[i] = decay * shadow[i] + (1 - decay) * param[i];
}
