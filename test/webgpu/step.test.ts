/**
 * The whole engine on the WebGPU device: one supervision step (forward, loss, backward into every
 * parameter gradient) equals the native CPU step within fp32 tolerance, a few optimizer steps of
 * the trainer follow the same trajectory, and evaluating a trained 4x4 model gives the same exact
 * accuracy on both devices. Sizes are small: SwiftShader (the CPU stand-in used without a GPU)
 * runs a few hundred dispatches per second at best.
 */
import { afterAll, expect, it } from 'vitest';
import { type Device, setDevice } from '../../src/kernels/core.js';
import { nativeDevice, refDevice } from '../../src/kernels/index.js';
import {
  allocActs,
  createParams,
  hostWeights,
  resolveConfig,
  startCarry,
  stepLosses,
  supervisionStep,
  type TrmConfig,
  weightsView,
  writeWeights,
} from '../../src/model/index.js';
import { evaluate } from '../../src/train/evaluate.js';
import { createWorkspace, evalWeights, train, trainStep } from '../../src/train/loop.js';
import { resolveTrainConfig } from '../../src/train/config.js';
import { createTrainState } from '../../src/train/state.js';
import { makeSudoku4 } from '../train/fixture.js';
import { describeGpu, syntheticBatch } from './helpers.js';

const cpu: Device = nativeDevice ?? refDevice;
afterAll(() => {
  setDevice(cpu);
});

/** One training step's outputs and gradients on `dev`, from the same host weights and batch. */
async function step(dev: Device, c: TrmConfig, hostW: Float32Array, B: number) {
  setDevice(dev);
  const w = weightsView(c),
    g = weightsView(c),
    a = allocActs(c, B),
    { L, S } = a.d;
  writeWeights(w, weightsView(c, hostW));
  const batch = syntheticBatch(c, B, L);
  const carry = startCarry(c, w, B, S, { mode: 'static', scale: 1, training: false }, null);
  const r = supervisionStep(c, w, a, carry, batch, g, 1 / B);
  const [logits, q, y, grads, tok, counts, bce] = await Promise.all([
    dev.read(r.logits),
    dev.read(r.q),
    dev.read(carry.y),
    dev.read(g.data),
    dev.read(r.tokLoss),
    dev.read(r.counts),
    dev.read(r.bce),
  ]);
  const losses = stepLosses({ ...r, tokLoss: tok, counts, bce });
  setDevice(cpu);
  return { logits: logits.slice(), q: q.slice(), y: y.slice(), grads: grads.slice(), loss: losses.loss };
}

await describeGpu('the engine on webgpu', dev => {
  for (const variant of ['mlp_t', 'attention'] as const) {
    it(`one supervision step (${variant}): outputs, carry and every gradient equal the CPU's`, async () => {
      const c = resolveConfig({
        hidden_size: 32,
        num_heads: 2,
        expansion: 2,
        seq_len: 16,
        vocab_size: 6,
        puzzle_emb_len: 1,
        puzzle_emb_ndim: 32,
        num_puzzle_identifiers: 3,
        H_cycles: 2,
        L_cycles: 2,
        mlp_t: variant === 'mlp_t',
        pos_encodings: variant === 'mlp_t' ? 'none' : 'rope',
      });
      setDevice(cpu);
      const hostW = (await hostWeights(createParams(c, 7))).data.slice();
      const want = await step(cpu, c, hostW, 3),
        got = await step(dev(), c, hostW, 3);
      expect(got.logits).toBeAllclose(want.logits, { rtol: 1e-3, atol: 1e-4 });
      expect(got.q).toBeAllclose(want.q, { rtol: 1e-3, atol: 1e-4 });
      expect(got.y).toBeAllclose(want.y, { rtol: 1e-3, atol: 1e-4 });
      expect(got.loss).toBeCloseTo(want.loss, 4);
      let gmax = 0;
      for (const v of want.grads) gmax = Math.max(gmax, Math.abs(v));
      expect(gmax).toBeGreaterThan(0);
      expect(got.grads).toBeAllclose(want.grads, { rtol: 1e-2, atol: 1e-3 * gmax });
    }, 600_000);
  }

  it('training steps follow the CPU trajectory, and a trained 4x4 model scores the same exact accuracy on both', async () => {
    const d = await makeSudoku4(60, 32, 2);
    const cfg = resolveTrainConfig('cpu-sudoku4', { steps: 4, batch_size: 8, eval_interval: 0 });
    const losses = async (on: Device) => {
      setDevice(on);
      const st = createTrainState(cfg, d.train.meta),
        ws = createWorkspace(st, d.train),
        out: number[] = [];
      for (let i = 0; i < 4; i++) out.push((await trainStep(st, ws)).loss);
      const w = (await hostWeights(evalWeights(st))).data.slice();
      setDevice(cpu);
      return { out, w };
    };
    const a = await losses(cpu),
      b = await losses(dev());
    expect(b.out).toBeAllclose(a.out, { rtol: 1e-3, atol: 1e-4 });
    expect(b.w).toBeAllclose(a.w, { rtol: 1e-3, atol: 1e-4 });

    // a model trained on the CPU (cpu-sudoku4, 300 steps), evaluated on both devices: identical exact accuracy
    const big = await makeSudoku4(400, 32, 20);
    setDevice(cpu);
    const st = createTrainState(resolveTrainConfig('cpu-sudoku4', { eval_interval: 0 }), big.train.meta);
    await train(st, createWorkspace(st, big.train));
    const hostW = (await hostWeights(evalWeights(st))).data.slice();
    const score = async (on: Device) => {
      setDevice(on);
      const w = weightsView(st.model);
      writeWeights(w, weightsView(st.model, hostW));
      const e = await evaluate(st.model, w, big.test, { batchSize: 32 });
      setDevice(cpu);
      return e;
    };
    const ec = await score(cpu),
      eg = await score(dev());
    console.log(`trained 4x4 model, 32 held-out puzzles: exact ${ec.exact_acc} (cpu) vs ${eg.exact_acc} (webgpu)`);
    expect(ec.exact_acc).toBeGreaterThan(0.5);
    expect(eg.exact_acc).toBe(ec.exact_acc);
    expect(eg.exact_by_step).toEqual(ec.exact_by_step);
    expect(eg.token_acc).toBeCloseTo(ec.token_acc, 6);
  }, 1_800_000); // minutes on 2 quiet cores; the limit is for overloaded machines
});
