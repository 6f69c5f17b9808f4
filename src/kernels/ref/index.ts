/**
 * ref/index.ts: the TypeScript reference backend, assembled from one file per kernel family.
 * Plain loops, float64 accumulation where the sum is long; slow on purpose, readable first.
 */
import type { KernelBackend } from '../backend.js';
import { gemm } from './gemm.js';

const notYet = (name: string) => () => { throw new Error(`reference kernel ${name} is not implemented yet`); };

export const refBackend: KernelBackend = {
  name: 'ref',
  gemm,
  add: notYet('add'), add3: notYet('add3'), axpby: notYet('axpby'), scale: notYet('scale'),
  rmsnormForward: notYet('rmsnormForward'), rmsnormBackward: notYet('rmsnormBackward'),
  rmsnormSeqForward: notYet('rmsnormSeqForward'), rmsnormSeqBackward: notYet('rmsnormSeqBackward'),
  swigluForward: notYet('swigluForward'), swigluBackward: notYet('swigluBackward'),
  embeddingForward: notYet('embeddingForward'), embeddingBackward: notYet('embeddingBackward'),
  stablemaxCeForward: notYet('stablemaxCeForward'), stablemaxCeBackward: notYet('stablemaxCeBackward'),
  bceLogitsForward: notYet('bceLogitsForward'), bceLogitsBackward: notYet('bceLogitsBackward'),
  argmax: notYet('argmax'), matchCounts: notYet('matchCounts'), sum: notYet('sum') as never,
  softmaxForward: notYet('softmaxForward'), softmaxBackward: notYet('softmaxBackward'),
  ropeForward: notYet('ropeForward'), ropeBackward: notYet('ropeBackward'),
  adamAtan2Step: notYet('adamAtan2Step'), adamwStep: notYet('adamwStep'),
  signSgdStep: notYet('signSgdStep'), emaUpdate: notYet('emaUpdate'),
};
