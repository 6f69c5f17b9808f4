/** Supervision-step contracts: activations tied to one batch size, carry reset, forward-only = forward of a training step. */
import { describe, expect, it } from 'vitest';
import {
  allocActs,
  createParams,
  resetCarry,
  resolveConfig,
  stepLosses,
  supervisionStep,
  weightsView,
} from '../../src/model/index.js';

import { ShapeError } from '../../src/errors.js';
import { host, staticCarry } from '../helpers.js';

const c = resolveConfig({
  hidden_size: 16,
  num_heads: 2,
  seq_len: 4,
  vocab_size: 4,
  puzzle_emb_ndim: 16,
  puzzle_emb_len: 1,
  H_cycles: 2,
  L_cycles: 2,
});
const batch = (B: number) => ({
  inputs: new Int32Array(B * 4).fill(1),
  labels: new Int32Array(B * 4).fill(2),
  puzzleIds: new Int32Array(B),
});

describe('supervision step', () => {
  it('refuses a batch or carry of another size than the activations', () => {
    const w = createParams(c, 1),
      a = allocActs(c, 2);
    expect(() => supervisionStep(c, w, a, staticCarry(c, w, 3, a.d.S), batch(3), null)).toThrow(ShapeError);
    expect(() => supervisionStep(c, w, a, staticCarry(c, w, 2, a.d.S), batch(3), null)).toThrow(/expected 2x4/);
    expect(() => allocActs(c, 0)).toThrow(/positive integer/);
  });
  it('forward-only gives the same outputs and carry as a training step; resetCarry restores H_init/L_init', () => {
    const w = createParams(c, 2),
      a = allocActs(c, 2),
      S = a.d.S;
    const c1 = staticCarry(c, w, 2, S),
      c2 = staticCarry(c, w, 2, S);
    const r1 = supervisionStep(c, w, a, c1, batch(2), null);
    const logits = host(r1.logits).slice(),
      loss1 = stepLosses(r1).loss;
    const r2 = supervisionStep(c, w, a, c2, batch(2), weightsView(c), 0.5);
    expect(stepLosses(r2).loss).toBe(loss1);
    expect(r2.logits).toEqual(logits);
    expect(c2.y).toEqual(c1.y);
    resetCarry(c2, w, new Uint8Array([0, 1]), 16);
    expect(host(c2.y).subarray(0, S * 16)).toEqual(host(c1.y).subarray(0, S * 16));
    expect(Array.from(host(c2.y).subarray(S * 16 + 16 * 3, S * 16 + 16 * 4))).toEqual(Array.from(host(w.Hinit)));
    expect(Array.from(host(c2.z).subarray(S * 16, S * 16 + 16))).toEqual(Array.from(host(w.Linit)));
  });
});
