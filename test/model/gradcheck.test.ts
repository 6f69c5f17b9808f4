/**
 * Finite-difference check of one whole supervision step (embedding, T-1 gradient-free recursions,
 * the gradient recursion of n+1 net calls, heads, stablemax + halting loss) for both variants,
 * with the carry detached as the algorithm prescribes:
 * for every parameter tensor, the entries with the largest analytic gradients plus random ones
 * are compared with central differences of the (fp32 model, float64-summed) loss.
 */
import { describe, expect, it } from 'vitest';
import {
  allocActs,
  allocCarry,
  createParams,
  hostWeightsSync,
  resolveConfig,
  stepLosses,
  supervisionStep,
  weightsView,
  type Batch,
  type Carry,
  type TrmConfig,
} from '../../src/model/index.js';
import { host, randn, rng } from '../helpers.js';

function check(c: TrmConfig, B: number): void {
  const w = createParams(c, 5),
    hw = hostWeightsSync(w);
  hw.qHeadW.set(randn(hw.qHeadW.length, 1, 0.3));
  hw.qHeadB.set([0.3, -0.2]);
  hw.puzzleEmb!.set(randn(hw.puzzleEmb!.length, 2, 0.3));
  const a = allocActs(c, B);
  const { S, D, L, V } = a.d;
  const r = rng(9);
  const batch: Batch = {
    inputs: Int32Array.from({ length: B * L }, () => Math.floor(r() * V)),
    labels: Int32Array.from({ length: B * L }, (_, i) => (i % 4 === 3 ? -100 : Math.floor(r() * V))),
    puzzleIds: Int32Array.from({ length: B }, (_, b) => b % c.num_puzzle_identifiers),
  };
  const y0 = randn(B * S * D, 3, 1.5),
    z0 = randn(B * S * D, 4, 1.5);
  const scale = 1 / B;
  // The T-1 gradient-free recursions are a constant of the step's gradient (spec 1.1): the finite
  // differences perturb only the last recursion, started from their output under the unperturbed
  // weights (one step with H_cycles = T-1 gives that carry; one with H_cycles = 1 continues it).
  const carryOf = (y: Float32Array, z: Float32Array): Carry => ({ ...allocCarry(B, S, D), y, z });
  const carry1 = carryOf(y0.slice(), z0.slice());
  supervisionStep({ ...c, H_cycles: c.H_cycles - 1 }, w, a, carry1, batch, null);
  const loss = (): number => {
    const carry = carryOf(host(carry1.y).slice(), host(carry1.z).slice());
    return stepLosses(supervisionStep({ ...c, H_cycles: 1 }, w, a, carry, batch, null)).loss * scale;
  };
  const g = weightsView(c),
    hg = hostWeightsSync(g);
  supervisionStep(c, w, a, carryOf(y0.slice(), z0.slice()), batch, g, scale);
  const seq0 = Array.from(host(a.seqCorrect));
  const h = 2e-3;
  let worst = 0;
  for (const e of g.spec) {
    const p = hw.byName.get(e.name)!,
      gr = hg.byName.get(e.name)!;
    if (e.name === 'inner.H_init' || e.name === 'inner.L_init') {
      // fixed buffers: no gradient
      expect(gr.every(v => v === 0)).toBe(true);
      continue;
    }
    const order = Array.from(gr.keys()).sort((i, j) => Math.abs(gr[j]) - Math.abs(gr[i]));
    const picks = [...order.slice(0, 3), ...Array.from({ length: 3 }, () => Math.floor(r() * gr.length))];
    let gmax = 0;
    for (let i = 0; i < gr.length; i++) gmax = Math.max(gmax, Math.abs(gr[i]));
    for (const i of picks) {
      const old = p[i];
      p[i] = old + h;
      const lp = loss();
      p[i] = old - h;
      const lm = loss();
      p[i] = old;
      if (Array.from(host(a.seqCorrect)).some((v, k) => v !== seq0[k])) continue; // argmax flipped: loss not smooth here
      const fd = (lp - lm) / (2 * h);
      const err = Math.abs(fd - gr[i]) / (Math.abs(gr[i]) + 0.05 * gmax + 1e-4);
      worst = Math.max(worst, err);
      expect(err, `${e.name}[${i}]: analytic ${gr[i]} vs finite difference ${fd}`).toBeLessThan(3e-2);
    }
  }
  console.log(`${c.mlp_t ? 'mlp_t' : 'attention'}: worst relative FD error ${worst.toExponential(2)}`);
}

const tiny = {
  hidden_size: 16,
  num_heads: 2,
  seq_len: 5,
  vocab_size: 5,
  puzzle_emb_len: 2,
  puzzle_emb_ndim: 20,
  num_puzzle_identifiers: 2,
  H_cycles: 2,
  L_cycles: 2,
};

describe('finite differences over one supervision step', () => {
  it('token-mixer (mlp_t) variant', () => check(resolveConfig({ ...tiny, mlp_t: true, pos_encodings: 'none' }), 2));
  it('attention + RoPE variant', () => check(resolveConfig({ ...tiny, mlp_t: false, pos_encodings: 'rope' }), 2));
});
