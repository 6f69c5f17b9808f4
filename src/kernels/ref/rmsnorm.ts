/**
 * ref/rmsnorm.ts: reference RMSNorm without weight (native/ops/rmsnorm.cpp), over the last axis
 * and over the sequence axis. y = x * rstd, rstd = 1/sqrt(mean(x^2) + eps);
 * dx = rstd * (dy - y * mean(dy * y)). Sums in float64.
 */
import type { F32 } from '../backend.js';

export function rmsnormForward(out: F32, rstd: F32, inp: F32, N: number, D: number, eps: number): void {
  for (let i = 0; i < N; i++) {
    let ss = 0;
    for (let d = 0; d < D; d++) ss += inp[i * D + d] * inp[i * D + d];
    const r = Math.fround(1 / Math.sqrt(ss / D + eps));
    for (let d = 0; d < D; d++) out[i * D + d] = inp[i * D + d] * r;
    rstd[i] = r;
  }
}

export function rmsnormBackward(dinp: F32, dout: F32, out: F32, rstd: F32, N: number, D: number): void {
  for (let i = 0; i < N; i++) {
    let dot = 0;
    for (let d = 0; d < D; d++) dot += dout[i * D + d] * out[i * D + d];
    const mean = dot / D;
    for (let d = 0; d < D; d++) dinp[i * D + d] += rstd[i] * (dout[i * D + d] - out[i * D + d] * mean);
  }
}

/** inp (B, S, D): each (b, d) is normalised over s; rstd (B, D). */
export function rmsnormSeqForward(out: F32, rstd: F32, inp: F32, B: number, S: number, D: number, eps: number): void {
  for (let b = 0; b < B; b++)
    for (let d = 0; d < D; d++) {
      let ss = 0;
      for (let s = 0; s < S; s++) ss += inp[(b * S + s) * D + d] ** 2;
      const r = Math.fround(1 / Math.sqrt(ss / S + eps));
      for (let s = 0; s < S; s++) out[(b * S + s) * D + d] = inp[(b * S + s) * D + d] * r;
      rstd[b * D + d] = r;
    }
}

export function rmsnormSeqBackward(dinp: F32, dout: F32, out: F32, rstd: F32, B: number, S: number, D: number): void {
  for (let b = 0; b < B; b++)
    for (let d = 0; d < D; d++) {
      let dot = 0;
      for (let s = 0; s < S; s++) dot += dout[(b * S + s) * D + d] * out[(b * S + s) * D + d];
      const mean = dot / S,
        r = rstd[b * D + d];
      for (let s = 0; s < S; s++) {
        const k = (b * S + s) * D + d;
        dinp[k] += r * (dout[k] - out[k] * mean);
      }
    }
}
