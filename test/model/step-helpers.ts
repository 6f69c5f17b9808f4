/**
 * step-helpers.ts: the whole-step path tests' shared pieces (fused-path, linear-swiglu-path,
 * bf16-kept): a tiny model, one training supervision step on a fixed batch as bytes, and the mean
 * absolute difference of two such outputs.
 */
import { allocActs, createParams, resolveConfig, supervisionStep, weightsView } from '../../src/model/index.js';
import type { TrmConfig } from '../../src/model/config.js';
import { host, staticCarry } from '../helpers.js';

/** D 48, a sequence of 16 over a vocabulary of 6, 2 layers, T 2, n 2 (the mixer decided by the caller). */
export const tinyModel = {
  hidden_size: 48,
  seq_len: 16,
  vocab_size: 6,
  puzzle_emb_ndim: 48,
  puzzle_emb_len: 1,
  H_cycles: 2,
  L_cycles: 2,
  L_layers: 2,
};
/** tinyModel with the MLP token mixer. */
export const tinyMlpT: TrmConfig = resolveConfig({ ...tinyModel, mlp_t: true, pos_encodings: 'none' });
export const STEP_BATCH = 5;

/** One supervision step of `c` (parameters seed 3, a fixed batch of STEP_BATCH): out holds logits,
 *  q, carry y and z and every parameter gradient as bytes; acts and grads are the step's own. */
export function stepBytes(c: TrmConfig, kept?: 'fp32' | 'bf16') {
  const B = STEP_BATCH;
  const w = createParams(c, 3),
    acts = allocActs(c, B, kept),
    grads = weightsView(c),
    carry = staticCarry(c, w, B, acts.d.S);
  const batch = {
    inputs: Int32Array.from({ length: B * c.seq_len }, (_, i) => (i * 7 + 3) % 6),
    labels: Int32Array.from({ length: B * c.seq_len }, (_, i) => 1 + ((i * 5) % 5)),
    puzzleIds: new Int32Array(B),
  };
  const r = supervisionStep(c, w, acts, carry, batch, grads, 1 / B);
  const out = [host(r.logits), host(r.q), host(carry.y), host(carry.z), host(grads.data)].map(x =>
    Buffer.from(x.slice().buffer),
  );
  return { out, acts, grads };
}

/** Mean absolute difference per element of two float32 byte buffers. */
export function meanAbsDiff(a: Buffer, b: Buffer): number {
  const x = new Float32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength)),
    y = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  let s = 0;
  for (let j = 0; j < x.length; j++) s += Math.abs(x[j] - y[j]);
  return s / x.length;
}
