// bench-ab-step.mjs: one warm-up + K training supervision steps (no optimizer) with the build at ROOT
// (a checkout with dist/ and build/), printing the step times (wall, and this process's CPU time)
// as JSON. Alternate two checkouts to compare them in one run:
//   for i in 1 2 3; do for t in OLD NEW; do node tools/bench-ab-step.mjs $t [PRESET] [K]; done; done
// PRESET: a train preset (cpu-sudoku4, ...) at its batch size, or paper (the paper MLP config, B 64;
// the default); K: timed steps (default 5); PRECISION: fp32 (default) or bf16 (the build at ROOT
// must have setGemmPrecision); B: overrides the batch size.
//   node tools/bench-ab-step.mjs ROOT [PRESET] [K] [PRECISION] [B]
const root = process.argv[2];
const preset = process.argv[3] ?? 'paper',
  K_STEPS = Number(process.argv[4] ?? 5),
  precision = process.argv[5] ?? 'fp32';
const K = await import(`${root}/dist/kernels/index.js`);
const M = await import(`${root}/dist/model/index.js`);
let c,
  B = 64;
if (preset === 'paper') c = M.resolveConfig(M.presets.sudokuMlp);
else {
  const T = await import(`${root}/dist/train/config.js`);
  const tc = T.resolveTrainConfig(preset, {}),
    side = Number(/sudoku(\d+)$/.exec(preset)?.[1] ?? 9);
  c = M.resolveConfig({ ...tc.model, seq_len: side * side, vocab_size: side + 2 });
  B = tc.batch_size;
}
if (process.argv[6]) B = Number(process.argv[6]);
if (precision !== 'fp32') K.setGemmPrecision(precision);
const w = M.createParams(c, 0),
  g = M.weightsView(c),
  a = M.allocActs(c, B, precision), // a build that keeps bf16 activations keeps them here (older ones ignore it)
  { L, S } = a.d;
const up = x => (K.upload ? K.upload(x) : x);
const batch = {
  inputs: up(Int32Array.from({ length: B * L }, (_, i) => (i * 7 + 3) % c.vocab_size)),
  labels: up(Int32Array.from({ length: B * L }, (_, i) => 1 + ((i * 5) % (c.vocab_size - 1)))),
  puzzleIds: up(new Int32Array(B)),
};
const out = [],
  cpu = [];
for (let r = 0; r <= K_STEPS; r++) {
  const carry = M.startCarry
    ? M.startCarry(c, w, B, S, { mode: 'static', scale: 1, training: false }, null)
    : M.initialCarry(c, w, B, S);
  if (K.fill && K.sizeOf) K.fill(g.data, 0, K.sizeOf(g.data));
  else g.data.fill(0);
  const c0 = process.cpuUsage(),
    t0 = performance.now();
  M.supervisionStep(c, w, a, carry, batch, g, 1 / B);
  const c1 = process.cpuUsage(c0);
  if (r > 0) {
    out.push(+((performance.now() - t0) / 1000).toFixed(4));
    cpu.push(+((c1.user + c1.system) / 1e6).toFixed(4));
  }
}
console.log(JSON.stringify({ root, preset, precision, B, threads: K.backendInfo().threads, times: out, cpu }));
