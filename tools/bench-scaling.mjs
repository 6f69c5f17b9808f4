// bench-scaling.mjs: how much a product loses to running on two threads. For each product of `bench
// gemm` (src/bench/gemm.ts gemmBenchShapes: the paper config's channel MLP over B x 97 rows and its
// token mixer's six at batch B), one thread on half the work against two threads on all of it, back
// to back in one process, a round of each at a time. Half the work: half the items of a batched
// product, half the k range of a weight gradient (A^T B), else half the rows. A ratio (two threads'
// median / one thread's) near 1.00 means the split costs nothing; above it, the two threads repeat
// work or wait (a pack each thread repeats, a pass one thread does first, an end where one waits).
// Every product here streams megabytes, as in the step.
//   node tools/bench-scaling.mjs [ROOT=.] [B=32] [NAME_PREFIX] [ROUNDS=9]
// e.g. `node tools/bench-scaling.mjs . 32 mlp_t` (the token mixer's only). Run `npm run bench -- vcpus`
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
const { gemmBenchShapes, benchGemmCall } = await import(`${root}/dist/bench/gemm.js`);
const median = v => [...v].sort((x, y) => x - y)[v.length >> 1];
const timed = f => {
  const t0 = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t0) / 1e6;
};
console.log(`B ${B}, ${rounds} rounds, one thread on half the work against two on all of it; ${root}`);
for (const { name } of gemmBenchShapes) {
  if (!name.startsWith(only)) continue;
  const all = benchGemmCall(name, B);
  const half =
    (all.batch ?? 1) > 1
      ? { ...all, batch: all.batch / 2 }
      : all.transA
        ? { ...all, K: all.K / 2 }
        : { ...all, M: all.M / 2 };
  const one = [],
    two = [];
  for (let r = 0; r < rounds; r++) {
    K.setThreads(1);
    K.gemm(half); // (the first call of a round brings the operands in)
    one.push(timed(() => K.gemm(half)));
    K.setThreads(2);
    K.gemm(all);
    two.push(timed(() => K.gemm(all)));
  }
  const m1 = median(one),
    m2 = median(two);
  console.log(
    `${name.padEnd(17)} one thread, half ${m1.toFixed(3)} ms   two threads, all ${m2.toFixed(3)} ms   ratio ${(m2 / m1).toFixed(3)}`,
  );
}
