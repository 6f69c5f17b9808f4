/**
 * helpers.ts: the WebGPU device for tests. On a machine without a GPU, Chromium's SwiftShader
 * gives Dawn a Vulkan adapter on the CPU: VK_ICD_FILENAMES is pointed at it when unset and the
 * ICD file exists (apt-get install chromium libvulkan1). Without any adapter the suites skip
 * with a visible line instead of failing.
 */
import { existsSync } from 'node:fs';
import { describe } from 'vitest';
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
