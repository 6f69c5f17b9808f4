/**
 * The small-model path: for D <= 256 (mlp_t) a block runs through the fused half-block kernels.
 * A whole training supervision step through them gives bit for bit the outputs, carry and every
 * parameter gradient of the op-by-op path, on 1 and 2 native threads.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { backendInfo, nativeBackend, setThreads, sizeOf } from '../../src/kernels/index.js';
import { allocActs, createParams, resolveConfig, supervisionStep, weightsView } from '../../src/model/index.js';
import { setFusedMaxD } from '../../src/model/trm.js';
import { host, staticCarry } from '../helpers.js';

const threads0 = backendInfo().threads;
afterAll(() => setThreads(threads0));

const c = resolveConfig({
  hidden_size: 48,
  seq_len: 16,
  vocab_size: 6,
  puzzle_emb_ndim: 48,
  puzzle_emb_len: 1,
  H_cycles: 2,
  L_cycles: 2,
  L_layers: 2,
  mlp_t: true,
  pos_encodings: 'none',
});
const B = 5;

function step(limit: number) {
  const prev = setFusedMaxD(limit);
  try {
    const w = createParams(c, 3),
      a = allocActs(c, B),
      g = weightsView(c),
      carry = staticCarry(c, w, B, a.d.S);
    const batch = {
      inputs: Int32Array.from({ length: B * 16 }, (_, i) => (i * 7 + 3) % 6),
      labels: Int32Array.from({ length: B * 16 }, (_, i) => 1 + ((i * 5) % 5)),
      puzzleIds: new Int32Array(B),
    };
    const r = supervisionStep(c, w, a, carry, batch, g, 1 / B);
    expect(sizeOf(g.data)).toBeGreaterThan(0);
    return [host(r.logits), host(r.q), host(carry.y), host(carry.z), host(g.data)].map(x =>
      Buffer.from(x.slice().buffer),
    );
  } finally {
    setFusedMaxD(prev);
  }
}

describe.skipIf(!nativeBackend)('fused small-model path', () => {
  it.each([1, 2])('a training step gives the op-by-op bits (%i threads)', t => {
    setThreads(t);
    const unfused = step(0),
      fused = step(256);
    for (let i = 0; i < unfused.length; i++) expect(Buffer.compare(fused[i], unfused[i]), `output ${i}`).toBe(0);
    // and the gradients are not all zero (the comparison means something)
    expect(new Float32Array(fused[4].buffer).some(v => v !== 0)).toBe(true);
  });
});
