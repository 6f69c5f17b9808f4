// bench-ab-step.mjs: one warm-up + K training supervision steps (no optimizer) with the build at ROOT
// (a checkout with dist/ and build/), printing the step times (wall, and this process's CPU time)
// as JSON. Two ways to compare builds:
// - separate processes, alternated by the shell:
//     for i in 1 2 3; do for t in OLD NEW; do node tools/bench-ab-step.mjs $t [PRESET] [K]; done; done
// - ONE process (ROOT = OLD,NEW,...: every build loaded, one step of each per round, in reverse order
//   every other round, so all see the same machine phase and each place in a round; prints each
//   build's median and the median of the per-round ratios of each build to the first). On a noisy host (the 2-vCPU cloud machines) this is the one that resolves
//   a few percent; each build keeps its own thread pool, whose workers spin ~1-3 ms after a region.
// PRESET: a train preset (cpu-sudoku4, ...) at its batch size, or paper (the paper MLP config, B 64;
// the default); K: timed steps (default 5); PRECISION: fp32 (default) or bf16 (the build at ROOT
// must have setGemmPrecision); B: overrides the batch size. ROOT@PRECISION gives one entry its own
// precision, so one build's bf16 step is timed against its fp32 step round by round, e.g.
//   node tools/bench-ab-step.mjs /work/main@fp32,/work/main@bf16 paper 8
//   node tools/bench-ab-step.mjs ROOT[,ROOT...] [PRESET] [K] [PRECISION] [B]
import { existsSync } from 'node:fs';
import { settleBetweenBuilds } from './load-builds.mjs';

const specs = (process.argv[2] ?? '').split(',').filter(Boolean);
const roots = specs.map(s => s.split('@')[0]);
if (roots.length === 0) {
  console.error('usage: node tools/bench-ab-step.mjs ROOT[,ROOT...] [PRESET] [K] [PRECISION] [B]');
  process.exit(2);
}
const preset = process.argv[3] ?? 'paper',
  K_STEPS = Number(process.argv[4] ?? 5),
  defaultPrecision = process.argv[5] ?? 'fp32';
const precisions = specs.map(s => s.split('@')[1] ?? defaultPrecision);
if (precisions.some(p => p !== 'fp32' && p !== 'bf16')) {
  console.error(`bench-ab-step: precisions are fp32 or bf16, got ${precisions.join(', ')}`);
  process.exit(2);
}
const precision = new Set(precisions).size === 1 ? precisions[0] : precisions.join(',');

/** A function running one supervision step with the build at root (its own params and activations). */
async function stepOf(root, precision) {
  const K = await import(`${root}/dist/kernels/index.js`);
  const M = await import(`${root}/dist/model/index.js`);
  let c,
    B = 64;
  if (preset === 'paper') c = M.resolveConfig(M.presets.sudokuMlp);
  else {
    const T = await import(`${root}/dist/train/config.js`);
    const tc = T.resolveTrainConfig(preset, {}),
      side = Number(/sudoku(\d+)$/.exec(preset)?.[1] ?? 9);
    c = M.resolveConfig({ ...tc.model, seq_len: side * side, vocab_size: side + 2 });
    B = tc.batch_size;
  }
  if (process.argv[6]) B = Number(process.argv[6]);
  // (set again before every step: entries of one build with different precisions share its module)
  const setPrecision = () => precisions.some(p => p !== 'fp32') && K.setGemmPrecision(precision);
  setPrecision();
  const w = M.createParams(c, 0),
    g = M.weightsView(c),
    a = M.allocActs(c, B, precision), // a build that keeps bf16 activations keeps them here (older ones ignore it)
    { L, S } = a.d;
  const up = x => (K.upload ? K.upload(x) : x);
  const batch = {
    inputs: up(Int32Array.from({ length: B * L }, (_, i) => (i * 7 + 3) % c.vocab_size)),
    labels: up(Int32Array.from({ length: B * L }, (_, i) => 1 + ((i * 5) % (c.vocab_size - 1)))),
    puzzleIds: up(new Int32Array(B)),
  };
  const run = () => {
    const carry = M.startCarry
      ? M.startCarry(c, w, B, S, { mode: 'static', scale: 1, training: false }, null)
      : M.initialCarry(c, w, B, S);
    if (K.fill && K.sizeOf) K.fill(g.data, 0, K.sizeOf(g.data));
    else g.data.fill(0);
    // The AMX tile configuration belongs to the thread, and every build loaded here runs on this one:
    // a build before 698c39e trusted the configuration it last loaded, so it would run on the one the
    // other build left (wrong shapes, wrong results and times). Its bf16Peak loads its own and forgets it.
    if (precision !== 'fp32' && roots.length > 1) K.addon?.bf16Peak?.(0, 1);
    setPrecision();
    const c0 = process.cpuUsage(),
      t0 = performance.now();
    M.supervisionStep(c, w, a, carry, batch, g, 1 / B);
    const c1 = process.cpuUsage(c0);
    return { s: (performance.now() - t0) / 1000, cpu: (c1.user + c1.system) / 1e6 };
  };
  return { run, B, threads: K.backendInfo().threads };
}

const steps = [];
for (const [i, root] of roots.entries()) {
  if (!existsSync(`${root}/dist/kernels/index.js`)) {
    console.error(
      `bench-ab-step: ${root}: no build there (expected ${root}/dist/kernels/index.js: npm ci or npm run build)`,
    );
    process.exit(2);
  }
  try {
    steps.push(await stepOf(root, precisions[i]));
  } catch (e) {
    console.error(`bench-ab-step: ${root}: ${e instanceof Error ? e.message : e}`);
    process.exit(2);
  }
}
const out = roots.map(() => ({ times: [], cpu: [] }));
// Every other round runs the builds in reverse order: the place in a round matters on these hosts
// (the paper bf16 step read 0.962x with the newer build second and 1.066x with it first, ten rounds
// each), so each build takes each place equally often.
// And with more than one build, each step waits 5 ms idle first (settleBetweenBuilds: the other build's
// pool worker still spins after its step).
for (let r = 0; r <= K_STEPS; r++) {
  const order = steps.map((_, i) => (r % 2 ? steps.length - 1 - i : i));
  for (const i of order) {
    if (steps.length > 1) settleBetweenBuilds();
    const { s, cpu } = steps[i].run();
    if (r > 0) {
      out[i].times.push(+s.toFixed(4));
      out[i].cpu.push(+cpu.toFixed(4));
    }
  }
}
const { B, threads } = steps[0];
if (roots.length === 1) {
  console.log(JSON.stringify({ root: specs[0], preset, precision, B, threads, ...out[0] }));
} else {
  const median = v => [...v].sort((x, y) => x - y)[v.length >> 1];
  const builds = specs.map((root, i) => ({
    root,
    median_s: median(out[i].times),
    // > 1: this build is faster than the first, round by round
    speedup_vs_first: +median(out[0].times.map((t, k) => t / out[i].times[k])).toFixed(3),
    ...out[i],
  }));
  console.log(JSON.stringify({ preset, precision, B, threads, steps: K_STEPS, builds }));
}
