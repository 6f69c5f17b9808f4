/**
 * helpers.ts: the WebGPU device for tests. On a machine without a GPU, Chromium's SwiftShader
 * gives Dawn a Vulkan adapter on the CPU: VK_ICD_FILENAMES is pointed at it when unset and the
 * ICD file exists (apt-get install chromium libvulkan1). Without any adapter the suites skip
 * with a visible line instead of failing.
 */
import { existsSync } from 'node:fs';
import { upload } from '../../src/kernels/core.js';
import type { Batch, TrmConfig } from '../../src/model/index.js';
import { describe } from 'vitest';
import { resolveTrainConfig, type TrainConfig } from '../../src/train/config.js';
import type { WebGpuDevice } from '../../src/webgpu/device.js';
import { createNodeWebGpuDevice, SWIFTSHADER_ICD } from '../../src/webgpu/node.js';

if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;

let made: Promise<WebGpuDevice | null> | null = null;
let why = '';

/** The shared test device, or null (with `skipReason()`) when this machine has no adapter. */
export function gpuDevice(): Promise<WebGpuDevice | null> {
  made ??= createNodeWebGpuDevice({ swiftshader: 'never' }).catch((e: Error) => {
    why = e.message;
    return null;
  });
  return made;
}

export const skipReason = (): string => why;

/** describe() when an adapter exists, else describe.skip with a console.warn naming the reason. */
export async function describeGpu(name: string, body: (dev: () => WebGpuDevice) => void): Promise<void> {
  const dev = await gpuDevice();
  if (!dev) {
    console.warn(`SKIPPED WebGPU tests (${name}): ${why}`);
    describe.skip(name, () =>
      body(() => {
        throw new Error('no device');
      }),
    );
    return;
  }
  describe(`${name} [${dev.adapterName}]`, () => body(() => dev));
}

/** The learning tests' recipe: the cpu-sudoku4 preset made ~5x cheaper per step (half the width,
 *  one layer, one recursion; lr 5e-3), so a run fits CI on SwiftShader. Natively it reaches 96-100%
 *  held-out exact on the 4x4 fixture by step 150 (docs/PERFORMANCE.md, "WebGPU"). */
export const smallSudoku4 = (over: Partial<TrainConfig> = {}): TrainConfig =>
  resolveTrainConfig('cpu-sudoku4', {
    model: { hidden_size: 32, puzzle_emb_ndim: 32, L_layers: 1, H_cycles: 1 },
    lr: 5e-3,
    puzzle_emb_lr: 5e-3,
    steps: 160,
    eval_interval: 0,
    ...over,
  });

/** A fixed batch of B rows on the current device: deterministic tokens, every fifth label ignored. */
export function syntheticBatch(c: TrmConfig, B: number, L: number): Batch {
  return {
    inputs: upload(Int32Array.from({ length: B * L }, (_, i) => (i * 7 + 3) % c.vocab_size)),
    labels: upload(
      Int32Array.from({ length: B * L }, (_, i) => (i % 5 === 0 ? -100 : 1 + ((i * 5) % (c.vocab_size - 1)))),
    ),
    puzzleIds: upload(Int32Array.from({ length: B }, (_, b) => b % c.num_puzzle_identifiers)),
  };
}
