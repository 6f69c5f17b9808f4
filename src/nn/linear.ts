/**
 * linear.ts: bias-free Linear over rows, weight in PyTorch's [out, in] layout (y = x W^T).
 * Backward ADDS into dweight and dinp (the gradient rule, kernels/backend.ts); a layer passing its
 * own fresh scratch as dinp sets fresh = true: the zeroing is then fused into the GEMM (beta 0).
 */
import { type F32T, gemm, type KeptT } from '../kernels/core.js';

/** out (N, OUT) = inp (N, IN) @ weight^T; weight (OUT, IN). inp may be bf16 (a bf16 run's kept h). */
export function linearForward(out: F32T, inp: KeptT, weight: F32T, N: number, IN: number, OUT: number): void {
  gemm({ A: inp, B: weight, C: out, M: N, N: OUT, K: IN, transB: true });
}

/** dinp (N, IN) += dout @ weight (fresh: dinp starts from 0); dweight (OUT, IN) += dout^T @ inp. */
export function linearBackward(
  dinp: F32T | null,
  dweight: F32T | null,
  dout: KeptT,
  inp: KeptT,
  weight: F32T,
  N: number,
  IN: number,
  OUT: number,
  fresh = false,
): void {
  if (dweight) gemm({ A: dout, B: inp, C: dweight, M: OUT, N: IN, K: N, transA: true, beta: 1 });
  if (dinp) gemm({ A: dout, B: weight, C: dinp, M: N, N: IN, K: OUT, beta: fresh ? 0 : 1 });
}
