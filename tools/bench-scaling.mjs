// bench-scaling.mjs: how much a product loses to running on two threads. For each of the paper
// config's products (S 97, D 512, I 1536; the token mixer's six at batch B, the channel MLP's five
// over B x 97 rows), one thread on half the work (half the items, rows, or k range) against two
// threads on all of it, back to back in one process, a round of each at a time. A ratio (two threads'
// median / one thread's) near 1.00 means the split costs nothing; above it, the two threads repeat
// work or wait (a pack each thread repeats, a pass one thread does first, an end where one waits).
// Operands stay in cache between the calls of a round only as far as they fit: every product here
// streams megabytes, as in the step.
//   node tools/bench-scaling.mjs [ROOT=.] [B=32] [NAME_PREFIX] [ROUNDS=9]
// e.g. `node tools/bench-scaling.mjs . 32 tm` (the token mixer's only). Run `npm run bench -- vcpus`
// first: with one vCPU slowed the two-thread figures read high whatever the code.
import { resolve } from 'node:path';

const root = resolve(process.argv[2] ?? '.');
const B = Number(process.argv[3] ?? 32),
  only = process.argv[4] ?? '',
  rounds = Number(process.argv[5] ?? 9);
if (!(Number.isInteger(B) && B >= 2 && B % 2 === 0) || !(Number.isInteger(rounds) && rounds >= 1)) {
  console.error(
    `bench-scaling: B must be an even integer >= 2 and ROUNDS an integer >= 1, got B '${process.argv[3] ?? 32}', ROUNDS '${process.argv[5] ?? 9}'`,
  );
  process.exit(2);
}
const K = await import(`${root}/dist/kernels/index.js`);
const a = K.addon;
const S = 97,
  D = 512,
  I = 1536,
  N = B * S;
// name, op(A) transposed, op(B) transposed, M, N, K, batch, item strides of A, B, C, and what one
// thread's half takes: half the items (batch), rows (M) or k range (K)
const products = [
  ['tm gate_up fwd', 0, 0, 1024, D, S, B, 0, S * D, 1024 * D, 'batch'],
  ['tm down fwd', 0, 0, S, D, 512, B, 0, 512 * D, S * D, 'batch'],
  ['tm down dW', 0, 1, S, 512, D, B, S * D, 512 * D, 0, 'batch'],
  ['tm down dX', 0, 0, 512, D, S, B, 0, S * D, 512 * D, 'batch'],
  ['tm gate_up dW', 0, 1, 1024, S, D, B, 1024 * D, S * D, 0, 'batch'],
  ['tm gate_up dX', 0, 0, S, D, 1024, B, 0, 1024 * D, S * D, 'batch'],
  ['ch gate_up fwd', 0, 1, N, 2 * I, D, 1, 0, 0, 0, 'M'],
  ['ch down fwd', 0, 1, N, D, I, 1, 0, 0, 0, 'M'],
  ['ch gate_up dW', 1, 0, 2 * I, D, N, 1, 0, 0, 0, 'K'],
  ['ch down dW', 1, 0, D, I, N, 1, 0, 0, 0, 'K'],
  ['ch dX', 0, 0, N, D, 2 * I, 1, 0, 0, 0, 'M'],
];
let seed = 1;
const rnd = n => {
  const x = K.alignedF32(n);
  for (let i = 0; i < n; i++) x[i] = (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff - 0.5;
  return x;
};
const median = v => [...v].sort((x, y) => x - y)[v.length >> 1];
const timed = f => {
  const t0 = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t0) / 1e6;
};
console.log(`B ${B}, ${rounds} rounds, one thread on half the work against two on all of it; ${root}`);
for (const [name, ta, tb, M, Nn, Kd, batch, sA, sB, sC, by] of products) {
  if (!name.startsWith(only)) continue;
  const A = rnd(sA ? batch * M * Kd : M * Kd),
    Bm = rnd(sB ? batch * Kd * Nn : Kd * Nn),
    C = K.alignedF32(sC ? batch * M * Nn : M * Nn);
  const lda = ta ? M : Kd,
    ldb = tb ? Kd : Nn;
  const call = (m, k, items) => a.gemm(!!ta, !!tb, m, Nn, k, 1, A, lda, sA, Bm, ldb, sB, 0, C, Nn, sC, items);
  const all = () => call(M, Kd, batch);
  const half =
    by === 'batch' ? () => call(M, Kd, batch / 2) : by === 'M' ? () => call(M / 2, Kd, 1) : () => call(M, Kd / 2, 1);
  const one = [],
    two = [];
  for (let r = 0; r < rounds; r++) {
    a.setThreads(1);
    half(); // (the first call of a round brings the operands in and wakes nothing)
    one.push(timed(half));
    a.setThreads(2);
    all();
    two.push(timed(all));
  }
  const m1 = median(one),
    m2 = median(two);
  console.log(
    `${name.padEnd(15)} one thread, half ${m1.toFixed(3)} ms   two threads, all ${m2.toFixed(3)} ms   ratio ${(m2 / m1).toFixed(3)}`,
  );
}
