// check-vcpus.mjs: whether this machine's CPUs run alike right now, before trusting a timing. Each CPU in
// turn (the process pinned with taskset) runs the register-only FMA peak loop and a cached GEMM (the
// token mixer's down weight gradient at the paper shapes, 8 items: its operands stream from L2/L3).
// On the 2-vCPU cloud hosts one vCPU ran that GEMM up to 20% slower than the other for minutes at a
// time while its FMA peak read the same, and its L2-sized pointer chase took 11 ns against 6.5 (likely a
// neighbour on the physical core's other hardware thread, sharing its caches; 2026-12-04,
// docs/PERFORMANCE.md): a two-thread product split in fixed shares then ends with the slower CPU.
//   node tools/check-vcpus.mjs [ROOT] [SECONDS]   (ROOT: a built checkout, default this one)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = process.argv[2] ?? fileURLToPath(new URL('..', import.meta.url));
const seconds = Number(process.argv[3] ?? 1.5);

if (process.env.TRM_CHECK_VCPU_CHILD) {
  const K = await import(pathToFileURL(`${root}/dist/kernels/index.js`).href);
  K.addon.setThreads(1);
  const S = 97,
    D = 512,
    B = 8;
  let seed = 1;
  const rnd = n => {
    const x = K.alignedF32(n);
    for (let i = 0; i < n; i++) x[i] = (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff - 0.5;
    return x;
  };
  const a = rnd(B * S * D),
    b = rnd(B * 512 * D),
    out = K.alignedF32(S * 512);
  const call = () => K.addon.gemm(false, true, S, 512, D, 1, a, D, S * D, b, D, 512 * D, 0, out, 512, 0, B);
  const peak = K.addon.fmaPeak(0.2, 1);
  const times = [];
  for (const t0 = performance.now(); performance.now() - t0 < seconds * 1000; ) {
    const s = performance.now();
    call();
    times.push(performance.now() - s);
  }
  times.sort((x, y) => x - y);
  const ms = times[times.length >> 1];
  const gflops = (2 * S * 512 * D * B) / ms / 1e6;
  console.log(JSON.stringify({ peak, gemm_ms: ms, share: gflops / peak }));
  process.exit(0);
}

if (!existsSync(`${root}/dist/kernels/index.js`)) {
  console.error(`check-vcpus: ${root}/dist/kernels/index.js not found: give a built checkout (npm ci builds one)`);
  process.exit(2);
}
const cpus = availableParallelism();
const probe = cpu => {
  const r = spawnSync(
    'taskset',
    ['-c', String(cpu), process.execPath, fileURLToPath(import.meta.url), root, String(seconds)],
    {
      env: { ...process.env, TRM_CHECK_VCPU_CHILD: '1' },
      encoding: 'utf8',
    },
  );
  if (r.error || r.status !== 0) {
    const why = r.error
      ? r.error.code === 'ENOENT'
        ? 'taskset not found (util-linux)'
        : r.error.message
      : (r.stderr.split('\n').find(l => /error/i.test(l)) ?? r.stderr.trim().split('\n')[0]);
    console.error(`check-vcpus: taskset -c ${cpu} failed: ${why}`);
    process.exit(1);
  }
  return JSON.parse(r.stdout.trim().split('\n').pop());
};
const alone = [];
for (let c = 0; c < cpus; c++) alone.push(probe(c));
console.log(`${cpus} CPUs, each alone (taskset), ${seconds} s of the down weight gradient (97 x 512 x 512, 8 items):`);
for (const [c, r] of alone.entries())
  console.log(
    `  cpu${c}: FMA peak ${r.peak.toFixed(0)} GFLOP/s, GEMM ${r.gemm_ms.toFixed(3)} ms, ${(100 * r.share).toFixed(0)}% of its peak`,
  );
const fastest = Math.min(...alone.map(r => r.gemm_ms)),
  slowest = Math.max(...alone.map(r => r.gemm_ms));
const spread = slowest / fastest;
console.log(
  spread > 1.06
    ? `  UNEVEN: the slowest CPU takes ${((spread - 1) * 100).toFixed(0)}% longer than the fastest; two-thread timings now read low (re-check in a few minutes)`
    : `  even: within ${((spread - 1) * 100).toFixed(0)}%`,
);
