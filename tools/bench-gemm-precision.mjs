// bench-gemm-precision.mjs: `trm bench gemm` in fp32 and in bf16, alternating whole passes over
// the TRM shapes (src/bench/gemm.ts) so both see the same machine load; per shape the median
// GFLOP/s over the rounds and its share of that pass's measured peak (fp32: the FMA loop; bf16:
// the VDPBF16PS loop). Used for docs/PERFORMANCE.md ("bf16 mixed precision").
//   node tools/bench-gemm-precision.mjs [ROOT=.] [THREADS=1] [B=32] [ROUNDS=3]
import { resolve } from 'node:path';
const root = resolve(process.argv[2] ?? '.');
const threads = Number(process.argv[3] ?? 1),
  B = Number(process.argv[4] ?? 32),
  rounds = Number(process.argv[5] ?? 3);
const { runGemmBench } = await import(`${root}/dist/bench/gemm.js`);
const all = {};
for (let r = 0; r < rounds; r++)
  for (const precision of ['fp32', 'bf16'])
    for (const row of runGemmBench({ batches: [B], threads: [threads], reps: 3, precision }))
      (all[`${row.name}|${precision}`] ??= []).push(row);
const med = v => [...v].sort((a, b) => a - b)[v.length >> 1];
const out = Object.entries(all).map(([k, rows]) => {
  const [name, precision] = k.split('|');
  return {
    name,
    precision,
    dims: `${rows[0].M}x${rows[0].N}x${rows[0].K}${rows[0].batch > 1 ? ` x${rows[0].batch}` : ''}`,
    gflops: +med(rows.map(x => x.gflops)).toFixed(1),
    share: +med(rows.map(x => x.ratio)).toFixed(3),
    peaks: rows.map(x => +x.peak.toFixed(0)),
    shares: rows.map(x => +x.ratio.toFixed(2)),
  };
});
console.log(JSON.stringify({ threads, B, rounds, rows: out }, null, 1));
