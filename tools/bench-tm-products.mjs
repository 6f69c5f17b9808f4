// bench-tm-products.mjs: the token mixer's six products at the paper shapes (S 97, D 512, Is 512;
// the rows of `bench gemm` named mlp_t.*) with the builds at ROOT... interleaved in ONE process (one
// call of each product per build per round, the builds' order reversed every other round), medians in
// ms and the median share of the fp32 FMA peak measured before each round; first a check that every build gives the
// same bits for every product.
//   node tools/bench-tm-products.mjs THREADS B ROUNDS ROOT [ROOT...]
// (a ROOT is a checkout with dist/ and build/: compare a base worktree against this one)
import { settleBetweenBuilds } from './load-builds.mjs';

const [threads, B, rounds] = process.argv.slice(2, 5).map(Number);
const roots = process.argv.slice(5);
if (!(threads > 0 && B > 0 && rounds > 0) || roots.length === 0) {
  console.error('usage: node tools/bench-tm-products.mjs THREADS B ROUNDS ROOT [ROOT...]');
  process.exit(2);
}
const mods = [];
for (const r of roots) {
  const K = await import(`${r}/dist/kernels/index.js`);
  K.addon.setThreads(threads);
  mods.push(K);
}
const K0 = mods[0];
const S = 97,
  D = 512;
const shapes = [
  ['gate_up fwd', { M: 1024, N: D, K: S, strideA: 0, strideB: S * D, strideC: 1024 * D }],
  ['down fwd', { M: S, N: D, K: 512, strideA: 0, strideB: 512 * D, strideC: S * D }],
  ['down dW', { M: S, N: 512, K: D, transB: true, strideA: S * D, strideB: 512 * D, strideC: 0 }],
  ['down dX', { M: 512, N: D, K: S, strideA: 0, strideB: S * D, strideC: 512 * D }],
  ['gate_up dW', { M: 1024, N: S, K: D, transB: true, strideA: 1024 * D, strideB: S * D, strideC: 0 }],
  ['gate_up dX', { M: S, N: D, K: 1024, strideA: 0, strideB: 1024 * D, strideC: S * D }],
];
let seed = 1;
const rnd = n => {
  const x = K0.alignedF32(n);
  for (let i = 0; i < n; i++) x[i] = (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff - 0.5;
  return x;
};
const peak = K0.addon.fmaPeak(0.3, threads);
const data = shapes.map(([name, c]) => ({
  name,
  c,
  a: rnd(c.strideA === 0 ? c.M * c.K : B * c.M * c.K),
  b: rnd(B * c.K * c.N),
  out: K0.alignedF32(c.strideC === 0 ? c.M * c.N : B * c.M * c.N),
}));
const call = (K, d) => {
  const c = d.c;
  K.addon.gemm(
    false,
    !!c.transB,
    c.M,
    c.N,
    c.K,
    1,
    d.a,
    c.K,
    c.strideA,
    d.b,
    c.transB ? c.K : c.N,
    c.strideB,
    0,
    d.out,
    c.N,
    c.strideC,
    B,
  );
};
const hash = x => {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  let h = 0;
  for (let i = 0; i < u.length; i++) h = (Math.imul(h, 31) + u[i]) | 0;
  return h;
};
for (const d of data) {
  const h = mods.map(K => (call(K, d), hash(d.out)));
  if (h.some(x => x !== h[0])) console.log(`BITS DIFFER between the builds: ${d.name}`);
}
const times = {};
// The builds' order reversed every other round: with the same build twice, the one called second read
// 2-5% faster (2-vCPU Zen 2, 2026-12-03), which a fixed order would give to the newer build.
// The peak is measured again before every round, and each call's share is taken against its own
// round's peak: on the 2-vCPU hosts it moves by up to 10% between minutes (the two-thread peak read 420
// and 459 GFLOP/s twenty minutes apart, 2026-12-04), which a peak measured once at the start would book
// as the products' gain or loss. Printed: each product's median time, its median share of the round's
// peak, and the range of the rounds' peaks.
// With more than one build every call waits 5 ms idle first (settleBetweenBuilds: another build's pool
// worker still spins after its call).
const shares = {},
  peaks = [];
for (let r = 0; r <= rounds; r++) {
  // (the highest of three 0.05 s loops: a thread descheduled during one reads low, never high)
  const roundPeak = r > 0 ? Math.max(...[0, 1, 2].map(() => K0.addon.fmaPeak(0.05, threads))) : peak;
  if (r > 0) peaks.push(roundPeak);
  for (const d of data)
    for (const m of mods.map((_, i) => (r % 2 ? mods.length - 1 - i : i))) {
      if (mods.length > 1) settleBetweenBuilds();
      const t0 = process.hrtime.bigint();
      call(mods[m], d);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r === 0) continue;
      (times[`${d.name}|${m}`] ??= []).push(ms);
      (shares[`${d.name}|${m}`] ??= []).push((2 * d.c.M * d.c.N * d.c.K * B) / ms / 1e6 / roundPeak);
    }
}
const median = a => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(
  `threads ${threads}, B ${B}, ${rounds} rounds, fp32 peak ${Math.min(...peaks).toFixed(0)}-${Math.max(...peaks).toFixed(0)} GFLOP/s (each round's own); ${roots.join(' | ')}`,
);
for (const d of data) {
  const cols = mods.map((_, m) => {
    const ms = median(times[`${d.name}|${m}`]);
    return `${ms.toFixed(2)} ms ${(median(shares[`${d.name}|${m}`]) * 100).toFixed(0)}%`;
  });
  console.log(d.name.padEnd(11), cols.join('  |  '));
}
