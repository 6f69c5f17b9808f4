import { describe, expect, it } from 'vitest';
import { createParams, hostWeightsSync, resolveConfig, weightsView } from '../../src/model/index.js';
import { resolveTrainConfig } from '../../src/train/config.js';
import { denseStep, emaInit, emaStep, emaWeightsInto, optInit, puzzleEmbStep } from '../../src/train/optim.js';

const c = resolveConfig({
  hidden_size: 8,
  num_heads: 2,
  puzzle_emb_ndim: 8,
  puzzle_emb_len: 1,
  num_puzzle_identifiers: 3,
  seq_len: 4,
  vocab_size: 6,
});

describe('optimizers', () => {
  it('AdamATan2 moves every trainable tensor by the exact rule and leaves buffers alone', () => {
    const w = createParams(c, 1),
      g = weightsView(c),
      s = optInit(w),
      hw = hostWeightsSync(w),
      hg = hostWeightsSync(g);
    for (let i = 0; i < hg.data.length; i++) hg.data[i] = Math.sin(i) * 0.01;
    const before = hw.data.slice();
    const cfg = resolveTrainConfig('paper-sudoku-att', { weight_decay: 0.5 });
    denseStep(w, g, s, cfg, 1e-2, 1);
    for (const e of w.spec) {
      const i = e.offset; // first element: check the formula
      if (!e.trainable) {
        expect([...hw.byName.get(e.name)!]).toEqual([...before.subarray(e.offset, e.offset + e.size)]);
        continue;
      }
      const m = 0.1 * hg.data[i],
        v = 0.05 * hg.data[i] ** 2;
      const want =
        before[i] * (1 - 1e-2 * 0.5) - (1e-2 / (1 - 0.9)) * Math.atan2(m, Math.sqrt(v) / Math.sqrt(1 - 0.95));
      expect(hw.data[i]).toBeCloseTo(want, 5);
    }
  });

  it('AdamW is selectable and differs from AdamATan2', () => {
    const run = (optimizer: 'adamw' | 'adam-atan2') => {
      const w = createParams(c, 1),
        g = weightsView(c);
      hostWeightsSync(g).data.fill(1e-3);
      denseStep(w, g, optInit(w), resolveTrainConfig('paper-sudoku-att', { optimizer }), 1e-2, 1);
      return hostWeightsSync(w).lmHead[0];
    };
    expect(run('adamw')).not.toBe(run('adam-atan2'));
  });

  it('SignSGD updates only the puzzle-embedding rows in the batch, with decay', () => {
    const w = createParams(c, 1),
      g = weightsView(c),
      hw = hostWeightsSync(w),
      hg = hostWeightsSync(g);
    hw.puzzleEmb!.fill(1);
    hg.puzzleEmb!.fill(-2);
    hg.puzzleEmb!.fill(0, 16, 17); // row 2, element 0: zero gradient -> sign 0
    puzzleEmbStep(w, g, new Int32Array([2, 0, 2]), new Int32Array(3), new Int32Array(3), 0.1, 0.5);
    const row = (r: number) => [...hw.puzzleEmb!.subarray(r * 8, r * 8 + 8)];
    expect(row(0)[0]).toBeCloseTo(1 * (1 - 0.05) + 0.1, 6);
    expect(row(1)).toEqual(new Array(8).fill(1));
    expect(row(2)[0]).toBeCloseTo(0.95, 6);
    expect(row(2)[1]).toBeCloseTo(1.05, 6);
  });

  it('EMA averages trainable tensors; the EMA weights carry the current buffers', () => {
    const w = createParams(c, 1),
      shadow = emaInit(w),
      hw = hostWeightsSync(w);
    const old = hw.lmHead[0];
    hw.data.fill(0);
    emaStep(shadow, w, 0.9);
    const out = hostWeightsSync(emaWeightsInto(weightsView(c), shadow, w));
    expect(out.lmHead[0]).toBeCloseTo(0.9 * old, 6);
    expect(out.Hinit[0]).toBe(0); // buffers: current values, not averaged
  });
});
