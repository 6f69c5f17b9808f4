/**
 * Every WGSL kernel against the TypeScript reference (src/kernels/ref) on the shared odd-size
 * cases (src/kernels/cases.ts), through the WebGPU device (SwiftShader on a CPU-only machine).
 */
import { expect, it } from 'vitest';
import { kernelCases } from '../../src/kernels/cases.js';
import { refBackend } from '../../src/kernels/ref/index.js';
import { KERNEL_NAMES } from '../../src/kernels/backend.js';
import type { WebGpuDevice } from '../../src/webgpu/device.js';
import { describeGpu } from './helpers.js';

/** Host arrays to device tensors (other arguments pass through). */
export function upload(dev: WebGpuDevice, a: unknown): unknown {
  if (a instanceof Float32Array) {
    const t = dev.f32(a.length);
    dev.write(t, a);
    return t;
  }
  if (a instanceof Int32Array) {
    const t = dev.i32(a.length);
    dev.write(t, a);
    return t;
  }
  if (a instanceof Uint8Array) {
    const t = dev.u8(a.length);
    dev.write(t, a);
    return t;
  }
  return a;
}

/** fp32 tolerances per kernel where the reference sums or transcends in float64. */
const tol: Record<string, { rtol: number; atol: number }> = {
  gemm: { rtol: 1e-4, atol: 1e-4 },
  gemmBf16: { rtol: 1e-4, atol: 1e-4 }, // operands rounded to bf16 as they are loaded, as the reference
  // gemm or gemmBf16 then the SwiGLU kernels (composed): the products' tolerance
  linearSwiglu: { rtol: 1e-4, atol: 1e-4 },
  linearSwigluBackward: { rtol: 1e-4, atol: 1e-4 },
  gemmSwigluBackward: { rtol: 1e-4, atol: 1e-4 },
  gemmSumNT: { rtol: 1e-4, atol: 1e-4 }, // gemm's batch sum
  gemmSumNTBf16: { rtol: 1e-4, atol: 1e-4 }, // gemmBf16's batch sum
  biasBackward: { rtol: 1e-4, atol: 1e-5 }, // 301 rows summed in fp32 (the reference sums in float64)
  default: { rtol: 1e-5, atol: 1e-6 },
};

await describeGpu('webgpu kernels vs reference', dev => {
  it('implements every kernel of the contract', () => {
    for (const k of KERNEL_NAMES) expect(typeof (dev() as unknown as Record<string, unknown>)[k], k).toBe('function');
  });
  kernelCases.forEach((c, n) => {
    it(`${c.name} #${n}`, async () => {
      const d = dev();
      const want = c.args();
      (refBackend as unknown as Record<string, (...a: unknown[]) => void>)[c.name](...want);
      const args = c.args().map(a => upload(d, a));
      (d as unknown as Record<string, (...a: unknown[]) => void>)[c.name](...args);
      for (const o of c.out) {
        const got = await d.read(args[o] as never);
        expect(Array.from(got as ArrayLike<number>), `${c.name} output ${o}`).toBeAllclose(
          want[o] as ArrayLike<number>,
          tol[c.name] ?? tol.default,
        );
      }
    });
  });
});
