// bench-weight-pack.mjs: what packing the paper MLP's channel weights costs per supervision step, if
// every product re-packs its weight (as gemm, linear_swiglu and linear_swiglu_backward do). Each
// weight layout is timed as a one-strip product (M = 1, so the time is the pack of the whole weight
// plus one strip's micro-kernels), median of 30, weights warm in the cache (a lower bound: inside a
// step the weight is usually evicted by the activations between calls; tools/perf-packs.sh measures
// the packs in a real step).
// Usage: TRM_THREADS=1 node tools/bench-weight-pack.mjs [bf16|fp32]   (after npm run build)
const root = new URL('..', import.meta.url).pathname;
const K = await import(`${root}/dist/kernels/index.js`);
K.setGemmPrecision(process.argv[2] ?? 'bf16');
const filled = n => K.upload(Float32Array.from({ length: n }, (_, i) => Math.sin(i)));
// name, transB, N, K, calls per step (2 layers, T x (n+1) = 21 forward net calls, 7 with a backward)
const cases = [
  ['down forward X Wd^T (Wd 512x1536, NT)', true, 512, 1536, 42],
  ['gate_up forward X Wgu^T (Wgu 3072x512, NT, as linear_swiglu)', true, 3072, 512, 42],
  ['gate_up dX dGU Wgu (NN, 3072x512)', false, 512, 3072, 14],
  ['down dX dY Wd (NN, 512x1536, as linear_swiglu_backward)', false, 1536, 512, 14],
];
let total = 0;
for (const [name, transB, N, Kd, calls] of cases) {
  const A = filled(14 * Kd),
    B = filled(N * Kd),
    C = K.f32(14 * N);
  const t = [];
  for (let r = 0; r < 30; r++) {
    const t0 = performance.now();
    K.gemm({ transB, M: 1, N, K: Kd, A, B, C });
    t.push(performance.now() - t0);
  }
  const ms = t.sort((a, b) => a - b)[15];
  total += ms * calls;
  console.log(`${name}: ${ms.toFixed(3)} ms per pack x ${calls} = ${(ms * calls).toFixed(1)} ms/step`);
}
console.log(
  `${K.gemmPrecision()}: channel weight packs ${total.toFixed(1)} ms per step per thread (rows split: each thread packs all)`,
);
