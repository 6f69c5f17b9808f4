/** Path independence: AAS on toy recurrences and on a TRM (reference/experiments.md 7). */
import { describe, expect, it } from 'vitest';
import { aasBatch, aasScores, cosine, type LatentRunner } from '../../src/experiments/aas.js';
import { Rng } from '../../src/data/rng.js';

/** B states of `per` floats; each step maps the state, and the prediction of cell i is sign(y_i). */
function toyRunner(B: number, per: number, step: (y: Float32Array, b: number) => void): LatentRunner {
  return {
    B,
    per,
    L: per,
    async run(y, z, steps, onStep) {
      for (let s = 1; s <= steps; s++) {
        for (let b = 0; b < B; b++) {
          step(y.subarray(b * per, (b + 1) * per), b);
          step(z.subarray(b * per, (b + 1) * per), b);
        }
        const preds = Int32Array.from(y, v => (v > 0 ? 1 : 0));
        onStep(s, preds, y, z);
      }
    },
  };
}

const B = 8,
  per = 32,
  rng = new Rng(3);
const targets = Array.from({ length: B }, () => Float32Array.from({ length: per }, () => rng.normal()));
const random = () => Float32Array.from({ length: B * per }, () => rng.normal());

describe('asymptotic alignment score', () => {
  it("is 1 for a contractive map (every start converges to the puzzle's own fixed point)", async () => {
    // h <- 0.5 h + 0.5 t_b: fixed point t_b whatever the start
    const run = toyRunner(B, per, (h, b) => {
      for (let i = 0; i < per; i++) h[i] = 0.5 * h[i] + 0.5 * targets[b][i];
    });
    const r = await aasBatch(run, random(), random(), B, 40, true);
    const s = aasScores(r.swap);
    expect(s.aas_y).toBeGreaterThan(0.999999);
    expect(s.aas_z).toBeGreaterThan(0.999999);
    expect(s.pred_match).toBe(1);
    expect(aasScores(r.allPairs!).aas_y).toBeGreaterThan(0.999999);
    // the curve climbs towards 1: pass 2's first step is still far
    expect(s.curve[0].aas_y).toBeLessThan(s.curve[39].aas_y);
  });

  it('is clearly below 1 for a path-dependent map (the start is never forgotten)', async () => {
    // h <- h + 0.1 t_b: the end state keeps the start
    const run = toyRunner(B, per, (h, b) => {
      for (let i = 0; i < per; i++) h[i] += 0.1 * targets[b][i];
    });
    const r = await aasBatch(run, random(), random(), B, 5, true);
    const s = aasScores(r.swap),
      all = aasScores(r.allPairs!);
    expect(s.aas_y).toBeLessThan(0.8);
    expect(s.pred_match).toBeLessThan(0.9);
    // all pairs includes j = i (cos 1) among B offsets, so it lies between the swap score and 1
    expect(all.aas_y).toBeGreaterThan(s.aas_y - 0.2);
    expect(all.aas_y).toBeLessThan(1 - 0.5 / B);
  });

  it('rolls only the n valid rows and scores only them', async () => {
    const run = toyRunner(B, per, () => {}); // identity: pass 2 ends where it starts
    const y0 = random(),
      z0 = random();
    const r = await aasBatch(run, y0, z0, 3, 1, false);
    expect(r.swap.samples).toBe(3);
    // identity: AAS_y = mean over b < 3 of cos(y0[b-1 mod 3], y0[b])
    let want = 0;
    for (let b = 0; b < 3; b++)
      want += cosine(y0.subarray(((b + 2) % 3) * per, (((b + 2) % 3) + 1) * per), y0.subarray(b * per, (b + 1) * per));
    expect(aasScores(r.swap).aas_y).toBeCloseTo(want / 3, 6);
  });

  it('cosine matches the definition, with the 1e-8 floor', async () => {
    expect(cosine(new Float32Array([1, 0]), new Float32Array([1, 1]))).toBeCloseTo(Math.SQRT1_2, 7);
    expect(cosine(new Float32Array([0, 0]), new Float32Array([1, 1]))).toBe(0);
  });
});
