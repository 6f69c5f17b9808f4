/**
 * browser-entry.ts: bundled by browser.test.ts into a page for headless Chromium. Runs every case
 * of src/kernels/cases.ts on navigator.gpu through the same src/webgpu code as Node, compares
 * with the reference, and logs one `RESULT:` line to the console.
 */
import { kernelCases } from '../../src/kernels/cases.js';
import { refBackend } from '../../src/kernels/ref/index.js';
import { createWebGpuDevice } from '../../src/webgpu/index.js';

type Fn = (...a: unknown[]) => void;

async function main(): Promise<string> {
  const dev = await createWebGpuDevice();
  const up = (a: unknown): unknown => {
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
  };
  let pass = 0;
  const failed: string[] = [];
  for (const c of kernelCases) {
    const want = c.args();
    (refBackend as unknown as Record<string, Fn>)[c.name](...want);
    const args = c.args().map(up);
    (dev as unknown as Record<string, Fn>)[c.name](...args);
    for (const o of c.out) {
      const got = (await dev.read(args[o] as never)) as ArrayLike<number>,
        w = want[o] as ArrayLike<number>;
      let ok = got.length === w.length;
      for (let i = 0; i < w.length; i++) if (!(Math.abs(got[i] - w[i]) <= 1e-4 + 1e-4 * Math.abs(w[i]))) ok = false;
      if (ok) pass++;
      else failed.push(`${c.name}[${o}]`);
    }
  }
  return `pass ${pass} fail ${failed.length}${failed.length ? ` (${failed.join(', ')})` : ''} adapter ${dev.adapterName}`;
}

main().then(
  r => console.log(`RESULT: ${r}`),
  (e: Error) => console.log(`RESULT: error ${e.message}`),
);
