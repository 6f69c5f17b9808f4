/**
 * precision=bf16 (mixed precision): the config key, and a training run whose products go through
 * gemmBf16 (counted on the device) while the precision switch is restored after it; the same
 * seed in fp32 and bf16 starts from the same loss and both learn (the 6x6 learning curves are in
 * docs/PERFORMANCE.md).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { device, gemmPrecision } from '../../src/kernels/index.js';
import { resolveTrainConfig, type TrainConfig } from '../../src/train/config.js';
import { createWorkspace, train } from '../../src/train/loop.js';
import { createTrainState } from '../../src/train/state.js';
import { makeSudoku4, type Sudoku4 } from './fixture.js';

let d: Sudoku4;
beforeAll(async () => {
  d = await makeSudoku4(40, 10, 2, mkdtempSync(join(tmpdir(), 'trm-precision-')));
});

const tiny = (over: Partial<TrainConfig> = {}) =>
  resolveTrainConfig('cpu-sudoku4', {
    model: { hidden_size: 16, puzzle_emb_ndim: 16 },
    batch_size: 4,
    steps: 20,
    log_interval: 5,
    eval_interval: 0,
    ema: false,
    ...over,
  });

describe('precision', () => {
  it('defaults to fp32; anything but fp32, bf16 or f16 is a config error', () => {
    expect(tiny().precision).toBe('fp32');
    expect(tiny({ precision: 'bf16' }).precision).toBe('bf16');
    expect(() => tiny({ precision: 'fp16' as 'bf16' })).toThrow(/precision must be one of fp32, bf16, f16, got "fp16"/);
  });

  const dev = device() as unknown as Record<string, (...a: unknown[]) => unknown>;
  const orig = { gemm: dev.gemm, gemmBf16: dev.gemmBf16, gemmSwiglu: dev.gemmSwiglu };
  afterAll(() => Object.assign(dev, orig));

  it('bf16 runs every product through the bf16 kernels, fp32 through the fp32 ones; both learn', async () => {
    const losses: Record<string, number[]> = {};
    for (const precision of ['fp32', 'bf16'] as const) {
      const calls = { gemm: 0, gemmBf16: 0, swigluBf16: 0, swigluFp32: 0 };
      dev.gemm = (...a) => (calls.gemm++, orig.gemm(...a));
      dev.gemmBf16 = (...a) => (calls.gemmBf16++, orig.gemmBf16(...a));
      dev.gemmSwiglu = (...a) => (a[8] ? calls.swigluBf16++ : calls.swigluFp32++, orig.gemmSwiglu(...a));
      const st = createTrainState(tiny({ precision, seed: 3 }), d.train.meta);
      const seen: string[] = [];
      losses[precision] = [];
      await train(st, createWorkspace(st, d.train), {
        onStep: (_s, r) => {
          losses[precision].push(r.loss);
          seen.push(gemmPrecision());
        },
      });
      Object.assign(dev, orig);
      expect(new Set(seen)).toEqual(new Set([precision]));
      expect(gemmPrecision()).toBe('fp32'); // restored after the run
      if (precision === 'bf16') {
        expect(calls.gemm).toBe(0);
        expect(calls.gemmBf16).toBeGreaterThan(100);
        expect(calls.swigluFp32).toBe(0);
        expect(calls.swigluBf16).toBeGreaterThan(0);
      } else {
        expect(calls.gemmBf16 + calls.swigluBf16).toBe(0);
        expect(calls.gemm).toBeGreaterThan(100);
      }
    }
    const [f, b] = [losses.fp32, losses.bf16];
    // the same init and data: the first losses agree to bf16's operand rounding, then both fall
    expect(Math.abs(f[0] - b[0])).toBeLessThan(0.02 * f[0]);
    for (const l of [f, b]) expect(l.slice(-5).reduce((s, x) => s + x, 0) / 5).toBeLessThan(l[0]);
  });
});

describe('checkActsFit by precision', () => {
  it('sizes a bf16 run by its bf16 activations: a batch too large in fp32 fits in bf16', async () => {
    const { checkActsFit } = await import('../../src/train/state.js');
    const { actsBytes, allocActs } = await import('../../src/model/acts.js');
    const { presets, resolveConfig } = await import('../../src/model/index.js');
    const c = resolveConfig(presets.sudokuMlp); // mlp_t: the SwiGLU activations dominate
    const f32 = actsBytes(allocActs(c, 1)),
      bf16 = actsBytes(allocActs(c, 1, 'bf16'));
    if (!device().bf16) return expect(bf16).toBe(f32); // no bf16 tensors here: kept in fp32
    expect(bf16).toBeLessThan(0.7 * f32);
    const B = Math.floor((0.8 * device().memoryBytes) / f32) + 1; // just over the fp32 limit
    expect(B * bf16).toBeLessThan(0.8 * device().memoryBytes);
    expect(() => checkActsFit(c, B, 'batch_size')).toThrow(/batch_size \d+ needs about .* GiB of activations/);
    expect(() => checkActsFit(c, B, 'batch_size', 'bf16')).not.toThrow();
  });
});
