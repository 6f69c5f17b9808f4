/**
 * A bf16 step keeps its SwiGLU activations (both MLPs' [G; U] and h) as bf16 tensors (allocActs
 * kept = 'bf16'). The forward reads h only as a bf16 product's operand, so outputs and carry are bit
 * for bit those of the step keeping fp32 activations; the gradients differ only through SwiGLU's
 * backward reading the rounded [G; U], by much less than bf16 itself moves them from fp32. Bits do
 * not depend on the thread count; the activations take about half the bytes; an fp32 step refuses
 * bf16 activations.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  backendInfo,
  isBf16,
  nativeBackend,
  setGemmPrecision,
  setThreads,
  useBackend,
  withGemmPrecision,
} from '../../src/kernels/index.js';
import {
  actsBytes,
  allocActs,
  createParams,
  resolveConfig,
  supervisionStep,
  weightsView,
} from '../../src/model/index.js';
import type { TrmConfig } from '../../src/model/config.js';
import { staticCarry } from '../helpers.js';
import { meanAbsDiff, STEP_BATCH, stepBytes, tinyMlpT, tinyModel } from './step-helpers.js';

const threads0 = backendInfo().threads;
afterAll(() => {
  setThreads(threads0);
  setGemmPrecision('fp32');
});

const configs: Array<[string, TrmConfig]> = [
  ['mlp_t', tinyMlpT],
  ['attention', resolveConfig({ ...tinyModel, mlp_t: false, num_heads: 2 })],
];
const B = STEP_BATCH;

function step(c: TrmConfig, precision: 'fp32' | 'bf16', kept: 'fp32' | 'bf16') {
  return withGemmPrecision(precision, () => stepBytes(c, kept));
}

const dist = meanAbsDiff;

describe.each(['native', 'ref'] as const)('bf16 activations kept in bf16 (%s)', backend => {
  const threads = backend === 'native' ? [1, 2] : [1];
  describe.skipIf(backend === 'native' && !nativeBackend).each(configs)('%s', (_, c) => {
    it.each(threads)('forward bitwise, gradients within the bf16 spread (%i threads)', t => {
      useBackend(backend);
      if (backend === 'native') setThreads(t);
      const k16 = step(c, 'bf16', 'bf16'),
        k32 = step(c, 'bf16', 'fp32'),
        fp = step(c, 'fp32', 'fp32');
      expect(isBf16(k16.acts.calls[0].blocks[0].mlp.h)).toBe(true);
      expect(isBf16(k16.acts.calls[0].blocks[0].mlp.gateUp)).toBe(true);
      if (c.mlp_t) expect(isBf16((k16.acts.calls[0].blocks[0].mixer as { h: unknown }).h)).toBe(true);
      expect(isBf16(k32.acts.calls[0].blocks[0].mlp.h)).toBe(false);
      // logits, q, carry y, z: the same bits
      for (let i = 0; i < 4; i++) expect(Buffer.compare(k16.out[i], k32.out[i]), `output ${i}`).toBe(0);
      const dKept = dist(k16.out[4], k32.out[4]),
        dBf16 = dist(k32.out[4], fp.out[4]);
      expect(dKept).toBeGreaterThan(0); // the rounded [G; U] does reach the gradients
      expect(dKept).toBeLessThan(0.25 * dBf16); // measured 0.07-0.09
      expect(actsBytes(k16.acts)).toBeLessThan(0.8 * actsBytes(k32.acts));
      if (backend === 'native' && t === 2) {
        setThreads(1);
        const one = step(c, 'bf16', 'bf16');
        for (let i = 0; i < 5; i++) expect(Buffer.compare(one.out[i], k16.out[i]), `output ${i}`).toBe(0);
      }
    });
  });

  it('an fp32 step refuses bf16 activations', () => {
    if (backend === 'native' && !nativeBackend) return;
    useBackend(backend);
    const c = configs[0][1];
    const a = allocActs(c, B, 'bf16'),
      w = createParams(c, 3),
      carry = staticCarry(c, w, B, a.d.S);
    const batch = { inputs: new Int32Array(B * 16), labels: new Int32Array(B * 16), puzzleIds: new Int32Array(B) };
    expect(() => supervisionStep(c, w, a, carry, batch, weightsView(c), 1 / B)).toThrow(/bf16/);
  });
});
