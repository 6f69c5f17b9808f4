/**
 * ref/index.ts: the TypeScript reference backend, assembled from one file per kernel family.
 * Plain loops, float64 accumulation where the sum is long; slow on purpose, readable first.
 */
import type { KernelBackend } from '../backend.js';
import { gemm, gemmBf16, gemmSwiglu } from './gemm.js';
import { add, add3, addBias, biasBackward } from './elementwise.js';
import { broadcastRows, castU8F32, copy2d, fill, transpose } from './movement.js';
import { rmsnormBackward, rmsnormForward, rmsnormSeqBackward, rmsnormSeqForward } from './rmsnorm.js';
import { swigluBackward, swigluForward } from './swiglu.js';
import {
  gemmSumNT,
  gemmSwigluBackward,
  linearSwiglu,
  linearSwigluBackward,
  mlpNormBackward,
  mlpNormForward,
  tokenMixerNormBackward,
  tokenMixerNormForward,
} from './fused.js';
import { embeddingBackward, embeddingForward } from './embedding.js';
import {
  argmax,
  bceLogitsBackward,
  bceLogitsForward,
  lossGrad,
  matchCounts,
  stablemaxCeBackward,
  stablemaxCeForward,
} from './losses.js';
import { ropeBackward, ropeForward, softmaxBackward, softmaxForward } from './attention.js';
import { adamAtan2Step, adamwStep, emaUpdate, signSgdRows } from './optim.js';
import { withBf16Tensors } from './bf16.js';
import { gemmSumNTBf16Via } from '../compose.js';

// the kernels that also take bf16 tensors (bf16.ts)
const bf16Kernels = withBf16Tensors({ gemmBf16, gemmSwiglu, linearSwiglu, linearSwigluBackward, gemmSwigluBackward });

export const refBackend: KernelBackend = {
  name: 'ref',
  gemm,
  ...bf16Kernels,
  gemmSumNT,
  gemmSumNTBf16: (...a) => gemmSumNTBf16Via(bf16Kernels, ...a),
  copy2d,
  transpose,
  fill,
  castU8F32,
  broadcastRows,
  add,
  add3,
  addBias,
  biasBackward,
  rmsnormForward,
  rmsnormBackward,
  rmsnormSeqForward,
  rmsnormSeqBackward,
  swigluForward,
  swigluBackward,
  tokenMixerNormForward,
  mlpNormForward,
  tokenMixerNormBackward,
  mlpNormBackward,
  embeddingForward,
  embeddingBackward,
  stablemaxCeForward,
  stablemaxCeBackward,
  bceLogitsForward,
  bceLogitsBackward,
  argmax,
  matchCounts,
  lossGrad,
  softmaxForward,
  softmaxBackward,
  ropeForward,
  ropeBackward,
  adamAtan2Step,
  adamwStep,
  signSgdRows,
  emaUpdate,
};
