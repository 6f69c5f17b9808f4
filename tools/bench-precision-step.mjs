// bench-precision-step.mjs: the training supervision step of a paper Sudoku config (B 64) in fp32
// and in bf16 (precision=bf16: bf16 GEMM operands, fp32 sums), alternating in ONE process so both
// see the same machine load: one warm-up of each, then REPS timed steps of each, printed as JSON
// with the medians and the fp32/bf16 ratio. Used for docs/PERFORMANCE.md ("bf16 mixed precision").
//   node tools/bench-precision-step.mjs [ROOT=.] [REPS=3] [mlp|att] [B=64]
const root = (await import('node:path')).resolve(process.argv[2] ?? '.');
const reps = Number(process.argv[3] ?? 3);
const variant = process.argv[4] ?? 'mlp';
const B = Number(process.argv[5] ?? 64);
const K = await import(`${root}/dist/kernels/index.js`);
const M = await import(`${root}/dist/model/index.js`);
const c = M.resolveConfig(variant === 'att' ? M.presets.sudokuAtt : M.presets.sudokuMlp);
// one set of activations per precision (a bf16 step keeps its SwiGLU activations in bf16 in builds
// that do; older builds ignore the third argument)
const w = M.createParams(c, 0),
  g = M.weightsView(c),
  acts = { fp32: M.allocActs(c, B, 'fp32'), bf16: M.allocActs(c, B, 'bf16') },
  { L, S } = acts.fp32.d;
const batch = {
  inputs: K.upload(Int32Array.from({ length: B * L }, (_, i) => (i * 7 + 3) % c.vocab_size)),
  labels: K.upload(Int32Array.from({ length: B * L }, (_, i) => 1 + ((i * 5) % (c.vocab_size - 1)))),
  puzzleIds: K.upload(new Int32Array(B)),
};
const times = { fp32: [], bf16: [] };
for (let r = 0; r <= reps; r++)
  for (const p of ['fp32', 'bf16']) {
    K.setGemmPrecision(p);
    const carry = M.startCarry(c, w, B, S, { mode: 'static', scale: 1, training: false }, null);
    K.fill(g.data, 0, K.sizeOf(g.data));
    const t0 = performance.now();
    M.supervisionStep(c, w, acts[p], carry, batch, g, 1 / B);
    const s = (performance.now() - t0) / 1000;
    if (r > 0) times[p].push(+s.toFixed(3));
  }
K.setGemmPrecision('fp32');
const med = v => [...v].sort((x, y) => x - y)[v.length >> 1];
const info = K.addon?.info();
console.log(
  JSON.stringify({
    variant,
    B,
    threads: info?.threads,
    gemm: info?.gemmKernel,
    gemmBf16: info?.gemmBf16Kernel,
    times,
    median_s: { fp32: med(times.fp32), bf16: med(times.bf16) },
    speedup: +(med(times.fp32) / med(times.bf16)).toFixed(3),
  }),
);
