/**
 * The small-model path: for D <= 256 (mlp_t) a block runs through the fused half-block kernels.
 * A whole training supervision step through them gives bit for bit the outputs, carry and every
 * parameter gradient of the op-by-op path on one thread, on 1, 2, 3 and 5 native threads.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { backendInfo, nativeBackend, setThreads, sizeOf } from '../../src/kernels/index.js';
import { allocActs, resolveConfig } from '../../src/model/index.js';
import { setFusedMaxD } from '../../src/model/trm.js';
import { stepBytes, tinyMlpT } from './step-helpers.js';

const threads0 = backendInfo().threads;
afterAll(() => setThreads(threads0));

const c = tinyMlpT;

function step(limit: number) {
  const prev = setFusedMaxD(limit);
  try {
    const { out, grads } = stepBytes(c);
    expect(sizeOf(grads.data)).toBeGreaterThan(0);
    return out;
  } finally {
    setFusedMaxD(prev);
  }
}

describe.skipIf(!nativeBackend)('fused small-model path', () => {
  // 3 and 5 threads: more region parts than this batch splits evenly (STEP_BATCH 5), so parts finish
  // their home shares of the claimed items (ItemClaims) and take items from the others' backs
  let reference: Buffer[] | undefined;
  it.each([1, 2, 3, 5])('a training step gives the op-by-op bits of one thread (%i threads)', t => {
    setThreads(1);
    reference ??= step(0);
    setThreads(t);
    const unfused = step(0),
      fused = step(256);
    for (let i = 0; i < unfused.length; i++) {
      expect(Buffer.compare(fused[i], reference[i]), `fused output ${i}`).toBe(0);
      expect(Buffer.compare(unfused[i], reference[i]), `op-by-op output ${i}`).toBe(0);
    }
    // and the gradients are not all zero (the comparison means something)
    expect(new Float32Array(fused[4].buffer).some(v => v !== 0)).toBe(true);
  });
});

describe('fused small-model path: backward scratch', () => {
  // The channel MLP's dgateUp (split by rows) is a buffer apart from the token mixer's (split by items)
  // where the fused kernels may run (D <= 256, fp32-kept acts): as the front of one shared scratch, one
  // thread's MLP rows lay on lines the other thread writes for its items (model/acts.ts). Elsewhere it
  // stays a view of the token mixer's scratch (the paper config's 76 MB are not doubled).
  const shared = (c: typeof tinyMlpT, kept: 'fp32' | 'bf16') => {
    const a = allocActs(c, 2, kept);
    const mlp = a.block.mlp.dgateUp as Float32Array | Uint16Array,
      mix = (a.block.mix as { dgateUp: Float32Array | Uint16Array }).dgateUp;
    return mlp.buffer === mix.buffer;
  };
  it.runIf(nativeBackend)('apart for D <= 256 in fp32, shared above it and in bf16', () => {
    expect(tinyMlpT.hidden_size).toBeLessThanOrEqual(256);
    expect(shared(tinyMlpT, 'fp32')).toBe(false);
    expect(shared(tinyMlpT, 'bf16')).toBe(true);
    const wide = resolveConfig({ ...tinyMlpT, hidden_size: 320, puzzle_emb_ndim: 320 });
    expect(shared(wide, 'fp32')).toBe(true);
  });
});
