/**
 * webgpu/bench.ts: `trm bench gemm --backend webgpu` (Node side: loads Dawn through node.ts).
 * GFLOP/s of the WGSL GEMM at the TRM shapes of src/bench/gemm.ts against the adapter's fp32
 * peak measured by peak.ts. Each product is recorded `reps` times into one batch and timed to the
 * end of the GPU work (flush), after one warm-up that also builds the pipeline, so the time per
 * product excludes host round trips (as a training step sees it). On a GPU the batch then grows to
 * about 100 ms (or --reps) and the median of three batches is kept: ten sub-millisecond products
 * timed once varied 2x between runs on an H200. On SwiftShader (Vulkan on the
 * CPU) the numbers are correctness only: the output says so, and the default batch is small.
 */
import { gemmBenchShapes, type GemmBenchRow, gemmTableHeader } from '../bench/gemm.js';
import { rand } from '../kernels/cases.js';
import { TrmError } from '../errors.js';
import { createNodeWebGpuDevice } from './node.js';
import { fmaPeak } from './peak.js';

/** A table row as the CPU bench prints it; T is the register block; small rates keep decimals. */
function formatRow(r: GemmBenchRow): string {
  const dims = `${r.M}x${r.N}x${r.K}${r.batch > 1 ? ` x${r.batch}` : ''}`;
  const rate = r.gflops < 10 ? r.gflops.toFixed(2) : r.gflops.toFixed(0);
  return `| ${r.name.padEnd(18)} | ${r.op.padEnd(7)} | ${String(r.B).padStart(3)} | ${r.threads} | ${dims.padEnd(20)} | ${r.ms.toFixed(1).padStart(8)} | ${rate.padStart(6)} | ${(100 * r.ratio).toFixed(0).padStart(3)}% |`;
}

export async function benchGemmWebGpu(opts: { json: boolean; reps?: number; batches?: number[] }): Promise<void> {
  const dev = await createNodeWebGpuDevice();
  // TRM_WEBGPU_GEMM_BLOCK=4|8 forces one register block for every product (tuning on a new GPU).
  const forced = process.env.TRM_WEBGPU_GEMM_BLOCK;
  if (forced === '4' || forced === '8') dev.gemmBlockOverride = forced === '4' ? 4 : 8;
  else if (forced) throw new TrmError('TRM_BAD_ARG', `TRM_WEBGPU_GEMM_BLOCK must be 4 or 8, got '${forced}'`);
  // TRM_WEBGPU_PRECISION=f16: the products read packed f16 copies of A and B (the packing
  // dispatches are timed too, as a training step with precision=f16 runs them).
  const precision = process.env.TRM_WEBGPU_PRECISION ?? 'fp32';
  if (precision !== 'fp32' && precision !== 'f16')
    throw new TrmError('TRM_BAD_ARG', `TRM_WEBGPU_PRECISION must be fp32 or f16, got '${precision}'`);
  dev.setPrecision(precision);
  const swift = dev.isSwiftShader;
  const reps = opts.reps ?? (swift ? 1 : 10);
  const batches = opts.batches ?? (swift ? [4] : [32, 256]);
  const peak = await fmaPeak(dev.gpu);
  const note = swift
    ? 'SwiftShader is Vulkan on the CPU: these numbers check that the benchmark runs, they say nothing about GPU speed'
    : '';
  if (!opts.json) {
    console.log(
      `gemm benchmark: WGSL ${dev.gemmDirect && !forced ? `barrier-free GEMM (${dev.gemmDirectBlock}x${dev.gemmDirectBlock} blocks)` : `tiled GEMM (k slices of ${dev.gemmTile.bk}; split-K ${dev.splitKWorkgroups > 0 ? `to ~${dev.splitKWorkgroups} workgroups` : 'off'})`} on webgpu, ${precision} operands, adapter: ${dev.adapterName}`,
    );
    console.log(`fp32 FMA peak (register-only shader): ${peak.toFixed(0)} GFLOP/s`);
    if (note) console.log(`NOTE: ${note}`);
    console.log('T: the GEMM register block (4: 64x64 tiles, 8: 128x128); ms per product, recorded back to back');
    console.log(gemmTableHeader.join('\n').replace('| t |', '| T |'));
  }
  const rows: GemmBenchRow[] = [];
  for (const B of batches) {
    for (const shape of gemmBenchShapes) {
      const c = shape.call(B);
      const batch = c.batch ?? 1,
        ta = c.transA ?? false,
        tb = c.transB ?? false;
      const lda = ta ? c.M : c.K,
        ldb = tb ? c.K : c.N,
        ldc = c.N;
      const sA = c.strideA ?? (batch > 1 ? c.M * c.K : 0),
        sB = c.strideB ?? (batch > 1 ? c.K * c.N : 0),
        sC = c.strideC ?? (batch > 1 ? c.M * c.N : 0);
      const nA = sA === 0 ? c.M * c.K : batch * c.M * c.K,
        nB = sB === 0 ? c.K * c.N : batch * c.K * c.N,
        nC = batch * c.M * c.N;
      const A = dev.f32(nA),
        Bm = dev.f32(nB),
        C = dev.f32(nC);
      dev.write(A, rand(nA, 1, 0.5));
      dev.write(Bm, rand(nB, 2, 0.5));
      const call = () => dev.gemm(ta, tb, c.M, c.N, c.K, 1, A, lda, sA, Bm, ldb, sB, 0, C, ldc, sC, batch);
      const timed = async (n: number) => {
        const t0 = performance.now();
        for (let r = 0; r < n; r++) call();
        await dev.flush();
        return (performance.now() - t0) / n;
      };
      call();
      await dev.flush();
      let ms = await timed(reps);
      if (!swift) {
        // a GPU product takes well under a millisecond: time batches of >= ~100 ms (unless --reps
        // fixes the batch) and keep the median of three, so launch and clock noise wash out
        const n = opts.reps ?? Math.min(5000, Math.max(reps, Math.ceil(100 / Math.max(ms, 1e-3))));
        const runs = [await timed(n), await timed(n), await timed(n)].sort((a, b) => a - b);
        ms = runs[1];
      }
      const gflops = (2 * c.M * c.N * c.K * batch) / ms / 1e6;
      // `threads` carries the GEMM register block (4: 64x64 tiles, 8: 128x128).
      const row: GemmBenchRow = {
        name: shape.name,
        op: shape.op,
        B,
        threads: dev.gemmBlockFor(c.M, c.N, sC === 0 && batch > 1 ? 1 : batch),
        M: c.M,
        N: c.N,
        K: c.K,
        batch,
        ms,
        gflops,
        peak,
        ratio: gflops / peak,
      };
      rows.push(row);
      if (!opts.json) console.log(formatRow(row));
      dev.release(A);
      dev.release(Bm);
      dev.release(C);
    }
  }
  if (opts.json)
    console.log(
      JSON.stringify(
        {
          backend: {
            backend: 'webgpu',
            adapter: dev.adapterName,
            swiftshader: swift,
            precision,
            limits: dev.limits(),
            note,
          },
          peak_gflops: peak,
          rows,
        },
        null,
        2,
      ),
    );
  else {
    for (const B of batches) {
      const all = rows.filter(r => r.B === B);
      console.log(
        `B=${B}: lowest ${(100 * Math.min(...all.map(r => r.ratio))).toFixed(0)}% of the fp32 peak, median ${(100 * all.map(r => r.ratio).sort((a, b) => a - b)[all.length >> 1]).toFixed(0)}% (target on a data-centre GPU: 40%)`,
      );
    }
    if (note) console.log(`NOTE: ${note}`);
  }
  dev.destroy();
}
