/**
 * backend.ts: the closed set of compute kernels trm runs on (the kernel contract). Three backends
 * provide it: `native` (C++ in native/, through Node-API), `ref` (plain TypeScript in ref/, the
 * readable reference used by tests and as the fallback) and `webgpu` (WGSL, src/webgpu/). The
 * contract is generic over the tensor types: host backends take typed arrays (zero copy), a GPU
 * backend takes its own handles (device.ts says how tensors are owned).
 *
 * Every kernel has one signature in llm.c order (outputs, saved-for-backward, inputs, weights,
 * sizes, scalars), identical in C++, in ref/ and in WGSL. Kernels never allocate and keep no
 * buffer past the call. Gradient rule (llm.c): every backward kernel ACCUMULATES (+=) into the
 * gradients it produces, parameter gradients (dtable, dbias; GEMM with beta = 1) and activation
 * gradients (dinp, dlogits, dgateUp) alike. Whoever owns a gradient buffer zeroes it: the
 * trainer zeroes the parameter gradients once per optimizer step, a layer's backward zeroes its
 * own scratch before the first kernel adds into it.
 * Callers go through the checked wrappers (gemm.ts, ops.ts), which validate sizes first.
 */

export type F32 = Float32Array;
export type I32 = Int32Array;
export type U8 = Uint8Array;

/** A GEMM call's arguments (gemm and gemmBf16 share them): C = alpha*op(A)*op(B) + beta*C, row-major,
 *  batched by strides (see native/gemm/gemm.h). */
export type GemmArgs<F, H = F> = [
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: F | H,
  lda: number,
  strideA: number,
  B: F | H,
  ldb: number,
  strideB: number,
  beta: number,
  C: F,
  ldc: number,
  strideC: number,
  batch: number,
];

/** H: a bf16 tensor (device.ts BF16T; host backends: a Uint16Array of bfloat16 bits). Only the
 *  kernels typed with it take one: gemmBf16's A and B (read as the bf16 values they hold, bitwise
 *  the product of the same values held in fp32), and the fused SwiGLU kernels' out / gateUp, which
 *  are then rounded to bf16 as they are stored (as gemmBf16 rounds operands) and widened exactly
 *  when read. Both of out and gateUp are bf16, or neither; bf16 tensors need bf16 = true. The SwiGLU
 *  backwards' dgateUp may be bf16 when fresh (written rounded, as the products reading it next
 *  would round it). */
export interface KernelBackend<F = F32, I = I32, U = U8, H = Uint16Array> {
  readonly name: 'native' | 'ref' | 'webgpu';

  /** C = alpha*op(A)*op(B) + beta*C, row-major, batched by strides (see native/gemm/gemm.h). */
  gemm(...args: GemmArgs<F>): void;

  /** The same product with bf16 operands: every element of op(A) and op(B) rounded to bfloat16
   *  (nearest even, denormals to signed zero) before it is multiplied; products and sums in fp32
   *  (native: VDPBF16PS on AVX512_BF16, else the fp32 kernel on rounded panels; ref: float64 sums;
   *  webgpu: rounded as loaded). C, alpha and beta stay fp32. Mixed precision (precision=bf16). */
  gemmBf16(...args: GemmArgs<F, H>): void;

  /** The token mixer's gate_up product with SwiGLU fused in its epilogue: for b < batch, with
   *  G = weight[0:H] @ inp_b and U = weight[H:2H] @ inp_b (weight (2H, K) shared, inp_b (K, N) at
   *  b*K*N): out_b (H, N) at b*H*N = silu(G) * U, and gateUp_b (2H, N) at b*2H*N = [G; U] unless
   *  gateUp is null (a forward without backward keeps nothing). Numerically gemm (or gemmBf16
   *  when bf16) followed by swigluForward; native: bitwise so. */
  gemmSwiglu(
    out: F | H,
    gateUp: F | H | null,
    inp: F,
    weight: F,
    H: number,
    N: number,
    K: number,
    batch: number,
    bf16: boolean,
  ): void;

  /** The channel MLP's gate_up product with SwiGLU fused in its epilogue (row layout): with
   *  G = inp @ weight[0:I]^T and U = inp @ weight[I:2I]^T (inp (N, D), weight (2I, D)): out (N, I) =
   *  silu(G) * U; gateUp (N, 2I) = [G | U] per row when keep, else gateUp is scratch whose contents
   *  are unspecified afterwards (native writes nothing there). Numerically gemm (or gemmBf16 when
   *  bf16) into gateUp followed by swigluForward; native: bitwise so. */
  linearSwiglu(
    out: F | H,
    gateUp: F | H,
    inp: F,
    weight: F,
    N: number,
    D: number,
    I: number,
    keep: boolean,
    bf16: boolean,
  ): void;

  /** linearSwiglu's backward through the down product: dh (N, I) = dout (N, D) @ weight (D, I) (the
   *  down weight; gemmBf16 when bf16), then dgateUp (N, 2I) += SwiGLU's gradients from dh and gateUp
   *  (fresh: dgateUp starts from 0 and is never read - a layer's own scratch, as linearBackward's
   *  fresh). dh is scratch whose contents are unspecified afterwards (native keeps dh in registers
   *  and never writes it). Numerically gemm, (fill) and swigluBackward; native: bitwise so. */
  linearSwigluBackward(
    dgateUp: F | H,
    dh: F,
    dout: F,
    gateUp: F | H,
    weight: F,
    N: number,
    D: number,
    I: number,
    bf16: boolean,
    fresh: boolean,
  ): void;

  /** gemmSwiglu's backward through the down product, per item b: dh_b (H, N) = weightT (H, K) @
   *  dout_b (K, N) (weightT shared; dout_b at b*K*N), then dgateUp_b (2H, N) = SwiGLU's gradients
   *  from dh_b and gateUp_b (gate rows [0, H), up rows [H, 2H); both at b*2H*N), added into
   *  dgateUp (fresh: from 0, never read); dh (batch, H, N) is scratch (unspecified afterwards).
   *  Numerically gemm, (fill) and swigluBackward; native: bitwise so. */
  gemmSwigluBackward(
    dgateUp: F | H,
    dh: F,
    dout: F,
    gateUp: F | H,
    weightT: F,
    H: number,
    N: number,
    K: number,
    batch: number,
    bf16: boolean,
    fresh: boolean,
  ): void;

  /** C (M, N) = beta*C + the sum over b < batch of A_b (M, K) @ B_b (N, K)^T: A_b at b*strideA and
   *  B_b at b*strideB, both row-major with k contiguous; C row-major; beta = 0 never reads C. The
   *  small token mixer's weight gradients (items short in k). Numerically gemm with transB and
   *  strideC = 0 up to the order of the fp32 additions: native sums each element of C as 16
   *  partial sums over items and k (lane l: k = l mod 16), reduced by a fixed tree, instead of
   *  item by item; from 4 items, over two fixed halves of the items, [0, ceil(batch/2)) and the rest,
   *  added at the end; the same bits for any thread count. */
  gemmSumNT(
    C: F,
    A: F,
    B: F,
    M: number,
    N: number,
    K: number,
    batch: number,
    strideA: number,
    strideB: number,
    beta: number,
  ): void;

  /** gemmSumNT with bf16 operands (the small token mixer's weight gradients in a bf16 run): every
   *  value of A and B rounded to bfloat16 as gemmBf16 rounds its operands (a bf16 tensor read as the
   *  values it holds), products and sums in fp32. A and B are each fp32 or bf16 (a kept dgateUp or h
   *  against an fp32 activation). Numerically gemmBf16 with transB and strideC = 0 up to the order of
   *  the fp32 additions: native on AVX512_BF16 (without AMX tiles active) sums each element of C as 16
   *  partial sums over items and k pairs (VDPBF16PS), reduced by a fixed tree (from 4 items in two
   *  fixed halves, as gemmSumNT), elsewhere gemmBf16's item-by-item batch sum; the same bits for any
   *  thread count. */
  gemmSumNTBf16(
    C: F,
    A: F | H,
    B: F | H,
    M: number,
    N: number,
    K: number,
    batch: number,
    strideA: number,
    strideB: number,
    beta: number,
  ): void;

  // ---- data movement ---------------------------------------------------------------------------
  /** dst[r*ldDst + c] = src[r*ldSrc + c] for r < rows, c < cols (qkv split/merge, prefix copies). */
  copy2d(dst: F, src: F, rows: number, cols: number, ldDst: number, ldSrc: number): void;
  /** out (C, R) = inp (R, C)^T (the token mixer's small shared weights). */
  transpose(out: F, inp: F, R: number, C: number): void;
  /** dst[0:n] = value. */
  fill(dst: F, value: number, n: number): void;
  /** out[i] = inp[i] as float (0/1 flags to BCE targets). */
  castU8F32(out: F, inp: U, n: number): void;
  /** Carry reset: for every slot b with mask[b] != 0, each of the per/D rows of dst[b*per:(b+1)*per]
   *  (width D) is set to src[b*srcStride : b*srcStride + D] (srcStride 0: one vector for all). */
  broadcastRows(dst: F, src: F, mask: U, B: number, per: number, D: number, srcStride: number): void;

  // ---- elementwise -------------------------------------------------------------------------
  /** out = a + b (out may alias a or b). */
  add(out: F, a: F, b: F, n: number): void;
  /** out = (a + b) + c, rounded after each add (the z-update input z + (y + x)). */
  add3(out: F, a: F, b: F, c: F, n: number): void;
  /** out (N, C) += bias (C) on every row. */
  addBias(out: F, bias: F, N: number, C: number): void;
  /** dbias (C) += sum over the N rows of dout (N, C), summed in float64 in row order. */
  biasBackward(dbias: F, dout: F, N: number, C: number): void;

  // ---- RMSNorm without weight: y = x / sqrt(mean(x^2) + eps) -------------------------------
  /** Over the last axis: inp (N, D) -> out (N, D), rstd (N). */
  rmsnormForward(out: F, rstd: F, inp: F, N: number, D: number, eps: number): void;
  /** dinp += rstd * (dout - out * mean(dout * out)) over D; reads the saved out and rstd. */
  rmsnormBackward(dinp: F, dout: F, out: F, rstd: F, N: number, D: number): void;
  /** Over the sequence axis of inp (B, S, D): normalises each (b, d) over s; rstd (B, D). */
  rmsnormSeqForward(out: F, rstd: F, inp: F, B: number, S: number, D: number, eps: number): void;
  /** dinp += the sequence-axis norm's backward. */
  rmsnormSeqBackward(dinp: F, dout: F, out: F, rstd: F, B: number, S: number, D: number): void;

  // ---- SwiGLU: out = silu(gate) * up, where row r of gateUp (N, 2H) is [gate (H) | up (H)] --
  // The token-mixer layout (B, 2H', D) is the same call with N = B, H = H'*D.
  swigluForward(out: F, gateUp: F, N: number, H: number): void;
  /** dgateUp += d/d[gate | up] of silu(gate) * up, from dout (N, H). */
  swigluBackward(dgateUp: F, dout: F, gateUp: F, N: number, H: number): void;

  // ---- fused half-blocks (the small-model path) ------------------------------------------------
  // One post-norm half-block of TRM per call: bitwise the op-by-op sequence (ref/fused.ts), in one
  // native parallel region with the intermediates in cache (native/ops/fused.cpp).
  /** Token mixer + residual + sequence-axis RMSNorm: per item b, r_b = wDown (S, Is) @
   *  swiglu(wGateUp (2Is, S) @ inp_b) + inp_b; out, rstd (B, D) = rmsnormSeq(r). Saves gateUp
   *  (B, 2Is, D) and h (B, Is, D); r (B, S, D) is scratch. An implementation whose backward
   *  recomputes gateUp may leave it unwritten (native, for S <= 24: native/ops/fused.h
   *  token_mixer_recomputes_gate_up). keep = false (no backward follows): gateUp and h are scratch
   *  too, unspecified afterwards (native does not write them: each item's go to a per-thread
   *  buffer that stays in cache). */
  tokenMixerNormForward(
    out: F,
    rstd: F,
    gateUp: F,
    h: F,
    r: F,
    inp: F,
    wGateUp: F,
    wDown: F,
    B: number,
    S: number,
    D: number,
    Is: number,
    eps: number,
    keep: boolean,
  ): void;
  /** Channel SwiGLU MLP + residual + RMSNorm over N rows: r = swiglu(inp @ wGateUp^T) @ wDown^T +
   *  inp; out, rstd (N) = rmsnorm(r). wGateUp (2I, D), wDown (D, I); saves gateUp (N, 2I), h (N, I);
   *  r (N, D) is scratch. keep = false: gateUp and h are scratch too (as tokenMixerNormForward). */
  mlpNormForward(
    out: F,
    rstd: F,
    gateUp: F,
    h: F,
    r: F,
    inp: F,
    wGateUp: F,
    wDown: F,
    N: number,
    D: number,
    I: number,
    eps: number,
    keep: boolean,
  ): void;
  /** mlpNormForward's backward without the weight gradients (the caller's GEMMs over all rows, from
   *  dr and dgateUp): dr (N, D) = rmsnorm backward of dout through (out, rstd); dh (N, I) = dr @ wDown;
   *  dgateUp (N, 2I) = swiglu backward of dh; dinp (N, D) += dr + dgateUp @ wGateUp. dr, dgateUp
   *  are written (scratch the caller keeps); dh is scratch, unspecified afterwards (native keeps it
   *  in registers). fresh: dinp = instead of += (bitwise a zero fill of dinp first; dinp is not read). */
  mlpNormBackward(
    dinp: F,
    dr: F,
    dh: F,
    dgateUp: F,
    dout: F,
    out: F,
    rstd: F,
    gateUp: F,
    wGateUp: F,
    wDown: F,
    N: number,
    D: number,
    I: number,
    fresh: boolean,
  ): void;
  /** tokenMixerNormForward's backward without the weight gradients: per item, dr_b = the sequence-
   *  axis rmsnorm backward of dout_b; dh_b (Is, D) = wDownT (Is, S) @ dr_b; dgateUp_b = swiglu
   *  backward of dh_b through gateUp_b, the forward's; dinp_b += dr_b + wGateUpT (S, 2Is) @
   *  dgateUp_b. An implementation whose forward did not keep gateUp recomputes gateUp_b = wGateUp
   *  (2Is, S) @ inp_b (the forward's product: the same values; native for S <= 24, in per-thread
   *  scratch) and leaves gateUp alone. wGateUpT, wDownT: the transposed weights. dr, dgateUp are
   *  written; dh is scratch, unspecified afterwards (native keeps it in registers). fresh: as
   *  mlpNormBackward's. */
  tokenMixerNormBackward(
    dinp: F,
    dr: F,
    dh: F,
    dgateUp: F,
    dout: F,
    out: F,
    rstd: F,
    gateUp: F,
    inp: F,
    wGateUp: F,
    wGateUpT: F,
    wDownT: F,
    B: number,
    S: number,
    D: number,
    Is: number,
    fresh: boolean,
  ): void;

  // ---- embeddings --------------------------------------------------------------------------
  /** out (N, D) = scale * table[ids[i]]; table (V, D). An id outside [0, V) throws. */
  embeddingForward(out: F, ids: I, table: F, N: number, D: number, V: number, scale: number): void;
  /** dtable[ids[i]] += scale * dout[i], in row order (deterministic for any thread count). */
  embeddingBackward(dtable: F, dout: F, ids: I, N: number, D: number, V: number, scale: number): void;

  // ---- losses and metrics --------------------------------------------------------------------
  /** Per-token stablemax cross-entropy (computed in float64): loss (N); 0 where label == ignore. */
  stablemaxCeForward(loss: F, logits: F, labels: I, N: number, V: number, ignoreIndex: number): void;
  /** dlogits (N, V) += dloss[i] * d CE_i / d logits_i; rows with label == ignore get nothing. */
  stablemaxCeBackward(dlogits: F, dloss: F, logits: F, labels: I, N: number, V: number, ignoreIndex: number): void;
  /** loss (N) = BCE-with-logits(x, t), stable form max(x,0) - x*t + log1p(exp(-|x|)). */
  bceLogitsForward(loss: F, logits: F, targets: F, N: number): void;
  /** dlogits += dloss * (sigmoid(x) - t). */
  bceLogitsBackward(dlogits: F, dloss: F, logits: F, targets: F, N: number): void;
  /** out (N) = index of the max of each row of logits (N, V); first index wins ties. */
  argmax(out: I, logits: F, N: number, V: number): void;
  /** For B sequences of S tokens: counts (2B) = [valid_b, correct_b] pairs, seqCorrect (B) =
   *  1 iff every valid token is correct (a sequence with no valid token counts as correct). */
  matchCounts(seqCorrect: U, counts: I, pred: I, labels: I, B: number, S: number, ignoreIndex: number): void;
  /** The loss head's upstream gradients (reference/trm-algorithm.md 5): with w_b = lossScale *
   *  (weights ? weights[b] : 1) computed in float64, dtok[b, :] = w_b / max(1, valid_b) (L per row,
   *  valid_b = counts[2b]) and dbce[b] = 0.5 * w_b. `weights` null: every sample weighs 1. */
  lossGrad(dtok: F, dbce: F, counts: I, weights: F | null, B: number, L: number, lossScale: number): void;

  // ---- attention helpers -------------------------------------------------------------------
  /** Row softmax: inp (N, V) -> out (N, V). */
  softmaxForward(out: F, inp: F, N: number, V: number): void;
  /** dinp += out * (dout - sum(dout * out)) per row. */
  softmaxBackward(dinp: F, dout: F, out: F, N: number, V: number): void;
  /** Rotary embedding (rotate-half form, as the official code) on x (B, S, H, Dh) in place into
   *  out; cos/sin (S, Dh). out may alias inp. */
  ropeForward(out: F, inp: F, cos: F, sin: F, B: number, S: number, H: number, Dh: number): void;
  /** The transpose rotation: dinp += R^T dout. dinp must not alias dout. */
  ropeBackward(dinp: F, dout: F, cos: F, sin: F, B: number, S: number, H: number, Dh: number): void;

  // ---- optimizers (in place on flat parameter blocks) ----------------------------------------
  /** AdamATan2 (reference/trm-algorithm.md 7.2); step t starts at 1. */
  adamAtan2Step(
    param: F,
    m: F,
    v: F,
    grad: F,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    wd: number,
    step: number,
  ): void;
  /** AdamW with decoupled decay: p *= 1 - lr*wd; p -= lr * mhat / (sqrt(vhat) + eps). */
  adamwStep(
    param: F,
    m: F,
    v: F,
    grad: F,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    wd: number,
    step: number,
  ): void;
  /** SignSGD with decoupled decay on the listed rows of a (., width) table: for each r < nRows,
   *  row = rows[r]: p = p*(1 - lr*wd) - lr*sign(grad), sign(0) = 0. Rows must be distinct. */
  signSgdRows(param: F, grad: F, rows: I, nRows: number, width: number, lr: number, wd: number): void;
  /** shadow = decay*shadow + (1 - decay)*param. */
  emaUpdate(shadow: F, param: F, n: number, decay: number): void;
}

/** Every kernel of the contract, by name: backends are checked against this list at load. */
export const KERNEL_NAMES = [
  'gemm',
  'gemmBf16',
  'gemmSwiglu',
  'linearSwiglu',
  'linearSwigluBackward',
  'gemmSwigluBackward',
  'gemmSumNT',
  'gemmSumNTBf16',
  'copy2d',
  'transpose',
  'fill',
  'castU8F32',
  'broadcastRows',
  'add',
  'add3',
  'addBias',
  'biasBackward',
  'rmsnormForward',
  'rmsnormBackward',
  'rmsnormSeqForward',
  'rmsnormSeqBackward',
  'swigluForward',
  'swigluBackward',
  'tokenMixerNormForward',
  'mlpNormForward',
  'tokenMixerNormBackward',
  'mlpNormBackward',
  'embeddingForward',
  'embeddingBackward',
  'stablemaxCeForward',
  'stablemaxCeBackward',
  'bceLogitsForward',
  'bceLogitsBackward',
  'argmax',
  'matchCounts',
  'lossGrad',
  'softmaxForward',
  'softmaxBackward',
  'ropeForward',
  'ropeBackward',
  'adamAtan2Step',
  'adamwStep',
  'signSgdRows',
  'emaUpdate',
] as const satisfies readonly Exclude<keyof KernelBackend, 'name'>[];
