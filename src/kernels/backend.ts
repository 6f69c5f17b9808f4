/**
 * backend.ts: the closed set of compute kernels trm runs on, and the two backends that provide
 * them: `native` (C++ in native/, through Node-API) and `ref` (plain TypeScript in ref/, the
 * readable reference used by tests and as the fallback when the addon cannot load).
 *
 * Every kernel has one signature in llm.c order (outputs, saved-for-backward, inputs, weights,
 * sizes, scalars), identical in C++, here and in ref/. Kernels never allocate and keep no buffer
 * past the call. Unless noted, backward kernels OVERWRITE activation gradients (dinp) and
 * ACCUMULATE (+=) into parameter gradients (dtable, GEMM with beta = 1).
 * Callers go through the checked wrappers (gemm.ts, ops.ts), which validate sizes first.
 */

export type F32 = Float32Array;
export type I32 = Int32Array;
export type U8 = Uint8Array;

export interface KernelBackend {
  readonly name: 'native' | 'ref';

  /** C = alpha*op(A)*op(B) + beta*C, row-major, batched by strides (see native/gemm/gemm.h). */
  gemm(transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    A: F32, lda: number, strideA: number, B: F32, ldb: number, strideB: number,
    beta: number, C: F32, ldc: number, strideC: number, batch: number): void;

  // ---- elementwise -------------------------------------------------------------------------
  /** out = a + b (out may alias a or b). */
  add(out: F32, a: F32, b: F32, n: number): void;
  /** out = a + b + c (the z-update input z + y + x). */
  add3(out: F32, a: F32, b: F32, c: F32, n: number): void;
  /** out = alpha*a + beta*b. */
  axpby(out: F32, a: F32, b: F32, alpha: number, beta: number, n: number): void;
  /** out = alpha*inp. */
  scale(out: F32, inp: F32, alpha: number, n: number): void;

  // ---- RMSNorm without weight: y = x / sqrt(mean(x^2) + eps) -------------------------------
  /** Over the last axis: inp (N, D) -> out (N, D), rstd (N). */
  rmsnormForward(out: F32, rstd: F32, inp: F32, N: number, D: number, eps: number): void;
  /** dinp = rstd * (dout - out * mean(dout * out)) over D; reads the saved out and rstd. */
  rmsnormBackward(dinp: F32, dout: F32, out: F32, rstd: F32, N: number, D: number): void;
  /** Over the sequence axis of inp (B, S, D): normalises each (b, d) over s; rstd (B, D). */
  rmsnormSeqForward(out: F32, rstd: F32, inp: F32, B: number, S: number, D: number, eps: number): void;
  rmsnormSeqBackward(dinp: F32, dout: F32, out: F32, rstd: F32, B: number, S: number, D: number): void;

  // ---- SwiGLU: out = silu(gate) * up, where row r of gateUp (N, 2H) is [gate (H) | up (H)] --
  // The token-mixer layout (B, 2H', D) is the same call with N = B, H = H'*D.
  swigluForward(out: F32, gateUp: F32, N: number, H: number): void;
  swigluBackward(dgateUp: F32, dout: F32, gateUp: F32, N: number, H: number): void;

  // ---- embeddings --------------------------------------------------------------------------
  /** out (N, D) = scale * table[ids[i]]; table (V, D). An id outside [0, V) throws. */
  embeddingForward(out: F32, ids: I32, table: F32, N: number, D: number, V: number, scale: number): void;
  /** dtable[ids[i]] += scale * dout[i], in row order (deterministic for any thread count). */
  embeddingBackward(dtable: F32, dout: F32, ids: I32, N: number, D: number, V: number, scale: number): void;

  // ---- losses and metrics --------------------------------------------------------------------
  /** Per-token stablemax cross-entropy (computed in float64): loss (N); 0 where label == ignore. */
  stablemaxCeForward(loss: F32, logits: F32, labels: I32, N: number, V: number, ignoreIndex: number): void;
  /** dlogits (N, V) = dloss[i] * d CE_i / d logits_i; rows with label == ignore get 0. */
  stablemaxCeBackward(dlogits: F32, dloss: F32, logits: F32, labels: I32, N: number, V: number, ignoreIndex: number): void;
  /** loss (N) = BCE-with-logits(x, t), stable form max(x,0) - x*t + log1p(exp(-|x|)). */
  bceLogitsForward(loss: F32, logits: F32, targets: F32, N: number): void;
  /** dlogits = dloss * (sigmoid(x) - t). */
  bceLogitsBackward(dlogits: F32, dloss: F32, logits: F32, targets: F32, N: number): void;
  /** out (N) = index of the max of each row of logits (N, V); first index wins ties. */
  argmax(out: I32, logits: F32, N: number, V: number): void;
  /** For B sequences of S tokens: counts (2B) = [valid_b, correct_b] pairs, seqCorrect (B) =
   *  1 iff every valid token is correct (a sequence with no valid token counts as correct). */
  matchCounts(seqCorrect: U8, counts: I32, pred: I32, labels: I32, B: number, S: number, ignoreIndex: number): void;
  /** Sum of inp[0:n] in float64, summed in fixed chunks (same bits for any thread count). */
  sum(inp: F32, n: number): number;

  // ---- attention helpers -------------------------------------------------------------------
  /** Row softmax: inp (N, V) -> out (N, V). */
  softmaxForward(out: F32, inp: F32, N: number, V: number): void;
  /** dinp = out * (dout - sum(dout * out)) per row. */
  softmaxBackward(dinp: F32, dout: F32, out: F32, N: number, V: number): void;
  /** Rotary embedding (rotate-half form, as the official code) on x (B, S, H, Dh) in place into
   *  out; cos/sin (S, Dh). out may alias inp. */
  ropeForward(out: F32, inp: F32, cos: F32, sin: F32, B: number, S: number, H: number, Dh: number): void;
  /** The transpose rotation: dinp = R^T dout. dinp may alias dout. */
  ropeBackward(dinp: F32, dout: F32, cos: F32, sin: F32, B: number, S: number, H: number, Dh: number): void;

  // ---- optimizers (in place on flat parameter blocks) ----------------------------------------
  /** AdamATan2 (reference/trm-algorithm.md 7.2); step t starts at 1. */
  adamAtan2Step(param: F32, m: F32, v: F32, grad: F32, n: number, lr: number, beta1: number, beta2: number, wd: number, step: number): void;
  /** AdamW with decoupled decay: p *= 1 - lr*wd; p -= lr * mhat / (sqrt(vhat) + eps). */
  adamwStep(param: F32, m: F32, v: F32, grad: F32, n: number, lr: number, beta1: number, beta2: number, eps: number, wd: number, step: number): void;
  /** SignSGD with decoupled decay: p = p*(1 - lr*wd) - lr*sign(grad), sign(0) = 0. */
  signSgdStep(param: F32, grad: F32, n: number, lr: number, wd: number): void;
  /** shadow = decay*shadow + (1 - decay)*param. */
  emaUpdate(shadow: F32, param: F32, n: number, decay: number): void;
}
