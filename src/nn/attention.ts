/**
 * attention.ts: non-causal multi-head self-attention with RoPE (models/layers.py:99-135): fused
 * qkv_proj (3*H*hd, D) whose output features are [q heads | k heads | v heads], each head hd wide;
 * scores = q k^T / sqrt(hd), softmax over keys, o_proj (D, H*hd). RoPE in the GPT-NeoX rotate-half
 * form over positions 0..S-1 (prefix included). q, k, v are kept as (B, S, H, hd); each batch
 * item's heads are one strided batched GEMM (lda = H*hd, strideA = hd).
 */
import { gemm, ropeBackward, ropeForward, softmaxBackward, softmaxForward } from '../kernels/index.js';
import { linearBackward, linearForward } from './linear.js';

export interface RopeTables {
  cos: Float32Array; // (S, hd)
  sin: Float32Array; // (S, hd)
}

/** cos/sin of pos * theta^(-2i/hd), frequencies repeated twice ([f, f]); fp32 as the official code. */
export function ropeTables(S: number, hd: number, theta: number): RopeTables {
  const cos = new Float32Array(S * hd), sin = new Float32Array(S * hd), half = hd / 2;
  const f = Math.fround;
  for (let i = 0; i < half; i++) {
    const invFreq = f(1 / f(Math.pow(f(theta), f(f(2 * i) / f(hd)))));
    for (let s = 0; s < S; s++) {
      const ang = f(f(s) * invFreq);
      cos[s * hd + i] = cos[s * hd + i + half] = Math.cos(ang);
      sin[s * hd + i] = sin[s * hd + i + half] = Math.sin(ang);
    }
  }
  return { cos, sin };
}

export interface AttentionActs {
  q: Float32Array;   // (B, S, H, hd) after RoPE
  k: Float32Array;   // (B, S, H, hd) after RoPE
  v: Float32Array;   // (B, S, H, hd)
  att: Float32Array; // (B, H, S, S) softmax probabilities
  ctx: Float32Array; // (B, S, H*hd) attention output before o_proj
}

export interface AttentionScratch {
  qkv: Float32Array;    // (B*S, 3*H*hd) projection output / its gradient
  scores: Float32Array; // (B, H, S, S) pre-softmax scores / their gradient
  datt: Float32Array;   // (B, H, S, S)
  dq: Float32Array;     // (B, S, H, hd)
  dk: Float32Array;     // (B, S, H, hd)
  dv: Float32Array;     // (B, S, H, hd)
  dctx: Float32Array;   // (B, S, H*hd)
}

/** out (B, S, D) = o_proj(softmax(q k^T / sqrt(hd)) v); rope null means no positional encoding. */
export function attentionForward(out: Float32Array, acts: AttentionActs, inp: Float32Array, wQkv: Float32Array, wO: Float32Array,
  rope: RopeTables | null, B: number, S: number, D: number, H: number, hd: number, s: AttentionScratch): void {
  const N = B * S, E = H * hd, SS = S * S;
  linearForward(s.qkv, inp, wQkv, N, D, 3 * E);
  for (let t = 0; t < N; t++) {
    const o = t * 3 * E;
    acts.q.set(s.qkv.subarray(o, o + E), t * E);
    acts.k.set(s.qkv.subarray(o + E, o + 2 * E), t * E);
    acts.v.set(s.qkv.subarray(o + 2 * E, o + 3 * E), t * E);
  }
  if (rope) {
    ropeForward(acts.q, acts.q, rope.cos, rope.sin, B, S, H, hd);
    ropeForward(acts.k, acts.k, rope.cos, rope.sin, B, S, H, hd);
  }
  const scale = 1 / Math.sqrt(hd);
  for (let b = 0; b < B; b++) {
    const qb = acts.q.subarray(b * S * E), kb = acts.k.subarray(b * S * E), vb = acts.v.subarray(b * S * E);
    gemm({ A: qb, B: kb, C: s.scores.subarray(b * H * SS), M: S, N: S, K: hd, transB: true, alpha: scale,
      lda: E, ldb: E, batch: H, strideA: hd, strideB: hd, strideC: SS });
  }
  softmaxForward(acts.att, s.scores, B * H * S, S);
  for (let b = 0; b < B; b++) {
    gemm({ A: acts.att.subarray(b * H * SS), B: acts.v.subarray(b * S * E), C: acts.ctx.subarray(b * S * E), M: S, N: hd, K: S,
      ldb: E, ldc: E, batch: H, strideA: SS, strideB: hd, strideC: hd });
  }
  linearForward(out, acts.ctx, wO, N, E, D);
}

/** dinp (B, S, D) += d/dinp; dwQkv, dwO +=. */
export function attentionBackward(dinp: Float32Array, dwQkv: Float32Array, dwO: Float32Array, dout: Float32Array, acts: AttentionActs,
  inp: Float32Array, wQkv: Float32Array, wO: Float32Array, rope: RopeTables | null, B: number, S: number, D: number, H: number, hd: number,
  s: AttentionScratch): void {
  const N = B * S, E = H * hd, SS = S * S, scale = 1 / Math.sqrt(hd);
  linearBackward(s.dctx, dwO, dout, acts.ctx, wO, N, E, D, 0);
  for (let b = 0; b < B; b++) {
    const dctx = s.dctx.subarray(b * S * E), att = acts.att.subarray(b * H * SS);
    // datt = dctx v^T ; dv = att^T dctx
    gemm({ A: dctx, B: acts.v.subarray(b * S * E), C: s.datt.subarray(b * H * SS), M: S, N: S, K: hd, transB: true,
      lda: E, ldb: E, batch: H, strideA: hd, strideB: hd, strideC: SS });
    gemm({ A: att, B: dctx, C: s.dv.subarray(b * S * E), M: S, N: hd, K: S, transA: true,
      ldb: E, ldc: E, batch: H, strideA: SS, strideB: hd, strideC: hd });
  }
  softmaxBackward(s.scores, s.datt, acts.att, B * H * S, S);
  for (let b = 0; b < B; b++) {
    const ds = s.scores.subarray(b * H * SS);
    // dq = scale * ds k ; dk = scale * ds^T q
    gemm({ A: ds, B: acts.k.subarray(b * S * E), C: s.dq.subarray(b * S * E), M: S, N: hd, K: S, alpha: scale,
      ldb: E, ldc: E, batch: H, strideA: SS, strideB: hd, strideC: hd });
    gemm({ A: ds, B: acts.q.subarray(b * S * E), C: s.dk.subarray(b * S * E), M: S, N: hd, K: S, transA: true, alpha: scale,
      ldb: E, ldc: E, batch: H, strideA: SS, strideB: hd, strideC: hd });
  }
  if (rope) {
    ropeBackward(s.dq, s.dq, rope.cos, rope.sin, B, S, H, hd);
    ropeBackward(s.dk, s.dk, rope.cos, rope.sin, B, S, H, hd);
  }
  for (let t = 0; t < N; t++) {
    const o = t * 3 * E;
    s.qkv.set(s.dq.subarray(t * E, t * E + E), o);
    s.qkv.set(s.dk.subarray(t * E, t * E + E), o + E);
    s.qkv.set(s.dv.subarray(t * E, t * E + E), o + 2 * E);
  }
  linearBackward(dinp, dwQkv, s.qkv, inp, wQkv, N, D, 3 * E, 1);
}
