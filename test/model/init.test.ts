/** Latent init modes: which slots change, what is shared, and the draws' statistics. */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/data/rng.js';
import { isRandomInit, type InitSpec } from '../../src/model/init.js';
import { allocCarry, chainRng, createParams, initCarry, resolveConfig, startCarry } from '../../src/model/index.js';

const D = 32,
  S = 5,
  B = 64,
  per = S * D;
const c = resolveConfig({
  hidden_size: D,
  vocab_size: 6,
  seq_len: 4,
  num_puzzle_identifiers: 1,
  puzzle_emb_len: 1,
  puzzle_emb_ndim: D,
  mlp_t: true,
  pos_encodings: 'none',
});
const w = createParams(c, 1);
const fresh = () => {
  const carry = allocCarry(B, S, D) as {
    y: Float32Array;
    z: Float32Array;
    reset: Uint8Array;
    yStart: Float32Array;
    zStart: Float32Array;
  };
  carry.y.fill(7);
  carry.z.fill(7);
  return carry;
};
const all = new Uint8Array(B).fill(1);
const spec = (mode: InitSpec['mode'], scale = 1, training = true): InitSpec => ({ mode, scale, training });
const slot = (a: Float32Array, b: number) => a.subarray(b * per, (b + 1) * per);
function stats(v: ArrayLike<number>) {
  let m = 0,
    s = 0;
  for (let i = 0; i < v.length; i++) m += v[i];
  m /= v.length;
  for (let i = 0; i < v.length; i++) s += (v[i] - m) ** 2;
  return { mean: m, std: Math.sqrt(s / v.length) };
}

describe('latent init modes', () => {
  it('static: the H_init / L_init buffers at every position; only reset slots change', () => {
    const carry = fresh(),
      reset = new Uint8Array(B);
    reset[3] = 1;
    initCarry(carry, w, reset, D, spec('static'), null);
    for (let p = 0; p < S; p++) {
      expect(slot(carry.y, 3).subarray(p * D, (p + 1) * D)).toEqual(w.Hinit);
      expect(slot(carry.z, 3).subarray(p * D, (p + 1) * D)).toEqual(w.Linit);
    }
    expect(slot(carry.y, 2).every(v => v === 7)).toBe(true);
  });

  it('random: one vector per latent shared by all slots and positions, N(0, scale^2), fresh per call', () => {
    const carry = fresh(),
      rng = new Rng(5);
    initCarry(carry, w, all, D, spec('random', 0.5), rng);
    const v = carry.y.subarray(0, D);
    for (let i = 0; i < B * S; i++) expect(carry.y.subarray(i * D, (i + 1) * D)).toEqual(v);
    expect(carry.z.subarray(0, D)).not.toEqual(v);
    const again = fresh();
    initCarry(again, w, all, D, spec('random', 0.5), rng);
    expect(again.y.subarray(0, D)).not.toEqual(v);
    // scale: many draws of the vector
    const draws: number[] = [];
    for (let t = 0; t < 200; t++) {
      const cc = fresh();
      initCarry(cc, w, new Uint8Array(1).fill(1), D, spec('random', 0.5), new Rng(9, t));
      draws.push(...cc.y.subarray(0, D));
    }
    const st = stats(draws);
    expect(Math.abs(st.mean)).toBeLessThan(0.02);
    expect(st.std).toBeGreaterThan(0.48);
    expect(st.std).toBeLessThan(0.52);
  });

  it('random-per-sample: a vector per slot, shared by its positions', () => {
    const carry = fresh();
    initCarry(carry, w, all, D, spec('random-per-sample', 1), new Rng(2));
    expect(slot(carry.y, 0).subarray(0, D)).toEqual(slot(carry.y, 0).subarray(D, 2 * D));
    expect(slot(carry.y, 0).subarray(0, D)).not.toEqual(slot(carry.y, 1).subarray(0, D));
    const st = stats(carry.y.filter((_, i) => i % per < D));
    expect(st.std).toBeGreaterThan(0.9);
    expect(st.std).toBeLessThan(1.1);
  });

  it('mixed: per slot, all zeros or N(0, 1) over the whole latent, about half each; zeros at test', () => {
    const carry = fresh();
    initCarry(carry, w, all, D, spec('mixed', 0.1), new Rng(4));
    let zeros = 0;
    for (let b = 0; b < B; b++) {
      const y = slot(carry.y, b),
        z = slot(carry.z, b);
      if (y.every(v => v === 0)) {
        zeros++;
        expect(z.every(v => v === 0)).toBe(true);
        continue;
      }
      expect(new Set(y).size).toBe(per); // independent entries, not a broadcast vector
      const st = stats(y);
      expect(st.std).toBeGreaterThan(0.75);
      expect(st.std).toBeLessThan(1.25); // unit std whatever `scale`
    }
    expect(zeros).toBeGreaterThan(B * 0.3);
    expect(zeros).toBeLessThan(B * 0.7);
    const test = fresh();
    initCarry(test, w, all, D, spec('mixed', 1, false), new Rng(4));
    expect(test.y.every(v => v === 0) && test.z.every(v => v === 0)).toBe(true);
    expect(isRandomInit(spec('mixed', 1, false))).toBe(false);
  });

  it('evaluation chains: the same (seed, batch, chain) gives the same start, another chain another', () => {
    const a = startCarry(c, w, 2, S, spec('random', 1, false), chainRng(3, 1, 0));
    const b = startCarry(c, w, 2, S, spec('random', 1, false), chainRng(3, 1, 0));
    const other = startCarry(c, w, 2, S, spec('random', 1, false), chainRng(3, 1, 1));
    expect(a.y).toEqual(b.y);
    expect(a.y).not.toEqual(other.y);
  });
});
