/**
 * attention.ts: non-causal multi-head self-attention with RoPE (models/layers.py:99-135): fused
 * qkv_proj (3*H*hd, D) whose output features are [q heads | k heads | v heads], each head hd wide;
 * scores = q k^T / sqrt(hd), softmax over keys, o_proj (D, H*hd). RoPE in the GPT-NeoX rotate-half
 * form over positions 0..S-1 (prefix included). q, k, v are kept as (B, S, H, hd); each batch
 * item's heads are one strided batched GEMM (lda = H*hd, strideA = hd).
 */
import {
  copy2d,
  type F32T,
  fill,
  gemm,
  ropeBackward,
  ropeForward,
  softmaxBackward,
  softmaxForward,
  upload,
  view,
} from '../kernels/core.js';
import { linearBackward, linearForward } from './linear.js';

export interface RopeTables {
  cos: F32T; // (S, hd)
  sin: F32T; // (S, hd)
}

/** Sizes of one attention call. */
export interface AttentionSizes {
  B: number;
  S: number;
  D: number;
  H: number;
  hd: number;
}

/** The layer's weights, or their gradients (same fields). */
export interface AttentionWeights {
  qkv: F32T; // (3*H*hd, D)
  o: F32T; // (D, H*hd)
}

/** cos/sin of pos * theta^(-2i/hd), frequencies repeated twice ([f, f]); fp32 as the official code.
 *  Computed on the host once, then uploaded to the active device. */
export function ropeTables(S: number, hd: number, theta: number): RopeTables {
  const cos = new Float32Array(S * hd),
    sin = new Float32Array(S * hd),
    half = hd / 2;
  const f = Math.fround;
  for (let i = 0; i < half; i++) {
    const invFreq = f(1 / f(Math.pow(f(theta), f(f(2 * i) / f(hd)))));
    for (let s = 0; s < S; s++) {
      const ang = f(f(s) * invFreq);
      cos[s * hd + i] = cos[s * hd + i + half] = Math.cos(ang);
      sin[s * hd + i] = sin[s * hd + i + half] = Math.sin(ang);
    }
  }
  return { cos: upload(cos), sin: upload(sin) };
}

export interface AttentionActs {
  q: F32T; // (B, S, H, hd) after RoPE
  k: F32T; // (B, S, H, hd) after RoPE
  v: F32T; // (B, S, H, hd)
  att: F32T; // (B, H, S, S) softmax probabilities
  ctx: F32T; // (B, S, H*hd) attention output before o_proj
}

export interface AttentionScratch {
  qkv: F32T; // (B*S, 3*H*hd) projection output / its gradient
  scores: F32T; // (B, H, S, S) pre-softmax scores / their gradient
  datt: F32T; // (B, H, S, S)
  dq: F32T; // (B, S, H, hd)
  dk: F32T; // (B, S, H, hd)
  dv: F32T; // (B, S, H, hd)
  dctx: F32T; // (B, S, H*hd)
}

/** q, k, v (B*S rows of E) <-> qkv (B*S rows of 3E): the fused projection's three column blocks. */
function splitQkv(q: F32T, k: F32T, v: F32T, qkv: F32T, N: number, E: number): void {
  const block = (j: number) => view(qkv, j * E, (N - 1) * 3 * E + E);
  copy2d(q, block(0), N, E, E, 3 * E);
  copy2d(k, block(1), N, E, E, 3 * E);
  copy2d(v, block(2), N, E, E, 3 * E);
}

/** One of q, k, v into its column block j of qkv (B*S rows of 3E). */
function mergeQkv(qkv: F32T, j: number, t: F32T, N: number, E: number): void {
  copy2d(view(qkv, j * E, (N - 1) * 3 * E + E), t, N, E, 3 * E, E);
}

/** Item b of a (B, ...) tensor whose items hold `per` elements. */
const item = (t: F32T, b: number, per: number): F32T => view(t, b * per, per);

/** out (B, S, D) = o_proj(softmax(q k^T / sqrt(hd)) v); rope null means no positional encoding. */
export function attentionForward(
  out: F32T,
  acts: AttentionActs,
  inp: F32T,
  w: AttentionWeights,
  rope: RopeTables | null,
  z: AttentionSizes,
  s: AttentionScratch,
): void {
  const { B, S, D, H, hd } = z,
    N = B * S,
    E = H * hd,
    SS = S * S;
  linearForward(s.qkv, inp, w.qkv, N, D, 3 * E);
  splitQkv(acts.q, acts.k, acts.v, s.qkv, N, E);
  if (rope) {
    ropeForward(acts.q, acts.q, rope.cos, rope.sin, B, S, H, hd);
    ropeForward(acts.k, acts.k, rope.cos, rope.sin, B, S, H, hd);
  }
  const scale = 1 / Math.sqrt(hd);
  // per batch item, the H heads are one strided batched GEMM (a kernel dispatch per item)
  for (let b = 0; b < B; b++) {
    gemm({
      A: item(acts.q, b, S * E),
      B: item(acts.k, b, S * E),
      C: item(s.scores, b, H * SS),
      M: S,
      N: S,
      K: hd,
      transB: true,
      alpha: scale,
      lda: E,
      ldb: E,
      batch: H,
      strideA: hd,
      strideB: hd,
      strideC: SS,
    });
  }
  softmaxForward(acts.att, s.scores, B * H * S, S);
  for (let b = 0; b < B; b++) {
    gemm({
      A: item(acts.att, b, H * SS),
      B: item(acts.v, b, S * E),
      C: item(acts.ctx, b, S * E),
      M: S,
      N: hd,
      K: S,
      ldb: E,
      ldc: E,
      batch: H,
      strideA: SS,
      strideB: hd,
      strideC: hd,
    });
  }
  linearForward(out, acts.ctx, w.o, N, E, D);
}

/** dinp (B, S, D) += d/dinp; g.qkv, g.o +=. */
export function attentionBackward(
  dinp: F32T,
  g: AttentionWeights,
  dout: F32T,
  acts: AttentionActs,
  inp: F32T,
  w: AttentionWeights,
  rope: RopeTables | null,
  z: AttentionSizes,
  s: AttentionScratch,
): void {
  const { B, S, D, H, hd } = z,
    N = B * S,
    E = H * hd,
    SS = S * S,
    scale = 1 / Math.sqrt(hd);
  linearBackward(s.dctx, g.o, dout, acts.ctx, w.o, N, E, D, true);
  for (let b = 0; b < B; b++) {
    const dctx = item(s.dctx, b, S * E),
      att = item(acts.att, b, H * SS);
    // datt = dctx v^T ; dv = att^T dctx
    gemm({
      A: dctx,
      B: item(acts.v, b, S * E),
      C: item(s.datt, b, H * SS),
      M: S,
      N: S,
      K: hd,
      transB: true,
      lda: E,
      ldb: E,
      batch: H,
      strideA: hd,
      strideB: hd,
      strideC: SS,
    });
    gemm({
      A: att,
      B: dctx,
      C: item(s.dv, b, S * E),
      M: S,
      N: hd,
      K: S,
      transA: true,
      ldb: E,
      ldc: E,
      batch: H,
      strideA: SS,
      strideB: hd,
      strideC: hd,
    });
  }
  fill(s.scores, 0, B * H * SS);
  softmaxBackward(s.scores, s.datt, acts.att, B * H * S, S);
  for (let b = 0; b < B; b++) {
    const ds = item(s.scores, b, H * SS);
    // dq = scale * ds k ; dk = scale * ds^T q
    gemm({
      A: ds,
      B: item(acts.k, b, S * E),
      C: item(s.dq, b, S * E),
      M: S,
      N: hd,
      K: S,
      alpha: scale,
      ldb: E,
      ldc: E,
      batch: H,
      strideA: SS,
      strideB: hd,
      strideC: hd,
    });
    gemm({
      A: ds,
      B: item(acts.q, b, S * E),
      C: item(s.dk, b, S * E),
      M: S,
      N: hd,
      K: S,
      transA: true,
      alpha: scale,
      ldb: E,
      ldc: E,
      batch: H,
      strideA: SS,
      strideB: hd,
      strideC: hd,
    });
  }
  // d(pre-RoPE q, k) = R^T dq, R^T dk, through dctx (free by now) as the kernel's fresh output
  for (const [j, d] of [
    [0, s.dq],
    [1, s.dk],
  ] as const) {
    if (rope) {
      fill(s.dctx, 0, N * E);
      ropeBackward(s.dctx, d, rope.cos, rope.sin, B, S, H, hd);
      mergeQkv(s.qkv, j, s.dctx, N, E);
    } else mergeQkv(s.qkv, j, d, N, E);
  }
  mergeQkv(s.qkv, 2, s.dv, N, E);
  linearBackward(dinp, g.qkv, s.qkv, inp, w.qkv, N, D, 3 * E);
}
