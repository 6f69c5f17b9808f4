/**
 * EqR damped noisy updates and milestone supervision on the WebGPU device: a damped noisy
 * supervision step (outputs, carry, every gradient) and a few training steps with damping, noise
 * and milestone labels equal the CPU's within fp32 tolerance (the noise is drawn on the host,
 * the combine and the halting target's second matchCounts run as kernels).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { readDatasetSplit } from '../../src/data/dataset.js';
import { Rng, STREAM } from '../../src/data/rng.js';
import { buildSudokuDataset } from '../../src/data/sudoku/build.js';
import { csvHeader, formatCsvRow } from '../../src/data/sudoku/csv.js';
import { generateSudoku } from '../../src/data/sudoku/generate-file.js';
import { readSplitMilestones } from '../../src/data/sudoku/milestones-files.js';
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
import { resolveTrainConfig } from '../../src/train/config.js';
import { createWorkspace, evalWeights, trainStep } from '../../src/train/loop.js';
import { createTrainState } from '../../src/train/state.js';
import { describeGpu, syntheticBatch } from './helpers.js';

const cpu: Device = nativeDevice ?? refDevice;
afterAll(() => {
  setDevice(cpu);
});

async function step(dev: Device, c: TrmConfig, hostW: Float32Array, B: number) {
  setDevice(dev);
  const w = weightsView(c),
    g = weightsView(c),
    a = allocActs(c, B),
    { L, S } = a.d;
  writeWeights(w, weightsView(c, hostW));
  const batch = syntheticBatch(c, B, L);
  const carry = startCarry(c, w, B, S, { mode: 'static', scale: 1, training: false }, null);
  carry.noise = new Rng(7, STREAM.eqrNoise);
  const r = supervisionStep(c, w, a, carry, batch, g, 1 / B);
  const [logits, y, z, grads, tok, counts, bce] = await Promise.all([
    dev.read(r.logits),
    dev.read(carry.y),
    dev.read(carry.z),
    dev.read(g.data),
    dev.read(r.tokLoss),
    dev.read(r.counts),
    dev.read(r.bce),
  ]);
  const losses = stepLosses({ ...r, tokLoss: tok, counts, bce });
  setDevice(cpu);
  return { logits: logits.slice(), y: y.slice(), z: z.slice(), grads: grads.slice(), loss: losses.loss };
}

await describeGpu('EqR damping and milestones on webgpu', dev => {
  it('a damped noisy supervision step: outputs, carry and every gradient equal the CPU', async () => {
    const c = resolveConfig({
      hidden_size: 32,
      expansion: 2,
      seq_len: 16,
      vocab_size: 6,
      puzzle_emb_len: 1,
      puzzle_emb_ndim: 32,
      num_puzzle_identifiers: 3,
      H_cycles: 2,
      L_cycles: 2,
      mlp_t: true,
      pos_encodings: 'none',
      damping: 0.3,
      train_noise: 0.1,
    });
    setDevice(cpu);
    const hostW = (await hostWeights(createParams(c, 7))).data.slice();
    const want = await step(cpu, c, hostW, 3),
      got = await step(dev(), c, hostW, 3);
    expect(got.logits).toBeAllclose(want.logits, { rtol: 1e-3, atol: 1e-4 });
    expect(got.y).toBeAllclose(want.y, { rtol: 1e-3, atol: 1e-4 });
    expect(got.z).toBeAllclose(want.z, { rtol: 1e-3, atol: 1e-4 });
    expect(got.loss).toBeCloseTo(want.loss, 4);
    let gmax = 0;
    for (const v of want.grads) gmax = Math.max(gmax, Math.abs(v));
    expect(gmax).toBeGreaterThan(0);
    expect(got.grads).toBeAllclose(want.grads, { rtol: 1e-2, atol: 1e-3 * gmax });
  }, 600_000);

  it('training steps with damping, noise and milestones follow the CPU trajectory', async () => {
    const root = mkdtempSync(join(tmpdir(), 'trm-gpu-ms-'));
    const csv = async (name: string, count: number, seed: number) => {
      const { puzzles } = await generateSudoku({
        size: 4,
        count,
        seed,
        minRating: 0,
        maxRating: Infinity,
        perChain: 1,
        maxSteps: 2000,
        threads: 1,
      });
      const path = join(root, name);
      writeFileSync(
        path,
        `${[csvHeader(), ...puzzles.map((p, i) => formatCsvRow(`p${i}`, p.question, p.answer, p.rating))].join('\n')}\n`,
      );
      return path;
    };
    const out = join(root, 'data');
    await buildSudokuDataset({
      train: await csv('train.csv', 40, 1),
      test: await csv('test.csv', 8, 2),
      out,
      seed: 0,
      aug: 2,
      milestones: 'sudoku-logic',
    });
    const split = await readDatasetSplit(join(out, 'train'));
    split.milestones = await readSplitMilestones(join(out, 'train'), split, 'sudoku-logic');
    const cfg = resolveTrainConfig('cpu-sudoku4', {
      model: { damping: 0.05, train_noise: 0.01 },
      steps: 4,
      batch_size: 8,
      eval_interval: 0,
      milestones: 'sudoku-logic',
    });
    const run = async (on: Device) => {
      setDevice(on);
      const st = createTrainState(cfg, split.meta),
        ws = createWorkspace(st, split),
        losses: number[] = [];
      for (let i = 0; i < 4; i++) losses.push((await trainStep(st, ws)).loss);
      const w = (await hostWeights(evalWeights(st))).data.slice();
      setDevice(cpu);
      return { losses, w };
    };
    const a = await run(cpu),
      b = await run(dev());
    expect(b.losses).toBeAllclose(a.losses, { rtol: 1e-3, atol: 1e-4 });
    expect(b.w).toBeAllclose(a.w, { rtol: 1e-3, atol: 1e-4 });
  }, 600_000);
});
