/// <reference types="@webgpu/types" />
/**
 * webgpu/peak.ts: the adapter's fp32 peak, measured the way the CPU bench measures its FMA peak:
 * a register-only loop (8 independent vec4 FMA chains per invocation, nothing read from memory,
 * one conditional store so the compiler keeps the work) on enough workgroups to fill the GPU.
 * The grid doubles until one dispatch takes >= 0.2 s; the best of three timings is the peak.
 * Device-free.
 */
import { grid } from './wgsl.js';

const ITERS = 1024,
  CHAINS = 8;
/** fp32 FLOPs one invocation does: ITERS x CHAINS vec4 FMAs of 2 FLOPs per lane. */
const FLOP_PER_INVOCATION = ITERS * CHAINS * 4 * 2;

const shader = `@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = f32((wid.y * nwg.x + wid.x) * 256u + lid.x);
  let m = vec4f(0.9999999); let c = vec4f(1e-7, 2e-7, 3e-7, 4e-7);
${Array.from({ length: CHAINS }, (_, k) => `  var a${k} = vec4f(id * 1e-9 + ${k}.0);`).join('\n')}
  for (var i = 0u; i < ${ITERS}u; i++) {
${Array.from({ length: CHAINS }, (_, k) => `    a${k} = fma(a${k}, m, c);`).join('\n')}
  }
  let s = ${Array.from({ length: CHAINS }, (_, k) => `a${k}`).join(' + ')};
  if (s.x + s.y + s.z + s.w == 1234.5678) { out[0] = s.x; }
}`;

/** fp32 GFLOP/s of the FMA loop on this device (seconds: the per-dispatch target). */
export async function fmaPeak(gpu: GPUDevice, seconds = 0.2): Promise<number> {
  const out = gpu.createBuffer({ size: 16, usage: 0x80 });
  const pipeline = gpu.createComputePipeline({
    layout: 'auto',
    compute: { module: gpu.createShaderModule({ code: shader }), entryPoint: 'main' },
  });
  const bind = gpu.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer: out } }],
  });
  const time = async (groups: number): Promise<number> => {
    const enc = gpu.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(...grid(groups));
    pass.end();
    const t0 = performance.now();
    gpu.queue.submit([enc.finish()]);
    await gpu.queue.onSubmittedWorkDone();
    return (performance.now() - t0) / 1000;
  };
  await time(1); // compile and warm up
  let groups = 16,
    s = await time(groups);
  while (s < seconds && groups < 1 << 24) {
    groups = Math.min(1 << 24, groups * Math.max(2, Math.min(16, Math.ceil(seconds / Math.max(s, 1e-4)))));
    s = await time(groups);
  }
  const best = Math.min(s, await time(groups), await time(groups));
  out.destroy();
  return (groups * 256 * FLOP_PER_INVOCATION) / best / 1e9;
}
