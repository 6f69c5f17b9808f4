// bench-ab-step.mjs: one warm-up + 5 training supervision steps of the paper MLP config (B 64) with the
// build at ROOT (a checkout with dist/ and build/), printing the step times as JSON. Alternate two
// checkouts to compare them in one run: for i in 1 2 3; do for t in OLD NEW; do node tools/bench-ab-step.mjs $t; done; done
const root = process.argv[2];
const K = await import(`${root}/dist/kernels/index.js`);
const M = await import(`${root}/dist/model/index.js`);
const c = M.resolveConfig(M.presets.sudokuMlp),
  B = 64;
const w = M.createParams(c, 0),
  g = M.weightsView(c),
  a = M.allocActs(c, B),
  { L, S } = a.d;
const up = x => (K.upload ? K.upload(x) : x);
const batch = {
  inputs: up(Int32Array.from({ length: B * L }, (_, i) => (i * 7 + 3) % c.vocab_size)),
  labels: up(Int32Array.from({ length: B * L }, (_, i) => 1 + ((i * 5) % (c.vocab_size - 1)))),
  puzzleIds: up(new Int32Array(B)),
};
const out = [];
for (let r = 0; r <= 5; r++) {
  const carry = M.startCarry
    ? M.startCarry(c, w, B, S, { mode: 'static', scale: 1, training: false }, null)
    : M.initialCarry(c, w, B, S);
  if (K.fill && K.sizeOf) K.fill(g.data, 0, K.sizeOf(g.data));
  else g.data.fill(0);
  const t0 = performance.now();
  M.supervisionStep(c, w, a, carry, batch, g, 1 / B);
  if (r > 0) out.push(+((performance.now() - t0) / 1000).toFixed(3));
}
console.log(JSON.stringify({ root, times: out }));
