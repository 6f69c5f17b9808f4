// hash-steps.mjs: sha256 of three supervision steps' outputs (logits, q, carry, every gradient) for
// cpu-sudoku4, D 128 / 256 / 320 configs, cpu-sudoku9 (B 8) and the paper MLP config (B 3), fp32 and
// bf16, with the build at ROOT and the current TRM_THREADS. Two builds (or thread counts) that print
// the same lines give bitwise the same training: the check behind "same bits" in docs/PERFORMANCE.md.
//   TRM_THREADS=1 node tools/hash-steps.mjs ROOT > a.txt; ... other ROOT > b.txt; diff a.txt b.txt
import { createHash } from 'node:crypto';
const root = process.argv[2];
if (!root) {
  console.error('usage: node tools/hash-steps.mjs ROOT   (a checkout with dist/ and build/)');
  process.exit(2);
}
const K = await import(`${root}/dist/kernels/index.js`);
const M = await import(`${root}/dist/model/index.js`);
const C = await import(`${root}/dist/kernels/core.js`);
const T = await import(`${root}/dist/train/config.js`);
const cfgs = [];
{
  const tc = T.resolveTrainConfig('cpu-sudoku4', {});
  cfgs.push(['cpu-sudoku4', M.resolveConfig({ ...tc.model, seq_len: 16, vocab_size: 6 }), tc.batch_size]);
  cfgs.push([
    'd320',
    M.resolveConfig({ ...tc.model, hidden_size: 320, puzzle_emb_ndim: 320, seq_len: 16, vocab_size: 6 }),
    6,
  ]);
  cfgs.push([
    'd256-B3',
    M.resolveConfig({ ...tc.model, hidden_size: 256, puzzle_emb_ndim: 256, seq_len: 16, vocab_size: 6 }),
    3,
  ]);
  cfgs.push(['paper-B3', M.resolveConfig(M.presets.sudokuMlp), 3]);
  // cpu-sudoku9's shapes (S 82: the token mixer's products through gemm, not gemmSumNT), 8 items
  const t9 = T.resolveTrainConfig('cpu-sudoku9', {});
  cfgs.push(['cpu-sudoku9-B8', M.resolveConfig({ ...t9.model, seq_len: 81, vocab_size: 11 }), 8]);
  cfgs.push([
    'd128-B7',
    M.resolveConfig({ ...tc.model, hidden_size: 128, puzzle_emb_ndim: 128, seq_len: 16, vocab_size: 6 }),
    7,
  ]);
}
const out = [];
for (const precision of ['fp32', 'bf16']) {
  K.setGemmPrecision(precision);
  for (const [name, c, B] of cfgs) {
    const w = M.createParams(c, 5),
      g = M.weightsView(c),
      a = M.allocActs(c, B, precision),
      { L, S } = a.d;
    // the synthetic batch of src/bench/step.ts (timeTrm), written out here: ROOT may be an older
    // checkout, so this tool uses only what every build exports
    const batch = {
      inputs: K.upload(Int32Array.from({ length: B * L }, (_, i) => (i * 7 + 3) % c.vocab_size)),
      labels: K.upload(Int32Array.from({ length: B * L }, (_, i) => 1 + ((i * 5) % (c.vocab_size - 1)))),
      puzzleIds: K.upload(new Int32Array(B)),
    };
    const h = createHash('sha256');
    const carry = M.startCarry(c, w, B, S, { mode: 'static', scale: 1, training: false }, null);
    for (let s = 0; s < 3; s++) {
      K.fill(g.data, 0, K.sizeOf(g.data));
      const r = M.supervisionStep(c, w, a, carry, batch, g, 1 / B);
      for (const t of [r.logits, r.q, carry.y, carry.z, g.data]) h.update(Buffer.from(C.readSync(t).slice().buffer));
    }
    out.push(`${precision} ${name} D${c.hidden_size} B${B} mlp_t=${c.mlp_t}: ${h.digest('hex').slice(0, 16)}`);
  }
}
console.log(out.join('\n'));
