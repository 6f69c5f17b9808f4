/**
 * EqR's damped noisy update (src/model/damping.ts): the forward against a host reference built
 * from single net calls, finite differences of one whole supervision step with damping and noise
 * (both variants), the default config bit for bit against the code before the keys existed (a
 * hash of three training steps on the reference device, recorded from commit 891004f), and the
 * noise streams (eval chains reproducible by (seed, batch, chain); a missing stream is an error).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng, STREAM } from '../../src/data/rng.js';
import { setDevice } from '../../src/kernels/core.js';
import { refDevice } from '../../src/kernels/select.js';
import {
  allocActs,
  allocCarry,
  chainRng,
  createParams,
  hostWeightsSync,
  netForward,
  resolveConfig,
  runChain,
  startCarry,
  stepLosses,
  supervisionStep,
  weightsView,
  type Batch,
  type Carry,
  type TrmConfig,
} from '../../src/model/index.js';
import { resolveTrainConfig } from '../../src/train/config.js';
import { loadModel, saveCheckpoint } from '../../src/train/checkpoint.js';
import { createWorkspace, train } from '../../src/train/loop.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { createTrainState } from '../../src/train/state.js';
import { makeSudoku4 } from '../train/fixture.js';
import { host, randn, rng } from '../helpers.js';

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
const mlpT = { ...tiny, mlp_t: true, pos_encodings: 'none' as const };
const att = { ...tiny, mlp_t: false, pos_encodings: 'rope' as const };

function setup(c: TrmConfig, B: number) {
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
  const carryOf = (y: Float32Array, z: Float32Array, noise: Rng | null): Carry => ({
    ...allocCarry(B, S, D),
    y,
    z,
    noise,
  });
  return { w, hw, a, batch, y0, z0, carryOf, r, S, D };
}

/** A noise stream that has already drawn `calls` calls' worth (even call sizes: no pair straddles). */
function noiseAfter(calls: number, size: number): Rng {
  const g = new Rng(7, STREAM.eqrNoise);
  if (calls > 0) g.fillNormal(new Float32Array(calls * size));
  return g;
}

describe('EqR damped noisy update', () => {
  it('forward: every net call is h <- d h + (1 - d) f(h + u) + s eps (host reference from single calls)', () => {
    const c = resolveConfig({ ...mlpT, damping: 0.3, train_noise: 0.2 }),
      B = 2;
    const { w, a, batch, y0, z0, carryOf, S, D } = setup(c, B);
    const size = B * S * D;
    const carry = carryOf(y0.slice(), z0.slice(), new Rng(7, STREAM.eqrNoise));
    supervisionStep(c, w, a, carry, batch, null);
    // reference: x from the same step (embedding unchanged by damping), then the recursion on the host
    const x = host(a.x).slice();
    const ref = allocActs({ ...c, damping: 0, train_noise: 0 }, B);
    const y = y0.slice(),
      z = z0.slice(),
      eps = new Rng(7, STREAM.eqrNoise),
      e = new Float32Array(size);
    const call = (h: Float32Array, u: (i: number) => number) => {
      const inp = host(ref.calls[0].inp);
      for (let i = 0; i < size; i++) inp[i] = u(i);
      const out = host(netForward(c, ref, ref.calls[0], w));
      eps.fillNormal(e, c.train_noise);
      for (let i = 0; i < size; i++) h[i] = Math.fround(Math.fround(0.3 * h[i] + (1 - 0.3) * out[i]) + e[i]);
    };
    for (let t = 0; t < c.H_cycles; t++) {
      for (let k = 0; k < c.L_cycles; k++) call(z, i => Math.fround(Math.fround(y[i] + x[i]) + z[i]));
      call(y, i => Math.fround(y[i] + z[i]));
    }
    expect(host(carry.z)).toBeAllclose(z, { rtol: 1e-6, atol: 1e-6 });
    expect(host(carry.y)).toBeAllclose(y, { rtol: 1e-6, atol: 1e-6 });
    // and the noise and damping did something
    const plain = carryOf(y0.slice(), z0.slice(), null);
    supervisionStep({ ...c, damping: 0, train_noise: 0 }, w, allocActs(c, B), plain, batch, null);
    expect(Math.abs(host(plain.y)[0] - y[0]) + Math.abs(host(plain.z)[0] - z[0])).toBeGreaterThan(1e-3);
  });

  for (const [name, v] of [
    ['token-mixer (mlp_t)', mlpT],
    ['attention + RoPE', att],
  ] as const)
    it(`backward: finite differences of a damped noisy supervision step, ${name}`, () => {
      const c = resolveConfig({ ...v, damping: 0.3, train_noise: 0.05 }),
        B = 2;
      const { w, hw, a, batch, y0, z0, carryOf, r, S, D } = setup(c, B);
      const size = B * S * D,
        per = c.L_cycles + 1;
      const scale = 1 / B;
      // the T-1 gradient-free recursions are a constant of the gradient (as test/model/gradcheck):
      // FD perturbs the last recursion only, continuing the same noise stream
      const carry1 = carryOf(y0.slice(), z0.slice(), noiseAfter(0, size));
      supervisionStep({ ...c, H_cycles: c.H_cycles - 1 }, w, a, carry1, batch, null);
      const loss = (): number => {
        const carry = carryOf(host(carry1.y).slice(), host(carry1.z).slice(), noiseAfter(per * (c.H_cycles - 1), size));
        return stepLosses(supervisionStep({ ...c, H_cycles: 1 }, w, a, carry, batch, null)).loss * scale;
      };
      const g = weightsView(c),
        hg = hostWeightsSync(g);
      supervisionStep(c, w, a, carryOf(y0.slice(), z0.slice(), noiseAfter(0, size)), batch, g, scale);
      const seq0 = Array.from(host(a.seqCorrect));
      const h = 2e-3;
      let worst = 0,
        checked = 0;
      for (const e of g.spec) {
        if (e.name === 'inner.H_init' || e.name === 'inner.L_init') continue;
        const p = hw.byName.get(e.name)!,
          gr = hg.byName.get(e.name)!;
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
          if (Array.from(host(a.seqCorrect)).some((s, k) => s !== seq0[k])) continue;
          const fd = (lp - lm) / (2 * h);
          const err = Math.abs(fd - gr[i]) / (Math.abs(gr[i]) + 0.05 * gmax + 1e-4);
          worst = Math.max(worst, err);
          checked++;
          expect(err, `${e.name}[${i}]: analytic ${gr[i]} vs finite difference ${fd}`).toBeLessThan(3e-2);
        }
      }
      expect(checked).toBeGreaterThan(20);
      // the gradient of the damped step is not the undamped one (the test exercises the damping terms)
      const g0 = weightsView(c);
      supervisionStep(
        { ...c, damping: 0 },
        w,
        a,
        carryOf(y0.slice(), z0.slice(), noiseAfter(0, size)),
        batch,
        g0,
        scale,
      );
      expect(hostWeightsSync(g0).data).not.toEqual(hg.data);
      console.log(`${name} damped: worst relative FD error ${worst.toExponential(2)} over ${checked} entries`);
    });

  it('default config (damping 0, train_noise 0) trains bit for bit as before the keys existed', async () => {
    const d = await makeSudoku4(40, 20, 2, mkdtempSync(join(tmpdir(), 'trm-damp-')));
    const prev = setDevice(refDevice); // the reference device: the same bits on every machine
    try {
      const hashOf = async (model: Record<string, unknown>) => {
        const cfg = resolveTrainConfig('cpu-sudoku4', {
          model: { hidden_size: 16, puzzle_emb_ndim: 16, ...model },
          batch_size: 4,
          steps: 3,
          log_interval: 1,
          eval_interval: 0,
        });
        const st = createTrainState(cfg, d.train.meta);
        await train(st, createWorkspace(st, d.train));
        const hash = createHash('sha256');
        for (const t of [st.params.data, st.opt.m, st.opt.v, st.ema!, st.carry.y, st.carry.z] as Float32Array[])
          hash.update(new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
        return hash.digest('hex');
      };
      // recorded with the code of 891004f (before damping / train_noise), same data and config
      const before = '528ae7cb61e11484946034112a82ab242c06815fcd601ee7378da38558f70d19';
      expect(await hashOf({})).toBe(before);
      expect(await hashOf({ damping: 0, train_noise: 0 })).toBe(before);
      expect(await hashOf({ damping: 0.05, train_noise: 0.01 })).not.toBe(before);
    } finally {
      if (prev) setDevice(prev);
    }
  });

  it('checkpoints store damping / train_noise only when set; eval loads them from the model file', async () => {
    const d = await makeSudoku4(20, 6, 0, mkdtempSync(join(tmpdir(), 'trm-damp-ck-')));
    const save = async (model: Record<string, unknown>, name: string) => {
      const cfg = resolveTrainConfig('cpu-sudoku4', {
        model: { hidden_size: 16, puzzle_emb_ndim: 16, ...model },
        batch_size: 4,
        steps: 1,
        eval_interval: 0,
      });
      const st = createTrainState(cfg, d.train.meta);
      await train(st, createWorkspace(st, d.train));
      const run = join(d.dir, '..', name);
      const ck = saveCheckpoint(run, st);
      return { run, meta: JSON.parse(readSafetensors(join(ck, 'model.safetensors')).metadata.trm_model_config) };
    };
    const plain = await save({}, 'plain'),
      eqr = await save({ damping: 0.05, train_noise: 0.01 }, 'eqr');
    // a default model file is the one written before the keys existed (older readers load it)
    expect(plain.meta).not.toHaveProperty('damping');
    expect(plain.meta).not.toHaveProperty('train_noise');
    expect(eqr.meta).toMatchObject({ damping: 0.05, train_noise: 0.01 });
    expect(loadModel(plain.run).config).toMatchObject({ damping: 0, train_noise: 0 });
    expect(loadModel(eqr.run).config).toMatchObject({ damping: 0.05, train_noise: 0.01 });
  });

  it('evaluation noise: a chain is a function of (seed, batch, chain); chains differ; no stream is an error', async () => {
    const c = resolveConfig({ ...mlpT, damping: 0.05, train_noise: 0.3 }),
      B = 2;
    const { w, a, batch } = setup(c, B);
    const init = { mode: 'static' as const, scale: 1, training: false };
    const final = async (rg: Rng) => {
      const carry = await runChain(c, w, a, batch, { nsup: 2, init, rng: rg });
      return host(carry.y).slice();
    };
    const a1 = await final(chainRng(3, 0, 0)),
      a2 = await final(chainRng(3, 0, 0)),
      b1 = await final(chainRng(3, 0, 1)),
      c1 = await final(chainRng(3, 1, 0));
    expect(a2).toEqual(a1);
    expect(b1).not.toEqual(a1);
    expect(c1).not.toEqual(a1);
    // a static-init chain without an init stream (trm solve) still runs, on stream (0, eqrEvalNoise)
    const s = startCarry(c, w, B, a.d.S, init, null);
    expect(s.noise).toBeInstanceOf(Rng);
    const bare: Carry = { ...allocCarry(B, a.d.S, a.d.D) };
    expect(() => supervisionStep(c, w, a, bare, batch, null)).toThrow(/train_noise 0.3 needs a noise stream/);
  });

  it("Rng.fillNormal: Box-Muller pairs of the stream's floats, both outputs used, scaled", () => {
    const g = new Rng(3, STREAM.eqrNoise),
      out = g.fillNormal(new Float32Array(5), 0.5);
    const r = new Rng(3, STREAM.eqrNoise),
      want: number[] = [];
    for (let k = 0; k < 3; k++) {
      const u = 1 - r.float(),
        v = 2 * Math.PI * r.float(),
        rad = 0.5 * Math.sqrt(-2 * Math.log(u));
      want.push(rad * Math.cos(v), rad * Math.sin(v));
    }
    expect(Array.from(out)).toEqual(want.slice(0, 5).map(Math.fround));
    expect(g.nextU32()).toBe(r.nextU32()); // an odd length consumes the whole last pair
    const big = new Rng(4, STREAM.eqrNoise).fillNormal(new Float32Array(200_000), 2);
    let m = 0,
      v = 0;
    for (const x of big) m += x;
    m /= big.length;
    for (const x of big) v += (x - m) ** 2;
    expect(Math.abs(m)).toBeLessThan(0.02);
    expect(Math.sqrt(v / big.length)).toBeCloseTo(2, 1);
  });

  it('config: damping in [0, 1), train_noise >= 0', () => {
    expect(() => resolveConfig({ damping: 1 })).toThrow(/damping must be in \[0, 1\)/);
    expect(() => resolveConfig({ damping: -0.1 })).toThrow(/damping/);
    expect(() => resolveConfig({ train_noise: -1 })).toThrow(/train_noise must be a non-negative number/);
    expect(resolveConfig({}).damping).toBe(0);
  });
});
