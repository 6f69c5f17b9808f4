// bench-token-mixer.mjs: the token mixer's forward products at the paper shapes (S 97, D 512,
// Is 512), before and after the SwiGLU fusion, in ONE process with the variants alternating:
//   unfused   gemm (2Is x D x S per item, shared weight) + swigluForward   (the old path)
//   fused     gemmSwiglu keeping the pre-activation (calls with a backward)
//   fused-nk  gemmSwiglu without it (the T-1 gradient-free recursions)
//   down      the down product (S x D x Is per item), for its share of peak
// in fp32 and bf16, printing medians (ms) and the share of the measured peak (matrix FLOPs only).
//   node tools/bench-token-mixer.mjs [ROOT=.] [THREADS=1] [B=32] [REPS=5]
import { resolve } from 'node:path';
const root = resolve(process.argv[2] ?? '.');
const threads = Number(process.argv[3] ?? 1),
  B = Number(process.argv[4] ?? 32),
  reps = Number(process.argv[5] ?? 5);
const K = await import(`${root}/dist/kernels/index.js`);
const a = K.addon;
a.setThreads(threads);
const S = 97,
  D = 512,
  Is = 512;
const rnd = n => {
  const x = K.alignedF32(n);
  for (let i = 0; i < n; i++) x[i] = Math.random() - 0.5;
  return x;
};
const Wgu = rnd(2 * Is * S),
  X = rnd(B * S * D),
  gu = K.alignedF32(B * 2 * Is * D),
  h = K.alignedF32(B * Is * D),
  Wd = rnd(S * Is),
  out = K.alignedF32(B * S * D);
const peaks = { fp32: [a.fmaPeak(0.3, threads)], bf16: [a.bf16Peak(0.3, threads) || a.fmaPeak(0.3, threads)] };
const v = {
  unfused: bf => {
    (bf ? a.gemmBf16 : a.gemm)(false, false, 2 * Is, D, S, 1, Wgu, S, 0, X, D, S * D, 0, gu, D, 2 * Is * D, B);
    a.swigluForward(h, gu, B, Is * D);
  },
  fused: bf => a.gemmSwiglu(h, gu, X, Wgu, Is, D, S, B, bf),
  'fused-nk': bf => a.gemmSwiglu(h, null, X, Wgu, Is, D, S, B, bf),
  'gemm only': bf =>
    (bf ? a.gemmBf16 : a.gemm)(false, false, 2 * Is, D, S, 1, Wgu, S, 0, X, D, S * D, 0, gu, D, 2 * Is * D, B),
  down: bf => (bf ? a.gemmBf16 : a.gemm)(false, false, S, D, Is, 1, Wd, Is, 0, h, D, Is * D, 0, out, D, S * D, B),
};
const t = {};
for (let r = 0; r <= reps; r++)
  for (const p of ['fp32', 'bf16'])
    for (const [name, f] of Object.entries(v)) {
      const t0 = process.hrtime.bigint();
      f(p === 'bf16');
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r > 0) (t[`${name} ${p}`] ??= []).push(ms);
    }
peaks.fp32.push(a.fmaPeak(0.3, threads));
peaks.bf16.push(a.bf16Peak(0.3, threads) || a.fmaPeak(0.3, threads));
const med = x => [...x].sort((p, q) => p - q)[x.length >> 1];
const rows = Object.entries(t).map(([k, x]) => {
  const p = k.endsWith('bf16') ? 'bf16' : 'fp32',
    flops = k.startsWith('down') ? 2 * S * D * Is * B : 2 * 2 * Is * D * S * B,
    peak = Math.max(...peaks[p]),
    ms = med(x);
  return {
    variant: k,
    ms: +ms.toFixed(2),
    gflops: +(flops / ms / 1e6).toFixed(1),
    share: +(flops / ms / 1e6 / peak).toFixed(3),
  };
});
console.log(JSON.stringify({ threads, B, reps, peaks, rows }, null, 1));
