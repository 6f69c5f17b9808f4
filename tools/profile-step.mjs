// profile-step.mjs: where the time of one training supervision step goes, for a train preset
// (default cpu-sudoku4): per-kernel wall time and call counts (timers around every device kernel),
// the TypeScript glue alone (every kernel a no-op), and the bare cost of a native call.
// Usage: TRM_THREADS=1 node tools/profile-step.mjs [preset] [steps] [B] [fp32|bf16]   (after npm run build)
// preset `paper`: the paper MLP config (D 512) at batch B (default 8); B overrides a train preset's
// batch size; bf16: products through gemmBf16 (precision=bf16).
const root = new URL('..', import.meta.url).pathname;
const K = await import(`${root}/dist/kernels/index.js`);
const M = await import(`${root}/dist/model/index.js`);
const T = await import(`${root}/dist/train/config.js`);
const preset = process.argv[2] ?? 'cpu-sudoku4',
  steps = +(process.argv[3] ?? 50);
let c, B;
const precision = process.argv[5] ?? 'fp32';
try {
  if (!(Number.isInteger(steps) && steps >= 1))
    throw new Error(`steps must be an integer >= 1, got '${process.argv[3]}'`);
  if (preset === 'paper') {
    c = M.resolveConfig(M.presets.sudokuMlp);
    B = +(process.argv[4] ?? 8);
  } else {
    const tc = T.resolveTrainConfig(preset, {});
    const side = +(/sudoku(\d)/.exec(preset)?.[1] ?? 9);
    c = M.resolveConfig({ ...tc.model, seq_len: side * side, vocab_size: side + 2 });
    B = +(process.argv[4] ?? tc.batch_size);
  }
  if (!(Number.isInteger(B) && B >= 1)) throw new Error(`B must be an integer >= 1, got '${process.argv[4]}'`);
  K.setGemmPrecision(precision);
} catch (e) {
  console.error(`profile-step: ${e.message}`);
  process.exit(2);
}
const base = K.device();
const kernelNames = (await import(`${root}/dist/kernels/backend.js`)).KERNEL_NAMES;
const stats = new Map(),
  shapes = new Map();
const timed = { ...base };
for (const n of kernelNames) {
  const f = base[n];
  timed[n] = (...args) => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const r = f(...args);
    const dt = performance.now() - t0;
    const c1 = process.cpuUsage(c0);
    const s = stats.get(n) ?? { calls: 0, ms: 0, cpu: 0 };
    s.calls++;
    s.ms += dt;
    s.cpu += (c1.user + c1.system) / 1000;
    stats.set(n, s);
    if (n === 'gemm' || n === 'gemmBf16') {
      // GemmArgs: transA, transB, M, N, K, ..., batch (last)
      const key = `${args[0] ? 'T' : 'N'}${args[1] ? 'T' : 'N'} ${args[2]}x${args[3]}x${args[4]} b${args[16]}${args[15] === 0 && args[16] > 1 ? ' sum' : ''} beta${args[12]}`;
      const q = shapes.get(key) ?? { calls: 0, ms: 0, cpu: 0, flops: 0 };
      q.calls++;
      q.ms += dt;
      q.cpu += (c1.user + c1.system) / 1000;
      q.flops += 2 * args[2] * args[3] * args[4] * args[16];
      shapes.set(key, q);
    }
    return r;
  };
}
const noop = { ...base };
for (const n of kernelNames) if (!['fill', 'copy2d'].includes(n)) noop[n] = () => {};
const w = M.createParams(c, 0),
  g = M.weightsView(c),
  a = M.allocActs(c, B, precision),
  { L, S } = a.d;
const batch = {
  inputs: K.upload(Int32Array.from({ length: B * L }, (_, i) => (i * 7 + 3) % c.vocab_size)),
  labels: K.upload(Int32Array.from({ length: B * L }, (_, i) => 1 + ((i * 5) % (c.vocab_size - 1)))),
  puzzleIds: K.upload(new Int32Array(B)),
};
function run(n) {
  const times = [],
    cpu = [];
  for (let r = 0; r < n; r++) {
    const carry = M.startCarry(c, w, B, S, { mode: 'static', scale: 1, training: false }, null);
    K.fill(g.data, 0, K.sizeOf(g.data));
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    M.supervisionStep(c, w, a, carry, batch, g, 1 / B);
    times.push(performance.now() - t0);
    const c1 = process.cpuUsage(c0);
    cpu.push((c1.user + c1.system) / 1000);
  }
  const med = v => [...v].sort((x, y) => x - y)[v.length >> 1];
  return { wall: med(times), cpu: med(cpu), mean: times.reduce((x, y) => x + y, 0) / n };
}
run(3);
const plain = run(steps);
// the pool's region profile over the same steps (no JavaScript timers)
let regions = null;
if (K.addon?.poolProfile && K.backendInfo().threads > 1) {
  K.addon.poolProfile(true);
  regions = { ...run(steps), stats: K.addon.poolProfile(false) };
}
K.setDevice(timed);
run(2);
stats.clear();
shapes.clear();
const withTimers = run(steps);
K.setDevice(noop);
run(2);
const glue = run(steps);
K.setDevice(base);
// bare native call: add of 1 element
const one = K.f32(16);
const t0 = performance.now();
for (let i = 0; i < 100000; i++) base.add(one, one, one, 1);
const callUs = ((performance.now() - t0) / 100000) * 1000;
const rows = [...stats.entries()].map(([n, s]) => ({
  kernel: n,
  calls: s.calls / steps,
  ms: s.ms / steps,
  cpu: s.cpu / steps,
}));
rows.sort((x, y) => y.cpu - x.cpu);
const total = rows.reduce((s, r) => s + r.ms, 0),
  totalCpu = rows.reduce((s, r) => s + r.cpu, 0);
const f = v => `${v.wall.toFixed(2)} ms wall / ${v.cpu.toFixed(2)} ms cpu`;
const info = K.backendInfo();
console.log(
  `${preset} ${precision}: D ${c.hidden_size} B ${B} S ${S} threads ${info.threads} (${info.isa}); median step ${f(plain)} ` +
    `(${(1000 / plain.wall).toFixed(1)} steps/s wall); with timers ${f(withTimers)}, inside kernels ${total.toFixed(2)} ms wall / ${totalCpu.toFixed(2)} ms cpu; ` +
    `glue only (kernels no-op) ${f(glue)}; bare native call ${callUs.toFixed(2)} us; ` +
    `${rows.reduce((s, r) => s + r.calls, 0)} kernel calls/step`,
);
for (const r of rows)
  console.log(
    `  ${r.kernel.padEnd(20)} ${String(r.calls).padStart(5)} calls ${r.ms.toFixed(2).padStart(8)} ms wall ${r.cpu.toFixed(2).padStart(8)} ms cpu ${((100 * r.cpu) / totalCpu).toFixed(1).padStart(5)}% of cpu`,
  );
console.log('  GEMMs by shape (op(A) op(B), M x N x K, batch; sum: items summed into one C):');
for (const [k, q] of [...shapes.entries()].sort((x, y) => y[1].cpu - x[1].cpu))
  console.log(
    `    ${k.padEnd(34)} ${String(q.calls / steps).padStart(4)} calls ${(q.ms / steps).toFixed(2).padStart(8)} ms wall ${(q.cpu / steps).toFixed(2).padStart(8)} ms cpu ${(q.flops / (q.ms * 1e6)).toFixed(1).padStart(6)} GFLOP/s wall`,
  );
if (regions) {
  // name each call site (addr2line over the addon's file; its offset alone where that fails)
  const { execFileSync } = await import('node:child_process');
  const sites = regions.stats.map(r => r.site);
  let names = sites;
  try {
    // -i prints the inlined frames too, innermost first, each a function line and a file line: the
    // site's function, then the functions it was inlined into (the kernel that ran the region last)
    names = sites.map(s =>
      execFileSync('addr2line', ['-f', '-C', '-i', '-e', K.addonPath, s], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .filter((_, i) => i % 2 === 0)
        .map(f => f.replace(/\(.*$/, '').replace(/^trm::(\(anonymous namespace\)::)?/, ''))
        .join(' < '),
    );
  } catch {}
  const st = regions.stats.map((r, i) => ({ ...r, name: names[i] }));
  const inRegions = st.reduce((s, r) => s + r.regionNs, 0) / steps / 1e6,
    waits = st.reduce((s, r) => s + r.callerWaitNs + r.workerIdleNs, 0) / steps / 1e6;
  console.log(
    `  parallel regions (pool profile, ${steps} steps, mean step ${regions.mean.toFixed(2)} ms): ${(st.reduce((s, r) => s + r.calls, 0) / steps).toFixed(0)} a step, ${inRegions.toFixed(2)} ms of the step inside them, ` +
      `so ~${(regions.mean - inRegions).toFixed(2)} ms on the caller alone between them; at their ends one thread idle ${waits.toFixed(2)} ms of thread time a step (caller waiting + worker idle)`,
  );
  console.log(
    '    calls/step  ms/step  caller-wait us/call  worker-idle us/call  worker-late us/call  late>20us  entered  site',
  );
  for (const r of st.sort((x, y) => y.callerWaitNs + y.workerIdleNs - (x.callerWaitNs + x.workerIdleNs)))
    console.log(
      `    ${(r.calls / steps).toFixed(1).padStart(10)} ${(r.regionNs / steps / 1e6).toFixed(3).padStart(8)} ${(r.callerWaitNs / r.calls / 1e3).toFixed(1).padStart(20)} ${(r.workerIdleNs / r.calls / 1e3).toFixed(1).padStart(20)} ${(r.entered ? r.workerLateNs / r.entered / 1e3 : 0).toFixed(1).padStart(20)} ${String(r.lateRegions).padStart(10)} ${((100 * r.entered) / r.calls).toFixed(0).padStart(7)}%  ${r.name}`,
    );
}
