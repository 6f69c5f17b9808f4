/**
 * Learning on the WebGPU backend: a real training run, from random weights to >= 95% exact
 * accuracy on held-out 4x4 puzzles, every kernel of it on the WebGPU device (optimizer and EMA
 * included; the host reads one small readout per step). The same run on the native backend is the
 * comparison. Without a GPU the adapter is SwiftShader (Vulkan on the CPU), which runs the
 * cpu-sudoku4 preset's 300 steps at several seconds each, so this is a smaller but honest variant
 * of it (docs/PERFORMANCE.md, "WebGPU"): D 32, one layer, T 1, lr 5e-3, 160 steps. The native run of this
 * recipe reaches 96-100% held-out exact by step 150.
 */
import { expect, it } from 'vitest';
import { type Device, setDevice } from '../../src/kernels/core.js';
import { nativeDevice, refDevice } from '../../src/kernels/index.js';
import type { TrainConfig } from '../../src/train/config.js';
import { evaluate } from '../../src/train/evaluate.js';
import { createWorkspace, evalWeights, train } from '../../src/train/loop.js';
import { createTrainState } from '../../src/train/state.js';
import { makeSudoku4 } from '../train/fixture.js';
import { describeGpu, smallSudoku4 } from './helpers.js';

const cpu: Device = nativeDevice ?? refDevice;

async function learn(on: Device, d: Awaited<ReturnType<typeof makeSudoku4>>, cfg: TrainConfig) {
  setDevice(on);
  try {
    const st = createTrainState(cfg, d.train.meta);
    const before = await evaluate(st.model, evalWeights(st), d.test, { batchSize: 100 });
    const losses: number[] = [];
    const t0 = performance.now();
    await train(st, createWorkspace(st, d.train), { onStep: (_s, r) => losses.push(r.loss) });
    const seconds = (performance.now() - t0) / 1000;
    const after = await evaluate(st.model, evalWeights(st), d.test, { batchSize: 100 });
    return { before, after, losses, seconds };
  } finally {
    setDevice(cpu);
  }
}

await describeGpu('learning on webgpu', dev => {
  it('a 4x4 Sudoku run on webgpu learns (>= 95% held-out exact), as the same run on native does', async () => {
    const d = await makeSudoku4(400, 200, 20);
    const cfg = smallSudoku4();
    const native = await learn(cpu, d, cfg);
    const gpu = await learn(dev(), d, cfg);
    const mean = (a: number[], from: number) => a.slice(from).reduce((s, v) => s + v, 0) / (a.length - from);
    for (const [name, r] of [
      ['native', native],
      ['webgpu', gpu],
    ] as const)
      console.log(
        `${name}: ${cfg.steps} steps in ${r.seconds.toFixed(0)} s; held-out exact ${r.before.exact_acc} -> ${r.after.exact_acc}, token ${r.after.token_acc.toFixed(3)}, loss first 10 ${mean(r.losses.slice(0, 10), 0).toFixed(3)}, last 20 ${mean(r.losses, r.losses.length - 20).toFixed(3)}`,
      );
    for (const r of [native, gpu]) {
      expect(r.before.exact_acc).toBeLessThan(0.05);
      expect(r.after.exact_acc).toBeGreaterThanOrEqual(0.95);
    }
    // The same recipe on two devices: the first steps agree closely (fp32 sums in another order),
    // and both runs end near the same training loss.
    expect(gpu.losses.slice(0, 5)).toBeAllclose(native.losses.slice(0, 5), { rtol: 1e-3, atol: 1e-3 });
    expect(mean(gpu.losses, cfg.steps - 20)).toBeLessThan(2 * mean(native.losses, cfg.steps - 20) + 0.05);
  }, 1_800_000); // ~2-5 min on 2 quiet cores; far longer on an overloaded machine
});
