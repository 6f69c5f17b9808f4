// bench-channel-mlp.mjs: the channel MLP's gate_up forward at the paper shapes (D 512, I 1536,
// N = B x 97 rows), the variants alternating in ONE process:
//   unfused   gemm (N x 2I x D) + swigluForward          (the op-by-op pair)
//   fused     linearSwiglu keeping the pre-activation     (calls with a backward)
//   fused-nk  linearSwiglu without it                     (the gradient-free recursions)
//   gemm only the bare gate_up product                    (lower bound)
//   swiglu    swigluForward alone
// in fp32 and bf16; medians in ms and GFLOP/s of the matrix work.
//   node tools/bench-channel-mlp.mjs [ROOT=.] [THREADS=1] [B=8] [REPS=5]
import { resolve } from 'node:path';
const root = resolve(process.argv[2] ?? '.');
const threads = Number(process.argv[3] ?? 1),
  B = Number(process.argv[4] ?? 8),
  reps = Number(process.argv[5] ?? 5);
const K = await import(`${root}/dist/kernels/index.js`);
const a = K.addon;
a.setThreads(threads);
const N = B * 97,
  D = 512,
  I = 1536;
const rnd = n => {
  const x = K.alignedF32(n);
  for (let i = 0; i < n; i++) x[i] = Math.random() - 0.5;
  return x;
};
const W = rnd(2 * I * D),
  X = rnd(N * D),
  gu = K.alignedF32(N * 2 * I),
  h = K.alignedF32(N * I);
const gemm = bf => (bf ? a.gemmBf16 : a.gemm)(false, true, N, 2 * I, D, 1, X, D, 0, W, D, 0, 0, gu, 2 * I, 0, 1);
const v = {
  unfused: bf => {
    gemm(bf);
    a.swigluForward(h, gu, N, I);
  },
  ...(a.linearSwiglu
    ? {
        fused: bf => a.linearSwiglu(h, gu, X, W, N, D, I, true, bf),
        'fused-nk': bf => a.linearSwiglu(h, gu, X, W, N, D, I, false, bf),
      }
    : {}),
  'gemm only': gemm,
  swiglu: () => a.swigluForward(h, gu, N, I),
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
const med = x => [...x].sort((p, q) => p - q)[x.length >> 1];
const flops = 2 * N * 2 * I * D;
for (const [k, x] of Object.entries(t))
  console.log(
    `${k.padEnd(16)} ${med(x).toFixed(2).padStart(8)} ms ${(flops / med(x) / 1e6).toFixed(1).padStart(7)} GFLOP/s`,
  );
