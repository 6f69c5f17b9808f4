/**
 * ref/attention.ts: reference row softmax and rotary embedding (native/ops/attention.cpp). RoPE in
 * the rotate-half form: out[i] = x[i] cos[s,i] - x[i+half] sin[s,i],
 * out[i+half] = x[i+half] cos[s,i+half] + x[i] sin[s,i+half]; backward applies the transpose.
 */
import type { F32 } from '../backend.js';

export function softmaxForward(out: F32, inp: F32, N: number, V: number): void {
  for (let i = 0; i < N; i++) {
    let mx = -Infinity,
      sum = 0;
    for (let j = 0; j < V; j++) mx = Math.max(mx, inp[i * V + j]);
    for (let j = 0; j < V; j++) sum += Math.exp(inp[i * V + j] - mx);
    for (let j = 0; j < V; j++) out[i * V + j] = Math.exp(inp[i * V + j] - mx) / sum;
  }
}

export function softmaxBackward(dinp: F32, dout: F32, out: F32, N: number, V: number): void {
  for (let i = 0; i < N; i++) {
    let dot = 0;
    for (let j = 0; j < V; j++) dot += dout[i * V + j] * out[i * V + j];
    for (let j = 0; j < V; j++) dinp[i * V + j] += out[i * V + j] * (dout[i * V + j] - dot);
  }
}

function rope(
  out: F32,
  inp: F32,
  cos: F32,
  sin: F32,
  B: number,
  S: number,
  H: number,
  Dh: number,
  transpose: boolean,
): void {
  const half = Dh / 2;
  for (let r = 0; r < B * S * H; r++) {
    const o = r * Dh,
      c = (Math.floor(r / H) % S) * Dh;
    for (let i = 0; i < half; i++) {
      const x1 = inp[o + i],
        x2 = inp[o + i + half];
      if (transpose) {
        // the backward: R^T dout, added into dinp
        out[o + i] += x1 * cos[c + i] + x2 * sin[c + i + half];
        out[o + i + half] += x2 * cos[c + i + half] - x1 * sin[c + i];
      } else {
        out[o + i] = x1 * cos[c + i] - x2 * sin[c + i];
        out[o + i + half] = x2 * cos[c + i + half] + x1 * sin[c + i + half];
      }
    }
  }
}

export function ropeForward(out: F32, inp: F32, cos: F32, sin: F32, B: number, S: number, H: number, Dh: number): void {
  rope(out, inp, cos, sin, B, S, H, Dh, false);
}

export function ropeBackward(
  dinp: F32,
  dout: F32,
  cos: F32,
  sin: F32,
  B: number,
  S: number,
  H: number,
  Dh: number,
): void {
  rope(dinp, dout, cos, sin, B, S, H, Dh, true);
}
