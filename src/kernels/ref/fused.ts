/**
 * ref/fused.ts: the reference fused half-blocks: the op-by-op sequence (../compose.ts) over the
 * reference kernels.
 */
import type { KernelBackend } from '../backend.js';
import { mlpNormVia, type Parts, tokenMixerNormVia } from '../compose.js';
import { add } from './elementwise.js';
import { gemm } from './gemm.js';
import { rmsnormForward, rmsnormSeqForward } from './rmsnorm.js';
import { swigluForward } from './swiglu.js';

const parts = { gemm, swigluForward, add, rmsnormSeqForward, rmsnormForward } as Parts<Float32Array>;

export const tokenMixerNormForward: KernelBackend['tokenMixerNormForward'] = (...a) => tokenMixerNormVia(parts, ...a);
export const mlpNormForward: KernelBackend['mlpNormForward'] = (...a) => mlpNormVia(parts, ...a);
