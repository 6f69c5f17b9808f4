// bench-bf16-products.mjs: the bf16 products of one paper-MLP training step (B 64: the channel
// MLP's 6208-row products and the token mixer's per-item ones, with bf16-stored activations as the
// step holds them) through gemmBf16, for several native builds interleaved in ONE process (each
// product once per build per round), so a host whose speed changes within seconds (the AMX unit of
// a shared Xeon: docs/PERFORMANCE.md, tenth session) hits every build alike. Prints per product
// and build the median GFLOP/s, in brackets the best round's, and after x (builds after the first) the
// median of the per-round speedups over the first column.
//   node tools/bench-bf16-products.mjs THREADS ROUNDS NAMES BUILD[@KEY=V,...] [BUILD...]
// THREADS: a count, or a comma list (1,2: every build on 1 and on 2 threads, alternating). NAMES: `all` or a comma list of the names below. BUILD: a trm_native.node; each is loaded from
// its own copy (so one file can appear twice), and KEY=V pairs after `@` are set in the environment
// while that copy reads its settings (the blocking overrides TRM_GEMM_MC / KC / NC), e.g.
//   node tools/bench-bf16-products.mjs 1 15 all build/Release/trm_native.node \
//     build/Release/trm_native.node@TRM_GEMM_KC=512
import { loadBuilds } from './load-builds.mjs';

const [threadsArg, roundsArg, namesArg, ...builds] = process.argv.slice(2);
if (!threadsArg || !roundsArg || !namesArg || builds.length === 0) {
  console.error('usage: node tools/bench-bf16-products.mjs THREADS ROUNDS NAMES|all BUILD[@KEY=V,...] [BUILD...]');
  process.exit(2);
}
const threadCounts = threadsArg.split(',').map(Number),
  rounds = Number(roundsArg);
if (threadCounts.some(t => !(t >= 1)) || !(rounds >= 1)) {
  console.error(`bench-bf16-products: THREADS must be counts >= 1 and ROUNDS >= 1, got '${threadsArg}' '${roundsArg}'`);
  process.exit(2);
}
const overrideKeys = ['TRM_GEMM_MC', 'TRM_GEMM_KC', 'TRM_GEMM_NC', 'TRM_GEMM_CLAIM'];
const envs = builds.map(spec => spec.split('@')[1] ?? '');
const addons = loadBuilds(
  'bench-bf16-products',
  builds.map(spec => spec.split('@')[0]),
  {
    before: i => {
      for (const k of overrideKeys) delete process.env[k];
      for (const kv of envs[i].split(',').filter(Boolean)) {
        const [k, v] = kv.split('=');
        process.env[k] = v;
      }
    },
    after: addon => {
      const a = new Float32Array(64 * 64),
        c = new Float32Array(64 * 64);
      addon.gemmBf16(false, false, 64, 64, 64, 1, a, 64, 0, a, 64, 0, 0, c, 64, 0, 1); // reads the overrides now
    },
  },
);
for (const k of overrideKeys) delete process.env[k];

// name: op(A) op(B) M x N x K, batch, sum (stride_c 0), A shared (stride_a 0), bf16-stored A / B
const shapes = {
  'channel gate_up fwd': { tA: false, tB: true, M: 6208, N: 3072, K: 512, a16: true },
  'channel down fwd': { tA: false, tB: true, M: 6208, N: 512, K: 1536, a16: true },
  'channel gate_up dX': { tA: false, tB: false, M: 6208, N: 512, K: 3072, a16: true },
  'channel gate_up dW': { tA: true, tB: false, M: 3072, N: 512, K: 6208, a16: true, b16: true },
  'channel down dW': { tA: true, tB: false, M: 512, N: 1536, K: 6208, b16: true },
  'token mixer down fwd': { tA: false, tB: false, M: 97, N: 512, K: 512, batch: 64, sharedA: true, b16: true },
  'token mixer gate_up dX': { tA: false, tB: false, M: 97, N: 512, K: 1024, batch: 64, sharedA: true, b16: true },
  'token mixer gate_up dW': { tA: false, tB: true, M: 1024, N: 97, K: 512, batch: 64, sum: true, b16: true },
  'token mixer down dW': { tA: false, tB: true, M: 97, N: 512, K: 512, batch: 64, sum: true, b16: true },
};
const names = namesArg === 'all' ? Object.keys(shapes) : namesArg.split(',');
for (const n of names)
  if (!shapes[n]) {
    console.error(`bench-bf16-products: unknown product '${n}'; known: ${Object.keys(shapes).join(', ')}`);
    process.exit(2);
  }

// operands in [-0.5, 0.5) from the project's seeded stream (as `trm bench gemm`), fp32 or rounded to
// bf16 as the step's kept activations are
const { Rng, STREAM } = await import(new URL('../dist/data/rng.js', import.meta.url).href);
const { narrowInto } = await import(new URL('../dist/kernels/ref/bf16.js', import.meta.url).href);
function values(n, seed) {
  const rng = new Rng(seed, STREAM.bench),
    a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.float() - 0.5;
  return a;
}
function bf16(a) {
  const h = new Uint16Array(a.length);
  narrowInto(h, a);
  return h;
}
const median = v => [...v].sort((x, y) => x - y)[v.length >> 1];

const runs = builds.flatMap((b, i) => threadCounts.map(t => ({ addon: addons[i], t, label: `${b} ${t}t` })));
console.log(`bf16 products, ${rounds} rounds; columns: ${runs.map(r => r.label).join(' | ')}`);
for (const name of names) {
  const { tA, tB, M, N, K, batch = 1, sum = false, sharedA = false, a16 = false, b16 = false } = shapes[name];
  const itemsA = sharedA ? 1 : batch;
  const A = a16 ? bf16(values(M * K * itemsA, 1)) : values(M * K * itemsA, 1);
  const B = b16 ? bf16(values(K * N * batch, 2)) : values(K * N * batch, 2);
  const C = new Float32Array(M * N * (sum ? 1 : batch));
  const args = [tA, tB, M, N, K, 1, A, tA ? M : K, sharedA || batch === 1 ? 0 : M * K, B, tB ? K : N];
  const rest = [batch === 1 ? 0 : K * N, sum ? 1 : 0, C, N, sum || batch === 1 ? 0 : M * N, batch];
  const times = runs.map(() => []);
  for (let r = 0; r < rounds; r++)
    runs.forEach(({ addon, t }, i) => {
      addon.setThreads(t);
      // the AMX tile configuration is this thread's, shared by every build loaded here: a build before
      // 698c39e would run on the one the previous build left; its bf16Peak loads its own and forgets it
      if (runs.length > 1) addon.bf16Peak(0, 1);
      const t0 = performance.now();
      addon.gemmBf16(...args, ...rest);
      times[i].push(performance.now() - t0);
    });
  const flop = 2 * M * N * K * batch;
  // x: the median over rounds of the first column's time over this one's in the same round (the
  // runs of a round are milliseconds apart, so a change of the host's speed between rounds cancels)
  const cells = times.map((t, i) => {
    const med = median(t),
      best = Math.min(...t),
      paired = i === 0 ? '' : ` x${median(t.map((v, r) => times[0][r] / v)).toFixed(3)}`;
    return `${med.toFixed(2)} ms ${(flop / med / 1e6).toFixed(0)} GFLOP/s (${(flop / best / 1e6).toFixed(0)})${paired}`;
  });
  console.log(`${name.padEnd(24)} ${cells.join(' | ')}`);
}
