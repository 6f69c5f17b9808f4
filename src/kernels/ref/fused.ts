/**
 * ref/fused.ts: the reference fused half-blocks: the op-by-op sequence (../compose.ts) over the
 * reference kernels.
 */
import type { KernelBackend } from '../backend.js';
import {
  gemmSumNTVia,
  gemmSwigluBackwardVia,
  linearSwigluBackwardVia,
  linearSwigluVia,
  mlpNormBackwardVia,
  mlpNormVia,
  type Parts,
  tokenMixerNormBackwardVia,
  tokenMixerNormVia,
} from '../compose.js';
import { add } from './elementwise.js';
import { fill } from './movement.js';
import { gemm, gemmBf16 } from './gemm.js';
import { rmsnormBackward, rmsnormForward, rmsnormSeqBackward, rmsnormSeqForward } from './rmsnorm.js';
import { swigluBackward, swigluForward } from './swiglu.js';

const parts = {
  gemm,
  swigluForward,
  swigluBackward,
  add,
  fill,
  rmsnormSeqForward,
  rmsnormForward,
  rmsnormSeqBackward,
  rmsnormBackward,
} as Parts<Float32Array>;

export const linearSwiglu: KernelBackend['linearSwiglu'] = (...a) =>
  linearSwigluVia({ gemm, gemmBf16, swigluForward }, ...a);
export const linearSwigluBackward: KernelBackend['linearSwigluBackward'] = (...a) =>
  linearSwigluBackwardVia({ gemm, gemmBf16, fill, swigluBackward }, ...a);
export const gemmSwigluBackward: KernelBackend['gemmSwigluBackward'] = (...a) =>
  gemmSwigluBackwardVia({ gemm, gemmBf16, fill, swigluBackward }, ...a);
export const gemmSumNT: KernelBackend['gemmSumNT'] = (...a) => gemmSumNTVia({ gemm }, ...a);
export const tokenMixerNormForward: KernelBackend['tokenMixerNormForward'] = (...a) => tokenMixerNormVia(parts, ...a);
export const mlpNormForward: KernelBackend['mlpNormForward'] = (...a) => mlpNormVia(parts, ...a);
export const mlpNormBackward: KernelBackend['mlpNormBackward'] = (...a) => mlpNormBackwardVia(parts, ...a);
export const tokenMixerNormBackward: KernelBackend['tokenMixerNormBackward'] = (...a) =>
  tokenMixerNormBackwardVia(parts, ...a);
