/**
 * ref/index.ts: the TypeScript reference backend, assembled from one file per kernel family.
 * Plain loops, float64 accumulation where the sum is long; slow on purpose, readable first.
 */
import type { KernelBackend } from '../backend.js';
import { gemm } from './gemm.js';
import { add, add3, axpby, scale, sum } from './elementwise.js';
import { rmsnormBackward, rmsnormForward, rmsnormSeqBackward, rmsnormSeqForward } from './rmsnorm.js';
import { swigluBackward, swigluForward } from './swiglu.js';
import { embeddingBackward, embeddingForward } from './embedding.js';
import { argmax, bceLogitsBackward, bceLogitsForward, matchCounts, stablemaxCeBackward, stablemaxCeForward } from './losses.js';
import { ropeBackward, ropeForward, softmaxBackward, softmaxForward } from './attention.js';
import { adamAtan2Step, adamwStep, emaUpdate, signSgdStep } from './optim.js';

export const refBackend: KernelBackend = {
  name: 'ref',
  gemm,
  add, add3, axpby, scale,
  rmsnormForward, rmsnormBackward, rmsnormSeqForward, rmsnormSeqBackward,
  swigluForward, swigluBackward,
  embeddingForward, embeddingBackward,
  stablemaxCeForward, stablemaxCeBackward, bceLogitsForward, bceLogitsBackward, argmax, matchCounts, sum,
  softmaxForward, softmaxBackward, ropeForward, ropeBackward,
  adamAtan2Step, adamwStep, signSgdStep, emaUpdate,
};
