/**
 * The channel MLP's gate_up product runs with SwiGLU in its epilogue (linearSwiglu), and both MLPs'
 * dh products with SwiGLU's backward in theirs (linearSwigluBackward, gemmSwigluBackward). A whole
 * training supervision step through them gives bit for bit the outputs, carry and every parameter
 * gradient of the op-by-op sequences they replaced (gemm or gemmBf16, fill, swigluForward or
 * swigluBackward) in fp32, on 1 and 2 native threads (the op-by-op block path: fused half-blocks
 * off). In bf16 on AVX-512 the epilogues run the fast SwiGLU (a few ulp off): the step is then held
 * to the op-by-op one relative to the fp32 step, and is the same for 1 and 2 threads.
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
import { setFusedMaxD } from '../../src/model/trm.js';
import { meanAbsDiff, stepBytes, tinyMlpT } from './step-helpers.js';

const threads0 = backendInfo().threads;
afterAll(() => setThreads(threads0));

const c = tinyMlpT;

function step() {
  const prev = setFusedMaxD(0);
  try {
    const { out, grads } = stepBytes(c);
    expect(sizeOf(grads.data)).toBeGreaterThan(0);
    return out;
  } finally {
    setFusedMaxD(prev);
  }
}

const firstRun: Record<string, Buffer[]> = {};

describe.skipIf(!nativeBackend)('SwiGLU in the GEMM epilogues', () => {
  for (const precision of ['fp32', 'bf16'] as const)
    it.each([1, 2])(`${precision}: a training step gives the op-by-op result (%i threads)`, t => {
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
      // fp32: bitwise. bf16 on AVX-512: the epilogues' SwiGLU is the fast form (a few ulp from the
      // exact one, native/ops/swiglu_bf16_avx512.cpp: kernel tests hold it to 2e-6), whose last bits
      // move some bf16 roundings of the next products' operands, and a recurrent step amplifies
      // those. So here: the fused bf16 step is no farther from the fp32 step than the op-by-op bf16
      // step is (mean absolute difference per output, 25% slack).
      const dist = meanAbsDiff;
      const fast = precision === 'bf16' && backendInfo().isa === 'avx512';
      const exact = fast ? step() : [];
      if (fast) expect(dist(pair[4], exact[4])).toBeGreaterThan(0); // the bf16 gradients are not the fp32 ones
      for (let i = 0; i < pair.length; i++) {
        if (!fast) expect(Buffer.compare(fused[i], pair[i]), `output ${i}`).toBe(0);
        else {
          const dPair = dist(pair[i], exact[i]),
            dFused = dist(fused[i], exact[i]);
          expect(dFused, `output ${i}`).toBeLessThanOrEqual(1.1 * dPair);
          expect(dist(fused[i], pair[i]), `output ${i}`).toBeLessThanOrEqual(0.5 * dPair);
        }
      }
      expect(new Float32Array(fused[4].buffer).some(v => v !== 0)).toBe(true);
      // and the fused step's bits do not depend on the thread count
      const first = (firstRun[precision] ??= fused);
      for (let i = 0; i < fused.length; i++) expect(Buffer.compare(fused[i], first[i]), `output ${i}`).toBe(0);
    });
});
