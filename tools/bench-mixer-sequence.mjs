// bench-mixer-sequence.mjs: the small token mixer's fused backward and its two weight-gradient sums
// (gemmSumNT) at a preset's shapes, each alone (the same call repeated) and in the order a training
// step runs them (backward, then the down and gate_up sums, repeated). A kernel that is fast alone
// and slow in the sequence loses to where the lines are: the thirty-sixth session found the sums
// reading half of every item that the other core had just written (docs/PERFORMANCE.md). Compare
// builds by running it once per ROOT, alternated by the shell:
//   for i in 1 2 3; do for r in OLD NEW; do node tools/bench-mixer-sequence.mjs $r 2; done; done
// Usage: node tools/bench-mixer-sequence.mjs [ROOT=.] [THREADS=2] [PRESET=cpu-sudoku4] [ROUNDS=300]
//   ROOT a checkout with dist/ and build/; PRESET a train preset with mlp_t and S <= 24 (the sums'
//   shapes: native/gemm/sum_nt.h).
import { resolve } from 'node:path';

const root = resolve(process.argv[2] ?? '.'),
  threads = Number(process.argv[3] ?? 2),
  preset = process.argv[4] ?? 'cpu-sudoku4',
  rounds = Number(process.argv[5] ?? 300);
const fail = msg => {
  console.error(`bench-mixer-sequence: ${msg}`);
  process.exit(2);
};
if (!(Number.isInteger(threads) && threads >= 1)) fail(`THREADS must be an integer >= 1, got '${process.argv[3]}'`);
if (!(Number.isInteger(rounds) && rounds >= 20)) fail(`ROUNDS must be an integer >= 20, got '${process.argv[5]}'`);
let K, M, T;
try {
  K = await import(`${root}/dist/kernels/index.js`);
  M = await import(`${root}/dist/model/index.js`);
  T = await import(`${root}/dist/train/config.js`);
} catch (e) {
  fail(`${root}: no built checkout there (dist/ missing: run npm run build): ${e.message.split('\n')[0]}`);
}
const a = K.addon;
if (!a) fail(`${root}: the native addon did not load`);
let tc;
try {
  tc = T.resolveTrainConfig(preset, {});
} catch (e) {
  fail(e.message);
}
const side = Number(/sudoku(\d)/.exec(preset)?.[1] ?? 9);
const c = M.resolveConfig({ ...tc.model, seq_len: side * side, vocab_size: side + 2 });
const { S, Is } = M.dims(c, 1),
  D = c.hidden_size,
  B = tc.batch_size;
if (!c.mlp_t || S > 24) fail(`${preset}: needs mlp_t and a sequence of at most 24 (S is ${S})`);
a.setThreads(threads);

let seed = 1;
const rnd = n => {
  const x = K.alignedF32(n);
  for (let i = 0; i < n; i++) x[i] = (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff - 0.5;
  return x;
};
const wgu = rnd(2 * Is * S),
  wguT = rnd(2 * Is * S),
  wdT = rnd(S * Is);
const [inp, out, dout, dinp] = [0, 0, 0, 0].map(() => rnd(B * S * D));
const rstd = rnd(B * D),
  h = rnd(B * Is * D),
  gu = K.alignedF32(B * 2 * Is * D),
  dr = K.alignedF32(B * S * D),
  dh = K.alignedF32(B * Is * D),
  dgu = K.alignedF32(B * 2 * Is * D),
  dWgu = K.alignedF32(2 * Is * S),
  dWd = K.alignedF32(Is * S);
const backward = () =>
  a.tokenMixerNormBackward(dinp, dr, dh, dgu, dout, out, rstd, gu, inp, wgu, wguT, wdT, B, S, D, Is, false);
const sumDown = () => a.gemmSumNT(dWd, dr, h, S, Is, D, B, S * D, Is * D, 1);
const sumGateUp = () => a.gemmSumNT(dWgu, dgu, inp, 2 * Is, S, D, B, 2 * Is * D, S * D, 1);

const timed = (f, into) => {
  const t = process.hrtime.bigint();
  f();
  into.push(Number(process.hrtime.bigint() - t) / 1e6);
};
const median = x => {
  const s = x.slice(Math.floor(x.length / 5)).sort((p, q) => p - q); // (the first fifth: warm-up)
  return s[s.length >> 1];
};
const alone = { backward: [], sumDown: [], sumGateUp: [] },
  seq = { backward: [], sumDown: [], sumGateUp: [] };
const fns = { backward, sumDown, sumGateUp };
for (const [name, f] of Object.entries(fns)) for (let r = 0; r < rounds; r++) timed(f, alone[name]);
for (let r = 0; r < rounds; r++) for (const [name, f] of Object.entries(fns)) timed(f, seq[name]);
console.log(
  `${root}: ${preset} (B ${B}, S ${S}, D ${D}, Is ${Is}), ${threads} thread(s), ${rounds} rounds, medians in ms`,
);
for (const name of Object.keys(fns))
  console.log(
    `  ${name.padEnd(10)} alone ${median(alone[name]).toFixed(3)}  in the step's order ${median(seq[name]).toFixed(3)}`,
  );
