/**
 * The channel MLP's gate_up product runs with SwiGLU in its epilogue (linearSwiglu), and both MLPs'
 * dh products with SwiGLU's backward in theirs (linearSwigluBackward, gemmSwigluBackward). A whole
 * training supervision step through them gives bit for bit the outputs, carry and every parameter
 * gradient of the op-by-op sequences they replaced (gemm or gemmBf16, fill, swigluForward or
 * swigluBackward), in fp32 and in bf16, on 1 and 2 native threads (the op-by-op block path: fused
 * half-blocks off).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { gemmSwigluBackwardVia, linearSwigluBackwardVia, linearSwigluVia } from '../../src/kernels/compose.js';
import {
  backendInfo,
  device,
  nativeBackend,
  setDevice,
  setThreads,
  sizeOf,
  withGemmPrecision,
} from '../../src/kernels/index.js';
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

function step() {
  const prev = setFusedMaxD(0);
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

describe.skipIf(!nativeBackend)('SwiGLU in the GEMM epilogues', () => {
  for (const precision of ['fp32', 'bf16'] as const)
    it.each([1, 2])(`${precision}: a training step gives the op-by-op bits (%i threads)`, t => {
      setThreads(t);
      const base = device(),
        calls = { fused: 0, pair: 0 };
      const run = (over: Partial<typeof base>) => {
        setDevice({ ...base, ...over });
        try {
          return withGemmPrecision(precision, step);
        } finally {
          setDevice(base);
        }
      };
      const fused = run({
        linearSwiglu: (...a) => (calls.fused++, base.linearSwiglu(...a)),
        linearSwigluBackward: (...a) => (calls.fused++, base.linearSwigluBackward(...a)),
        gemmSwigluBackward: (...a) => (calls.fused++, base.gemmSwigluBackward(...a)),
      });
      const pair = run({
        linearSwiglu: (...a) => (calls.pair++, linearSwigluVia(base, ...a)),
        linearSwigluBackward: (...a) => (calls.pair++, linearSwigluBackwardVia(base, ...a)),
        gemmSwigluBackward: (...a) => (calls.pair++, gemmSwigluBackwardVia(base, ...a)),
      });
      expect(calls.fused).toBeGreaterThan(0); // both paths really ran
      expect(calls.pair).toBe(calls.fused);
      for (let i = 0; i < pair.length; i++) expect(Buffer.compare(fused[i], pair[i]), `output ${i}`).toBe(0);
      expect(new Float32Array(fused[4].buffer).some(v => v !== 0)).toBe(true);
    });
});
