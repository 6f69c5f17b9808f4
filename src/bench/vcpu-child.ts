/**
 * bench/vcpu-child.ts: the probe vcpus.ts runs pinned to one CPU (taskset): the FMA peak on one
 * thread, then SECONDS of the token mixer's down weight gradient (97 x 512 x 512, 8 items: operands
 * from L2/L3) on one thread; prints {peak_gflops, gemm_ms, share} as JSON on stdout.
 *   node dist/bench/vcpu-child.js SECONDS
 */
import { Rng, STREAM } from '../data/rng.js';
import { addon, alignedF32, setThreads } from '../kernels/index.js';

const seconds = Number(process.argv[2] ?? 1);
if (!addon) {
  process.stderr.write('trm: the CPU probe needs the native addon (build it with npm ci)\n');
  process.exit(1);
}
if (!(seconds > 0 && seconds <= 60)) {
  process.stderr.write(`trm: vcpu-child: SECONDS must be in (0, 60], got '${process.argv[2]}'\n`);
  process.exit(2);
}
setThreads(1);
const S = 97,
  D = 512,
  B = 8;
const rng = new Rng(1, STREAM.bench);
const filled = (n: number) => {
  const x = alignedF32(n);
  for (let i = 0; i < n; i++) x[i] = rng.float() - 0.5;
  return x;
};
const a = filled(B * S * D),
  b = filled(B * 512 * D),
  out = alignedF32(S * 512);
// C (97 x 512) = sum over the items of dY_b (97 x 512) H_b^T: the bench gemm row mlp_t.down dW
const call = () => addon!.gemm(false, true, S, 512, D, 1, a, D, S * D, b, D, 512 * D, 0, out, 512, 0, B);
const peak = addon.fmaPeak(0.2, 1);
call();
const times: number[] = [];
for (const t0 = performance.now(); performance.now() - t0 < seconds * 1000; ) {
  const s = performance.now();
  call();
  times.push(performance.now() - s);
}
times.sort((x, y) => x - y);
const ms = times[times.length >> 1];
const gflops = (2 * S * 512 * D * B) / ms / 1e6;
process.stdout.write(
  `${JSON.stringify({ peak_gflops: +peak.toFixed(1), gemm_ms: +ms.toFixed(4), share: +(gflops / peak).toFixed(3) })}\n`,
);
