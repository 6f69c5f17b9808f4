/**
 * bench/vcpu-child.ts: the probe vcpus.ts runs pinned to one CPU (taskset): the FMA peak on one
 * thread, then SECONDS of `bench gemm`'s mlp_t.down dW at 8 items (97 x 512 x 512 each: operands
 * from L2/L3) on one thread; prints {peak_gflops, gemm_ms, share} as JSON on stdout.
 *   node dist/bench/vcpu-child.js SECONDS
 */
import { addon, gemm, setThreads } from '../kernels/index.js';
import { benchGemmCall, measurePeak, timeCalls } from './gemm.js';

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
const call = benchGemmCall('mlp_t.down dW', 8);
const peak = measurePeak(1, 0.2);
gemm(call);
const times = timeCalls(() => gemm(call), 1, Number.POSITIVE_INFINITY, seconds * 1000);
times.sort((x, y) => x - y);
const ms = times[times.length >> 1];
const gflops = (2 * call.M * call.N * call.K * (call.batch ?? 1)) / ms / 1e6;
process.stdout.write(
  `${JSON.stringify({ peak_gflops: +peak.toFixed(1), gemm_ms: +ms.toFixed(4), share: +(gflops / peak).toFixed(3) })}\n`,
);
