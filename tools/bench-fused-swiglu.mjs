// bench-fused-swiglu.mjs: the fused SwiGLU kernels of one paper-MLP training step (B 64) for several
// native builds interleaved in ONE process (each call once per build per round, so a host whose speed
// changes within seconds hits every build alike; the AMX tile configuration is reset before each
// build's turn, as bench-bf16-products.mjs does). Tensors are 64-byte aligned and, in bf16, stored as
// the step stores them (kept gate_up and h in bf16, a fresh bf16 dgate_up). Prints per call and build
// the median time and, for two or more builds, the median of the per-round ratios to the first.
//   node tools/bench-fused-swiglu.mjs THREADS ROUNDS fp32|bf16 BUILD [BUILD...]
// BUILD: a trm_native.node (each loaded from its own copy, so one file can appear twice). Calls:
//   channel gate_up (+SwiGLU)      linearSwiglu, N 6208, D 512, I 1536, not kept and kept
//   token mixer gate_up (+SwiGLU)  gemmSwiglu, H 512, N 512, K 97, batch 64, not kept and kept
//   channel dh (+SwiGLU backward)  linearSwigluBackward, fresh dgate_up
//   token mixer dh (+backward)     gemmSwigluBackward, fresh dgate_up
import { loadBuilds } from './load-builds.mjs';

const [threadsArg, roundsArg, precision, ...builds] = process.argv.slice(2);
const usage = 'usage: node tools/bench-fused-swiglu.mjs THREADS ROUNDS fp32|bf16 BUILD [BUILD...]';
if (!threadsArg || !roundsArg || !precision || builds.length === 0) {
  console.error(usage);
  process.exit(2);
}
const threads = Number(threadsArg),
  rounds = Number(roundsArg);
if (!Number.isInteger(threads) || threads < 1 || !Number.isInteger(rounds) || rounds < 1) {
  console.error(`bench-fused-swiglu: THREADS and ROUNDS must be integers >= 1, got '${threadsArg}' '${roundsArg}'`);
  process.exit(2);
}
if (precision !== 'fp32' && precision !== 'bf16') {
  console.error(`bench-fused-swiglu: precision must be fp32 or bf16, got '${precision}'`);
  process.exit(2);
}
const bf16 = precision === 'bf16';
const addons = loadBuilds('bench-fused-swiglu', builds, { after: addon => addon.setThreads(threads) });

/** n values of type C (Float32Array or Uint16Array) whose data starts on a 64-byte line. */
function aligned(C, n) {
  const buf = new ArrayBuffer(n * C.BYTES_PER_ELEMENT + 64);
  const mis = addons[0].addressMod64(new Uint8Array(buf, 0, 1));
  return new C(buf, mis === 0 ? 0 : 64 - mis, n);
}
/** n fp32 values in [-0.5, 0.5), 64-byte aligned (a fixed pattern: the timing does not depend on it). */
function filled(n, seed) {
  const x = aligned(Float32Array, n);
  for (let i = 0; i < n; i++) x[i] = (((i + seed) * 7919) % 1000) / 1000 - 0.5;
  return x;
}
/** filled(n, seed) in the precision's storage: fp32, or bf16 (the top halves). */
function values(n, seed) {
  const x = filled(n, seed);
  if (!bf16) return x;
  const h = aligned(Uint16Array, n),
    u = new Uint32Array(x.buffer, x.byteOffset, n);
  for (let i = 0; i < n; i++) h[i] = u[i] >>> 16; // truncation: any bf16 values do for timing
  return h;
}
const stored = n => (bf16 ? aligned(Uint16Array, n) : aligned(Float32Array, n));

const N = 6208,
  D = 512,
  I = 1536; // channel MLP: B 64 x S 97 rows
const H = 512,
  S = 97,
  B = 64; // token mixer: hidden 512 (Is), sequence 97, D 512 per item
const cx = filled(N * D, 1),
  cw = filled(2 * I * D, 2),
  cwDown = filled(D * I, 3);
const cOut = stored(N * I),
  cGu = values(N * 2 * I, 4),
  cdGu = stored(N * 2 * I),
  cDh = new Float32Array(N * I);
const tx = filled(B * S * D, 5),
  tw = filled(2 * H * S, 6),
  twT = filled(H * S, 7),
  tDout = filled(B * S * D, 8);
const tOut = stored(B * H * D),
  tGu = values(B * 2 * H * D, 9),
  tdGu = stored(B * 2 * H * D),
  tDh = new Float32Array(B * H * D);
const scratchGu = stored(N * 2 * I),
  scratchTGu = stored(B * 2 * H * D);

const calls = {
  'channel gate_up': a => a.linearSwiglu(cOut, scratchGu, cx, cw, N, D, I, false, bf16),
  'channel gate_up kept': a => a.linearSwiglu(cOut, scratchGu, cx, cw, N, D, I, true, bf16),
  'token mixer gate_up': a => a.gemmSwiglu(tOut, null, tx, tw, H, D, S, B, bf16),
  'token mixer gate_up kept': a => a.gemmSwiglu(tOut, scratchTGu, tx, tw, H, D, S, B, bf16),
  'channel dh': a => a.linearSwigluBackward(cdGu, cDh, cx, cGu, cwDown, N, D, I, bf16, true),
  'token mixer dh': a => a.gemmSwigluBackward(tdGu, tDh, tDout, tGu, twT, H, D, S, B, bf16, true),
};
const flops = {
  'channel gate_up': 2 * N * 2 * I * D,
  'channel gate_up kept': 2 * N * 2 * I * D,
  'token mixer gate_up': 2 * 2 * H * D * S * B,
  'token mixer gate_up kept': 2 * 2 * H * D * S * B,
  'channel dh': 2 * N * I * D,
  'token mixer dh': 2 * H * D * S * B,
};
const median = v => [...v].sort((x, y) => x - y)[v.length >> 1];

console.log(
  `fused SwiGLU kernels, ${precision}, ${threads} thread(s), ${rounds} rounds; builds: ${builds.join(' | ')}`,
);
for (const [name, call] of Object.entries(calls)) {
  const times = addons.map(() => []);
  for (let r = 0; r <= rounds; r++)
    addons.forEach((addon, i) => {
      if (addons.length > 1) addon.bf16Peak(0, 1);
      const t0 = performance.now();
      call(addon);
      if (r > 0) times[i].push(performance.now() - t0); // round 0: warm-up (first touch of the outputs)
    });
  const cells = times.map(t => {
    const med = median(t);
    return `${med.toFixed(2)} ms ${(flops[name] / med / 1e6).toFixed(0)} GFLOP/s`;
  });
  const ratios = times.slice(1).map(t => median(t.map((v, r) => times[0][r] / v)).toFixed(3));
  console.log(`${name.padEnd(26)} ${cells.join(' | ')}${ratios.length ? `  (vs first: ${ratios.join(', ')})` : ''}`);
}
