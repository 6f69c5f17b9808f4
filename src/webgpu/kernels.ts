/**
 * webgpu/kernels.ts: the WGSL of every non-GEMM kernel of the contract (src/kernels/backend.ts
 * gives the semantics, src/kernels/ref/ the reference loops). All arithmetic is fp32: sums the
 * reference keeps in float64 (RMSNorm, biasBackward, stablemax CE) are fp32 here, in a fixed
 * order, so results are deterministic run to run; docs/ARCHITECTURE.md ("WebGPU backend") gives
 * the tolerances the tests hold them to. Index errors (an id or label outside [0, V)) cannot
 * throw on the GPU: the kernel records the first one in the device's status buffer, writes zeros
 * for that row, and the next read()/flush() throws the RangeError the host backends throw.
 * Device-free.
 */
import type { KernelSpec } from './wgsl.js';
import { BF16_FN } from './gemm.js';

/** Kernel ids in the status buffer (index errors), with the names of the checked argument. */
export const statusKernels: [string, string][] = [
  ['', ''],
  ['embeddingForward', 'ids'],
  ['embeddingBackward', 'ids'],
  ['stablemaxCeForward', 'labels'],
  ['stablemaxCeBackward', 'labels'],
];

/** Invocations per workgroup of the elementwise kernels and of the per-row reductions. */
export const WG = 256;
export const ROW_WG = 128;
/** Rows up to this width take the one-invocation-per-row RMSNorm. */
export const ROWS_MAX_D = 128;

const f = (name: string, write = false) => ({ name, type: 'f32' as const, write });
const i = (name: string, write = false) => ({ name, type: 'i32' as const, write });
const u = (name: string, write = false) => ({ name, type: 'u32' as const, write });

/** Sum of `v` over a workgroup of ROW_WG invocations (tree order: deterministic). */
const rowReduce = `var<workgroup> red: array<f32, ${ROW_WG}>;
fn wgSum(v: f32, l: u32) -> f32 {
  red[l] = v;
  workgroupBarrier();
  for (var s = ${ROW_WG / 2}u; s > 0u; s = s / 2u) {
    if (l < s) { red[l] = red[l] + red[l + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}`;

/** Stablemax s(v) and s'(v) (reference/trm-algorithm.md 5.1), and log1p for BCE. */
const stablemax = `fn sm(v: f32) -> f32 { if (v >= 0.0) { return v + 1.0; } return 1.0 / (1.0 - v + 1e-30); }
fn dsm(v: f32) -> f32 { if (v >= 0.0) { return 1.0; } let s = sm(v); return s * s; }`;
const log1pExp = `// log1p(e) for e in [0, 1]: a series below 1e-2 (error < e^5/5), log(1 + e) above.
fn log1pSmall(e: f32) -> f32 {
  if (e < 1e-2) { return e * (1.0 - e * (0.5 - e * (1.0 / 3.0 - e * 0.25))); }
  return log(1.0 + e);
}`;

const elementwise = (
  name: string,
  tensors: KernelSpec['tensors'],
  params: KernelSpec['params'],
  body: string,
): KernelSpec => ({
  name,
  tensors,
  params: [['n', 'u32'], ...params],
  wg: WG,
  body: `  if (gid >= P.n) { return; }\n${body}`,
});

function lossGradSpec(weighted: boolean): KernelSpec {
  return elementwise(
    weighted ? 'lossGradWeighted' : 'lossGrad',
    [f('dtok', true), f('dbce', true), i('counts'), ...(weighted ? [f('weights')] : [])],
    [
      ['L', 'u32'],
      ['lossScale', 'f32'],
    ],
    `  let Lr = max(P.L, 1u); let b = gid / Lr;
  let w = P.lossScale * ${weighted ? 'weights[b]' : '1.0'};
  if (P.L > 0u) { dtok[gid] = w / f32(max(1, counts[2u * b])); }
  if (gid % Lr == 0u) { dbce[b] = 0.5 * w; }`,
  );
}

export const specs: Record<string, KernelSpec> = {
  copy2d: elementwise(
    'copy2d',
    [f('dst', true), f('src')],
    [
      ['cols', 'u32'],
      ['ldDst', 'u32'],
      ['ldSrc', 'u32'],
    ],
    '  let r = gid / P.cols; let c = gid % P.cols;\n  dst[r * P.ldDst + c] = src[r * P.ldSrc + c];',
  ),
  // A grouped item sum's last pass (device.ts gemmAny): C (rows x cols, ldc) = alpha * the sum of
  // `groups` partial products (each rows x cols, dense), in group order, + beta * C.
  gemmSumGroups: elementwise(
    'gemmSumGroups',
    [f('C', true), f('part')],
    [
      ['cols', 'u32'],
      ['ldc', 'u32'],
      ['groups', 'u32'],
      ['plane', 'u32'],
      ['alpha', 'f32'],
      ['beta', 'f32'],
    ],
    `  let r = gid / P.cols; let c = gid % P.cols;
  var s = 0.0;
  for (var g = 0u; g < P.groups; g++) { s += part[g * P.plane + gid]; }
  let idx = r * P.ldc + c;
  var y = P.alpha * s;
  if (P.beta != 0.0) { y += P.beta * C[idx]; }
  C[idx] = y;`,
  ),
  // out (C, R) = inp (R, C)^T: one invocation per output element
  transpose: elementwise(
    'transpose',
    [f('out', true), f('inp')],
    [
      ['R', 'u32'],
      ['C', 'u32'],
    ],
    '  let c = gid / P.R; let r = gid % P.R;\n  out[gid] = inp[r * P.C + c];',
  ),
  fill: elementwise('fill', [f('dst', true)], [['value', 'f32']], '  dst[gid] = P.value;'),
  castU8F32: elementwise('castU8F32', [f('out', true), u('inp')], [], '  out[gid] = f32(inp[gid]);'),
  broadcastRows: elementwise(
    'broadcastRows',
    [f('dst', true), f('src'), u('mask')],
    [
      ['per', 'u32'],
      ['D', 'u32'],
      ['srcStride', 'u32'],
    ],
    '  let b = gid / P.per;\n  if (mask[b] == 0u) { return; }\n  dst[gid] = src[b * P.srcStride + (gid % P.per) % P.D];',
  ),
  add: elementwise('add', [f('out', true), f('a'), f('bb')], [], '  out[gid] = a[gid] + bb[gid];'),
  add3: elementwise('add3', [f('out', true), f('a'), f('bb'), f('c')], [], '  out[gid] = (a[gid] + bb[gid]) + c[gid];'),
  addBias: elementwise(
    'addBias',
    [f('out', true), f('bias')],
    [['C', 'u32']],
    '  out[gid] = out[gid] + bias[gid % P.C];',
  ),
  // One invocation per column, rows in order (deterministic).
  biasBackward: elementwise(
    'biasBackward',
    [f('dbias', true), f('dout')],
    [['N', 'u32']],
    '  var s = 0.0;\n  for (var r = 0u; r < P.N; r++) { s += dout[r * P.n + gid]; }\n  dbias[gid] = dbias[gid] + s;',
  ),

  // ---- RMSNorm: one workgroup per row over the last axis; one invocation per (b, d) over s ----
  rmsnormForward: {
    name: 'rmsnormForward',
    tensors: [f('out', true), f('rstd', true), f('inp')],
    params: [
      ['N', 'u32'],
      ['D', 'u32'],
      ['eps', 'f32'],
    ],
    wg: ROW_WG,
    prelude: rowReduce,
    body: `  if (grp >= P.N) { return; }
  let o = grp * P.D;
  var ss = 0.0;
  for (var d = lid.x; d < P.D; d += ${ROW_WG}u) { let x = inp[o + d]; ss += x * x; }
  let r = 1.0 / sqrt(wgSum(ss, lid.x) / f32(P.D) + P.eps);
  for (var d = lid.x; d < P.D; d += ${ROW_WG}u) { out[o + d] = inp[o + d] * r; }
  if (lid.x == 0u) { rstd[grp] = r; }`,
  },
  rmsnormBackward: {
    name: 'rmsnormBackward',
    tensors: [f('dinp', true), f('dout'), f('out'), f('rstd')],
    params: [
      ['N', 'u32'],
      ['D', 'u32'],
    ],
    wg: ROW_WG,
    prelude: rowReduce,
    body: `  if (grp >= P.N) { return; }
  let o = grp * P.D;
  var dot = 0.0;
  for (var d = lid.x; d < P.D; d += ${ROW_WG}u) { dot += dout[o + d] * out[o + d]; }
  let mean = wgSum(dot, lid.x) / f32(P.D);
  let r = rstd[grp];
  for (var d = lid.x; d < P.D; d += ${ROW_WG}u) { dinp[o + d] = dinp[o + d] + r * (dout[o + d] - out[o + d] * mean); }`,
  },
  // Narrow rows (D <= ROWS_MAX_D): one invocation per row, no barriers (cheaper than a
  // workgroup per row when a row is a few cache lines; on CPU adapters, much cheaper).
  rmsnormForwardRows: elementwise(
    'rmsnormForwardRows',
    [f('out', true), f('rstd', true), f('inp')],
    [
      ['D', 'u32'],
      ['eps', 'f32'],
    ],
    `  let o = gid * P.D;
  var ss = 0.0;
  for (var d = 0u; d < P.D; d++) { let x = inp[o + d]; ss += x * x; }
  let r = 1.0 / sqrt(ss / f32(P.D) + P.eps);
  for (var d = 0u; d < P.D; d++) { out[o + d] = inp[o + d] * r; }
  rstd[gid] = r;`,
  ),
  rmsnormBackwardRows: elementwise(
    'rmsnormBackwardRows',
    [f('dinp', true), f('dout'), f('out'), f('rstd')],
    [['D', 'u32']],
    `  let o = gid * P.D;
  var dot = 0.0;
  for (var d = 0u; d < P.D; d++) { dot += dout[o + d] * out[o + d]; }
  let mean = dot / f32(P.D); let r = rstd[gid];
  for (var d = 0u; d < P.D; d++) { dinp[o + d] = dinp[o + d] + r * (dout[o + d] - out[o + d] * mean); }`,
  ),
  rmsnormSeqForward: elementwise(
    'rmsnormSeqForward',
    [f('out', true), f('rstd', true), f('inp')],
    [
      ['S', 'u32'],
      ['D', 'u32'],
      ['eps', 'f32'],
    ],
    `  let b = gid / P.D; let d = gid % P.D; let o = b * P.S * P.D + d;
  var ss = 0.0;
  for (var s = 0u; s < P.S; s++) { let x = inp[o + s * P.D]; ss += x * x; }
  let r = 1.0 / sqrt(ss / f32(P.S) + P.eps);
  for (var s = 0u; s < P.S; s++) { out[o + s * P.D] = inp[o + s * P.D] * r; }
  rstd[gid] = r;`,
  ),
  rmsnormSeqBackward: elementwise(
    'rmsnormSeqBackward',
    [f('dinp', true), f('dout'), f('out'), f('rstd')],
    [
      ['S', 'u32'],
      ['D', 'u32'],
    ],
    `  let b = gid / P.D; let d = gid % P.D; let o = b * P.S * P.D + d;
  var dot = 0.0;
  for (var s = 0u; s < P.S; s++) { dot += dout[o + s * P.D] * out[o + s * P.D]; }
  let mean = dot / f32(P.S); let r = rstd[gid];
  for (var s = 0u; s < P.S; s++) { let k = o + s * P.D; dinp[k] = dinp[k] + r * (dout[k] - out[k] * mean); }`,
  ),

  // ---- SwiGLU ----
  swigluForward: elementwise(
    'swigluForward',
    [f('out', true), f('gateUp')],
    [['H', 'u32']],
    `  let r = gid / P.H; let h = gid % P.H;
  let g = gateUp[r * 2u * P.H + h]; let up = gateUp[r * 2u * P.H + P.H + h];
  out[gid] = g / (1.0 + exp(-g)) * up;`,
  ),
  // gemmSwiglu, one invocation per output element (the WGSL fallback: correct, not tiled);
  // bf16 != 0 rounds the operands as the WGSL GEMM's bf16 variant does
  gemmSwiglu: {
    ...elementwise(
      'gemmSwiglu',
      [f('out', true), f('gateUp', true), f('inp'), f('weight')],
      [
        ['H', 'u32'],
        ['N', 'u32'],
        ['K', 'u32'],
        ['bf16', 'u32'],
        ['keep', 'u32'],
      ],
      `  let b = gid / (P.H * P.N); let r = gid % (P.H * P.N); let i = r / P.N; let j = r % P.N;
  var g = 0.0; var u = 0.0;
  for (var k = 0u; k < P.K; k++) {
    var x = inp[(b * P.K + k) * P.N + j]; var wg = weight[i * P.K + k]; var wu = weight[(P.H + i) * P.K + k];
    if (P.bf16 != 0u) { x = bf16r(x); wg = bf16r(wg); wu = bf16r(wu); }
    g = fma(wg, x, g); u = fma(wu, x, u);
  }
  out[gid] = g / (1.0 + exp(-g)) * u;
  if (P.keep != 0u) { gateUp[(b * 2u * P.H + i) * P.N + j] = g; gateUp[(b * 2u * P.H + P.H + i) * P.N + j] = u; }`,
    ),
    prelude: BF16_FN,
  },
  swigluBackward: elementwise(
    'swigluBackward',
    [f('dgateUp', true), f('dout'), f('gateUp')],
    [['H', 'u32']],
    `  let r = gid / P.H; let h = gid % P.H; let k = r * 2u * P.H + h;
  let g = gateUp[k]; let up = gateUp[k + P.H]; let dy = dout[gid];
  let sig = 1.0 / (1.0 + exp(-g));
  dgateUp[k] = dgateUp[k] + dy * up * sig * (1.0 + g * (1.0 - sig));
  dgateUp[k + P.H] = dgateUp[k + P.H] + dy * g * sig;`,
  ),

  // ---- embeddings ----
  embeddingForward: {
    ...elementwise(
      'embeddingForward',
      [f('out', true), i('ids'), f('table')],
      [
        ['D', 'u32'],
        ['V', 'u32'],
        ['scale', 'f32'],
      ],
      `  let r = gid / P.D; let d = gid % P.D; let id = ids[r];
  if (id < 0 || u32(id) >= P.V) { if (d == 0u) { report(1u, r, id, P.V); } out[gid] = 0.0; return; }
  out[gid] = P.scale * table[u32(id) * P.D + d];`,
    ),
    status: true,
  },
  // Small tables (V <= 64): one invocation per table element walks every row in order.
  embeddingBackwardByEntry: {
    ...elementwise(
      'embeddingBackwardByEntry',
      [f('dtable', true), f('dout'), i('ids')],
      [
        ['N', 'u32'],
        ['D', 'u32'],
        ['V', 'u32'],
        ['scale', 'f32'],
      ],
      `  let v = gid / P.D; let d = gid % P.D;
  var acc = dtable[gid];
  for (var r = 0u; r < P.N; r++) {
    let id = ids[r];
    if (id == i32(v)) { acc += P.scale * dout[r * P.D + d]; }
    else if (v == 0u && d == 0u && (id < 0 || u32(id) >= P.V)) { report(2u, r, id, P.V); }
  }
  dtable[gid] = acc;`,
    ),
    status: true,
  },
  // Large tables: one invocation per column walks the rows in order (as native does).
  embeddingBackwardByColumn: {
    ...elementwise(
      'embeddingBackwardByColumn',
      [f('dtable', true), f('dout'), i('ids')],
      [
        ['N', 'u32'],
        ['V', 'u32'],
        ['scale', 'f32'],
      ],
      `  for (var r = 0u; r < P.N; r++) {
    let id = ids[r];
    if (id < 0 || u32(id) >= P.V) { if (gid == 0u) { report(2u, r, id, P.V); } continue; }
    let k = u32(id) * P.n + gid;
    dtable[k] = dtable[k] + P.scale * dout[r * P.n + gid];
  }`,
    ),
    status: true,
  },

  // ---- losses and metrics: one invocation per row ----
  stablemaxCeForward: {
    ...elementwise(
      'stablemaxCeForward',
      [f('loss', true), f('logits'), i('labels')],
      [
        ['V', 'u32'],
        ['ignore', 'i32'],
      ],
      `  let l = labels[gid];
  if (l == P.ignore) { loss[gid] = 0.0; return; }
  if (l < 0 || u32(l) >= P.V) { report(3u, gid, l, P.V); loss[gid] = 0.0; return; }
  let o = gid * P.V;
  var S = 0.0;
  for (var j = 0u; j < P.V; j++) { S += sm(logits[o + j]); }
  loss[gid] = log(S) - log(sm(logits[o + u32(l)]));`,
    ),
    prelude: stablemax,
    status: true,
  },
  stablemaxCeBackward: {
    ...elementwise(
      'stablemaxCeBackward',
      [f('dlogits', true), f('dloss'), f('logits'), i('labels')],
      [
        ['V', 'u32'],
        ['ignore', 'i32'],
      ],
      `  let l = labels[gid]; let o = gid * P.V;
  let bad = l != P.ignore && (l < 0 || u32(l) >= P.V);
  if (bad) { report(4u, gid, l, P.V); }
  if (l == P.ignore || bad) { return; }
  var S = 0.0;
  for (var j = 0u; j < P.V; j++) { S += sm(logits[o + j]); }
  let c = dloss[gid] / S;
  for (var j = 0u; j < P.V; j++) { if (i32(j) != l) { dlogits[o + j] = dlogits[o + j] + c * dsm(logits[o + j]); } }
  let xl = logits[o + u32(l)];
  dlogits[o + u32(l)] = dlogits[o + u32(l)] + (c * dsm(xl) - dloss[gid] * dsm(xl) / sm(xl));`,
    ),
    prelude: stablemax,
    status: true,
  },
  bceLogitsForward: {
    ...elementwise(
      'bceLogitsForward',
      [f('loss', true), f('logits'), f('targets')],
      [],
      '  let x = logits[gid];\n  loss[gid] = max(x, 0.0) - x * targets[gid] + log1pSmall(exp(-abs(x)));',
    ),
    prelude: log1pExp,
  },
  bceLogitsBackward: elementwise(
    'bceLogitsBackward',
    [f('dlogits', true), f('dloss'), f('logits'), f('targets')],
    [],
    `  let x = logits[gid]; let e = exp(-abs(x));
  let sig = select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
  dlogits[gid] = dlogits[gid] + dloss[gid] * (sig - targets[gid]);`,
  ),
  argmax: elementwise(
    'argmax',
    [i('out', true), f('logits')],
    [['V', 'u32']],
    `  let o = gid * P.V;
  var best = 0u; var bv = logits[o];
  for (var j = 1u; j < P.V; j++) { let v = logits[o + j]; if (v > bv) { best = j; bv = v; } }
  out[gid] = i32(best);`,
  ),
  matchCounts: elementwise(
    'matchCounts',
    [u('seqCorrect', true), i('counts', true), i('pred'), i('labels')],
    [
      ['S', 'u32'],
      ['ignore', 'i32'],
    ],
    `  var valid = 0; var correct = 0;
  for (var k = gid * P.S; k < (gid + 1u) * P.S; k++) {
    let l = labels[k];
    if (l == P.ignore) { continue; }
    valid++;
    if (pred[k] == l) { correct++; }
  }
  counts[2u * gid] = valid; counts[2u * gid + 1u] = correct;
  seqCorrect[gid] = select(0u, 1u, valid == correct);`,
  ),
  // One invocation per (b, l) (per b when L = 0: dbce only); the l = 0 one writes dbce[b].
  lossGrad: lossGradSpec(false),
  lossGradWeighted: lossGradSpec(true),

  // ---- attention helpers ----
  softmaxForward: elementwise(
    'softmaxForward',
    [f('out', true), f('inp')],
    [['V', 'u32']],
    `  let o = gid * P.V;
  var mx = inp[o];
  for (var j = 1u; j < P.V; j++) { mx = max(mx, inp[o + j]); }
  var s = 0.0;
  for (var j = 0u; j < P.V; j++) { s += exp(inp[o + j] - mx); }
  for (var j = 0u; j < P.V; j++) { out[o + j] = exp(inp[o + j] - mx) / s; }`,
  ),
  softmaxBackward: elementwise(
    'softmaxBackward',
    [f('dinp', true), f('dout'), f('out')],
    [['V', 'u32']],
    `  let o = gid * P.V;
  var dot = 0.0;
  for (var j = 0u; j < P.V; j++) { dot += dout[o + j] * out[o + j]; }
  for (var j = 0u; j < P.V; j++) { dinp[o + j] = dinp[o + j] + out[o + j] * (dout[o + j] - dot); }`,
  ),
  ropeForward: elementwise(
    'ropeForward',
    [f('out', true), f('inp'), f('cos'), f('sin')],
    [
      ['S', 'u32'],
      ['H', 'u32'],
      ['Dh', 'u32'],
    ],
    `  let half = P.Dh / 2u; let r = gid / half; let k = gid % half;
  let o = r * P.Dh + k; let c = (r / P.H) % P.S * P.Dh + k;
  let x1 = inp[o]; let x2 = inp[o + half];
  out[o] = x1 * cos[c] - x2 * sin[c];
  out[o + half] = x2 * cos[c + half] + x1 * sin[c + half];`,
  ),
  ropeBackward: elementwise(
    'ropeBackward',
    [f('dinp', true), f('dout'), f('cos'), f('sin')],
    [
      ['S', 'u32'],
      ['H', 'u32'],
      ['Dh', 'u32'],
    ],
    `  let half = P.Dh / 2u; let r = gid / half; let k = gid % half;
  let o = r * P.Dh + k; let c = (r / P.H) % P.S * P.Dh + k;
  let x1 = dout[o]; let x2 = dout[o + half];
  dinp[o] = dinp[o] + x1 * cos[c] + x2 * sin[c + half];
  dinp[o + half] = dinp[o + half] + x2 * cos[c + half] - x1 * sin[c];`,
  ),

  // ---- optimizers: bias corrections and decay factors come from the host in float64 ----
  adamAtan2Step: elementwise(
    'adamAtan2Step',
    [f('param', true), f('m', true), f('v', true), f('grad')],
    [
      ['beta1', 'f32'],
      ['beta2', 'f32'],
      ['stepSize', 'f32'],
      ['sqrtBc2', 'f32'],
      ['decay', 'f32'],
    ],
    `  let g = grad[gid];
  let mi = m[gid] + (1.0 - P.beta1) * (g - m[gid]);
  let vi = v[gid] + (1.0 - P.beta2) * (g * g - v[gid]);
  param[gid] = param[gid] * P.decay - P.stepSize * atan2(mi, sqrt(vi) / P.sqrtBc2);
  m[gid] = mi; v[gid] = vi;`,
  ),
  adamwStep: elementwise(
    'adamwStep',
    [f('param', true), f('m', true), f('v', true), f('grad')],
    [
      ['beta1', 'f32'],
      ['beta2', 'f32'],
      ['lr', 'f32'],
      ['eps', 'f32'],
      ['bc1', 'f32'],
      ['bc2', 'f32'],
      ['decay', 'f32'],
    ],
    `  let g = grad[gid];
  let mi = P.beta1 * m[gid] + (1.0 - P.beta1) * g;
  let vi = P.beta2 * v[gid] + (1.0 - P.beta2) * g * g;
  param[gid] = param[gid] * P.decay - P.lr * (mi / P.bc1) / (sqrt(vi / P.bc2) + P.eps);
  m[gid] = mi; v[gid] = vi;`,
  ),
  signSgdRows: elementwise(
    'signSgdRows',
    [f('param', true), f('grad'), i('rows')],
    [
      ['width', 'u32'],
      ['lr', 'f32'],
      ['decay', 'f32'],
    ],
    `  let k = u32(rows[gid / P.width]) * P.width + gid % P.width;
  param[k] = param[k] * P.decay - P.lr * sign(grad[k]);`,
  ),
  // ---- precision=f16: f16 copies of GEMM operands, two per u32 word (clamped to the finite
  // f16 range: pack2x16float of a larger value is indeterminate) ----
  packF16: elementwise(
    'packF16',
    [u('out', true), f('inp')],
    [['m', 'u32']],
    `  let i = 2u * gid; var y = 0.0;
  if (i + 1u < P.m) { y = inp[i + 1u]; }
  out[gid] = pack2x16float(clamp(vec2f(inp[i], y), vec2f(-65504.0), vec2f(65504.0)));`,
  ),
  emaUpdate: elementwise(
    'emaUpdate',
    [f('shadow', true), f('param')],
    [
      ['decay', 'f32'],
      ['rest', 'f32'],
    ],
    '  shadow[gid] = P.decay * shadow[gid] + P.rest * param[gid];',
  ),
};
