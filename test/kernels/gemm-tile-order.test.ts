/**
 * The tile order (native/gemm/gemm.cpp, strip_outer_fits): a B block of at most
 * TRM_GEMM_STRIP_OUTER_KIB (512) runs strip-outer, each A strip across all its panels, a larger one
 * panel-outer. Every tile is the same kernel call either way, so the order must never change a
 * bit. Child processes with the limit at 0 (every block panel-outer) and very large (every block
 * strip-outer) compute the same products (the general loop and the fast paths, gemm, gemmSwiglu
 * and its backward, fp32 and bf16 with and without AMX, 1 and 2 threads) and must print the same hashes as this process
 * (the default limit, which the shapes straddle).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { addon, packageRoot } from '../../src/kernels/index.js';

// Runs in the child (and here): every product's output hashed, one line of JSON.
const program = `
const T = await import(${JSON.stringify(join(packageRoot, 'dist', 'kernels', 'index.js'))});
const a = T.addon;
let seed = 7;
const rnd = n => { const x = T.alignedF32(n); for (let i = 0; i < n; i++) x[i] = ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff) - 0.5; return x; };
const hash = x => { const u = new Uint32Array(x.buffer, x.byteOffset, x.byteLength >> 2); let h = 0; for (const v of u) h = (Math.imul(h, 31) + v) | 0; return h; };
const out = { limit: a.info().gemmStripOuterKib, hashes: [] };
for (const amx of [true, false]) {
a.setAmx(amx); // (the AMX kernel where the CPU grants it; off: VDPBF16PS or the emulated path)
for (const threads of [1, 2]) {
  a.setThreads(threads);
  for (const fast of [true, false]) {
    a.setGemmFastPaths(fast);
    for (const bf16 of [false, true]) {
      const g = bf16 ? a.gemmBf16 : a.gemm;
      // [M, N, K, batch, strideA = 0 (shared A)]: panels with a narrow last one, two k blocks
      for (const [M, N, K, batch, shared] of [[300, 200, 97, 2, 1], [200, 291, 600, 1, 0], [97, 517, 300, 2, 1], [40, 33, 17, 3, 0]]) {
        const A = rnd((shared ? 1 : batch) * M * K), B = rnd(batch * K * N), C = T.alignedF32(batch * M * N);
        g(false, false, M, N, K, 1, A, K, shared ? 0 : M * K, B, N, K * N, 0, C, N, M * N, batch);
        out.hashes.push(hash(C));
      }
      // gemmSwiglu and its backward: [H, N, K, batch]
      for (const [H, N, Kd, batch] of [[130, 67, 97, 2], [37, 300, 1100, 2], [64, 520, 97, 1]]) {
        const W = rnd(2 * H * Kd), X = rnd(batch * Kd * N), h = T.alignedF32(batch * H * N), gu = T.alignedF32(batch * 2 * H * N);
        a.gemmSwiglu(h, gu, X, W, H, N, Kd, batch, bf16);
        const WT = rnd(H * Kd), dout = rnd(batch * Kd * N), dgu = T.alignedF32(batch * 2 * H * N), dh = T.alignedF32(batch * H * N);
        a.gemmSwigluBackward(dgu, dh, dout, gu, WT, H, N, Kd, batch, bf16, true);
        out.hashes.push(hash(h), hash(gu), hash(dgu));
      }
    }
  }
}
}
a.setGemmFastPaths(true);
a.setAmx(true);
console.log(JSON.stringify(out));
`;

function run(kib?: string) {
  const env = { ...process.env };
  if (kib === undefined) delete env.TRM_GEMM_STRIP_OUTER_KIB;
  else env.TRM_GEMM_STRIP_OUTER_KIB = kib;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', program], { encoding: 'utf8', env });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { limit: number; hashes: number[] };
}

describe.runIf(addon)('gemm tile order', () => {
  it('strip-outer and panel-outer give the same bits, whatever the block size', () => {
    const dflt = run(),
      panelOuter = run('0'),
      stripOuter = run('1000000');
    expect([dflt.limit, panelOuter.limit, stripOuter.limit]).toEqual([512, 0, 1000000]);
    expect(dflt.hashes.length).toBe(2 * 2 * 2 * 2 * (4 + 3 * 3));
    expect(panelOuter.hashes).toEqual(dflt.hashes);
    expect(stripOuter.hashes).toEqual(dflt.hashes);
  });
});
