/**
 * webgpu/gemm.ts: the WGSL GEMM, C = alpha*op(A)*op(B) + beta*C, row-major, batched by strides
 * (the contract of src/kernels/backend.ts and native/gemm/gemm.h). A workgroup of 16x16
 * invocations computes a (16*T) x (16*T) tile of C; each invocation holds a T x T register block
 * in vec4 registers, unrolled (no private arrays: some compilers spill those to memory): rows
 * 4*ty..4*ty+3 (+64 for T = 8) and columns likewise from tx, so each k step reads op(A) and op(B)
 * from workgroup memory as T/2 vec4 loads (broadcast along a row of invocations, consecutive
 * along a column: no bank conflicts) for T*T FMAs.
 * op(A) and op(B) are staged through workgroup memory in BK-deep slices, loaded along whichever
 * axis is contiguous in memory (the transposes are specializations), zero-padded past the edges
 * so any M, N, K works. grid: x over column tiles, y over row tiles, z over batch items.
 * sumC = s > 0 sums items instead: grid z = g walks items [g*s, g*s + s) itself (no atomics,
 * deterministic) into C item g (strideC apart): with s = batch and one z, the whole batch into one C
 * (strideC = 0); device.ts also splits a long sum into groups of partial products and adds them
 * in a fixed order (gemmSumGroups). beta = 0 never reads C. Device-free.
 */
import type { KernelSpec } from './wgsl.js';

export const BK = 16;

const range = (n: number) => Array.from({ length: n }, (_, k) => k);

/** How a GEMM reads A and B (products and sums are fp32 in every case): 'fp32'; 'f16' (precision=
 *  f16): f16 pairs packed in u32 words (packF16 in kernels.ts), read with the core unpack2x16float,
 *  so it runs on every adapter (no shader-f16); 'bf16' (gemmBf16): fp32 operands rounded to
 *  bfloat16 as they are loaded. */
export type Operands = 'fp32' | 'f16' | 'bf16';

const F16_LOADS = `fn hA(i: u32) -> f32 { let v = unpack2x16float(A[(i >> 1u)]); return select(v.x, v.y, (i & 1u) == 1u); }
fn hB(i: u32) -> f32 { let v = unpack2x16float(B[(i >> 1u)]); return select(v.x, v.y, (i & 1u) == 1u); }
`;
/** WGSL of the bf16 rounding of gemmBf16 (src/kernels/ref/gemm.ts roundBf16): nearest even,
 *  denormals to signed zero, NaN kept quiet. The products and sums stay fp32. */
export const BF16_FN = `fn bf16r(x: f32) -> f32 {
  var u = bitcast<u32>(x);
  let e = u & 0x7f800000u;
  if (e == 0u) { u = u & 0x80000000u; }
  else if (e == 0x7f800000u) { if ((u & 0x7fffffu) != 0u) { u = (u | 0x400000u) & 0xffff0000u; } }
  else { u = (u + 0x7fffu + ((u >> 16u) & 1u)) & 0xffff0000u; }
  return bitcast<f32>(u);
}
`;
const helpers = { fp32: '', f16: F16_LOADS, bf16: BF16_FN };
const suffix = { fp32: '', f16: 'F16', bf16: 'Bf16' };
/** An operand load of element i of A or B. */
const load = (o: Operands, t: 'A' | 'B', i: string) =>
  o === 'f16' ? `h${t}(${i})` : o === 'bf16' ? `bf16r(${t}[${i}])` : `${t}[${i}]`;
const operands = (o: Operands): KernelSpec['tensors'] => [
  { name: 'A', type: o === 'f16' ? 'u32' : 'f32' },
  { name: 'B', type: o === 'f16' ? 'u32' : 'f32' },
  { name: 'C', type: 'f32', write: true },
];

/** The uniforms of every GEMM kernel (after the tensor offsets), in the device's order. */
const gemmParams: KernelSpec['params'] = [
  ['M', 'u32'],
  ['N', 'u32'],
  ['K', 'u32'],
  ['lda', 'u32'],
  ['ldb', 'u32'],
  ['ldc', 'u32'],
  ['strideA', 'u32'],
  ['strideB', 'u32'],
  ['strideC', 'u32'],
  ['batch', 'u32'],
  ['sumC', 'u32'],
  ['alpha', 'f32'],
  ['beta', 'f32'],
];

/** How the tiled GEMM stages its operands: `bk` k per workgroup-memory slice (16 or 32: half the
 *  barriers per FMA against twice the workgroup memory). Speed only: the sums' order is the same. */
export interface TileOptions {
  bk: 16 | 32;
}
export const DEFAULT_TILE: TileOptions = { bk: 16 };

/** The spec for one specialization: transposes, register block (T = 4 or 8), operands, staging. */
export function gemmSpec(
  transA: boolean,
  transB: boolean,
  T: number,
  ops: Operands = 'fp32',
  tile: TileOptions = DEFAULT_TILE,
): KernelSpec {
  const BK = tile.bk;
  const BM = 16 * T,
    BN = 16 * T;
  const loadsA = (BM * BK) / 256,
    loadsB = (BK * BN) / 256;
  // (i, k) of the l-th element this invocation loads, contiguous along the memory's fast axis.
  const aIdx = transA
    ? `let i = t & ${BM - 1}u; let k = (t >> ${Math.log2(BM)}u) + ${256 / BM}u * l;`
    : `let k = t & ${BK - 1}u; let i = (t >> ${Math.log2(BK)}u) + ${256 / BK}u * l;`;
  const aAddr = transA ? 'gk * P.lda + gi' : 'gi * P.lda + gk';
  const bIdx = transB
    ? `let k = t & ${BK - 1}u; let j = (t >> ${Math.log2(BK)}u) + ${256 / BK}u * l;`
    : `let j = t & ${BN - 1}u; let k = (t >> ${Math.log2(BN)}u) + ${256 / BN}u * l;`;
  const bAddr = transB ? 'gj * P.ldb + gk' : 'gk * P.ldb + gj';
  const H = T / 4; // vec4 groups per thread and axis
  // Workgroup rows are padded by one vec4: the tile loads of a non-transposed A (or a transposed
  // B) store one k per invocation, and an unpadded row stride would put them all in one bank.
  const RA = BM / 4 + 1,
    RB = BN / 4 + 1;
  // Register element r of an axis (row or column within the tile): 4 consecutive at 4*t, then +64.
  const at = (r: number, t: string) => `${64 * Math.floor(r / 4)}u + ${t} * 4u + ${r % 4}u`;
  return {
    name: `gemm${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}${T}${suffix[ops]}${BK === 16 ? '' : `k${BK}`}`,
    tensors: operands(ops),
    params: gemmParams,
    wg: 256,
    workgroup: '16, 16',
    prelude: `${helpers[ops]}var<workgroup> As: array<vec4f, ${BK * RA}>;
var<workgroup> Bs: array<vec4f, ${BK * RB}>;
fn store(cBase: u32, gi: u32, gj: u32, acc: f32, betaZero: bool) {
  if (gi >= P.M || gj >= P.N) { return; }
  let idx = cBase + gi * P.ldc + gj;
  var y = P.alpha * acc;
  if (!betaZero) { y += P.beta * C[idx]; }
  C[idx] = y;
}`,
    body: `  let tx = lid.x; let ty = lid.y; let t = ty * 16u + tx;
  let row0 = wid.y * ${BM}u; let col0 = wid.x * ${BN}u;
${range(T)
  .flatMap(r => range(H).map(h => `  var c${r}_${h} = vec4f(0.0);`))
  .join('\n')}
  var bFirst = wid.z; var bEnd = wid.z + 1u;
  if (P.sumC != 0u) { bFirst = wid.z * P.sumC; bEnd = min(P.batch, bFirst + P.sumC); }
  for (var b = bFirst; b < bEnd; b++) {
    let aBase = b * P.strideA; let bBase = b * P.strideB;
    for (var k0 = 0u; k0 < P.K; k0 += ${BK}u) {
      for (var l = 0u; l < ${loadsA}u; l++) {
        ${aIdx}
        let gi = row0 + i; let gk = k0 + k;
        var x = 0.0;
        if (gi < P.M && gk < P.K) { x = ${load(ops, 'A', `aBase + ${aAddr}`)}; }
        As[k * ${RA}u + (i >> 2u)][i & 3u] = x;
      }
      for (var l = 0u; l < ${loadsB}u; l++) {
        ${bIdx}
        let gj = col0 + j; let gk = k0 + k;
        var x = 0.0;
        if (gj < P.N && gk < P.K) { x = ${load(ops, 'B', `bBase + ${bAddr}`)}; }
        Bs[k * ${RB}u + (j >> 2u)][j & 3u] = x;
      }
      workgroupBarrier();
      for (var kk = 0u; kk < ${BK}u; kk++) {
${range(H)
  .map(h => `        let a${h} = As[kk * ${RA}u + ${16 * h}u + ty];`)
  .join('\n')}
${range(H)
  .map(h => `        let b${h} = Bs[kk * ${RB}u + ${16 * h}u + tx];`)
  .join('\n')}
${range(T)
  .flatMap(r =>
    range(H).map(h => `        c${r}_${h} = fma(vec4f(a${Math.floor(r / 4)}[${r % 4}]), b${h}, c${r}_${h});`),
  )
  .join('\n')}
      }
      workgroupBarrier();
    }
  }
  let cBase = wid.z * P.strideC;
  let betaZero = P.beta == 0.0;
${range(T)
  .flatMap(r =>
    range(T).map(
      c =>
        `  store(cBase, row0 + ${at(r, 'ty')}, col0 + ${at(c, 'tx')}, c${r}_${Math.floor(c / 4)}[${c % 4}], betaZero);`,
    ),
  )
  .join('\n')}`,
  };
}

/** Workgroup memory of the T block (both padded tiles) with `bk`-deep slices. */
export const gemmSharedBytes = (T: number, bk: number = BK): number => 2 * bk * (4 * T + 1) * 16;

/** Register block for a product: 8x8 (128x128 tiles) when there are enough such tiles to fill a
 *  large GPU (>= 128 workgroups), else 4x4 (64x64 tiles, four times the workgroups). */
export function gemmBlock(M: number, N: number, items: number): 4 | 8 {
  return Math.ceil(M / 128) * Math.ceil(N / 128) * items >= 128 ? 8 : 4;
}

/** The direct GEMM's default block (rows = columns per invocation): a workgroup covers 64x64. */
export const DIRECT_BLOCK = 8;

/** The GEMM without workgroup memory or barriers: a workgroup of 8x8 invocations, each computing
 *  an R x C block of C (C a multiple of 4) in vec4 registers read straight from A and B; edge rows
 *  and columns are clamped, so the k loop has no branch (their results are not stored). For CPU
 *  adapters (SwiftShader), where workgroup memory and barriers cost far more than loads. The
 *  default 8x8 block does 16 loads per 64 FMAs (the 4x4 block: 8 per 16) and measured 1.5-2.5x
 *  faster than 4x4 on the TRM products there (docs/PERFORMANCE.md); unrolling k did not help.
 *  `ops`: the operands, as gemmSpec. */
export function gemmDirectSpec(
  transA: boolean,
  transB: boolean,
  R: number = DIRECT_BLOCK,
  C: number = DIRECT_BLOCK,
  ops: Operands = 'fp32',
): KernelSpec {
  const H = C / 4;
  const aAddr = (r: number) => (transA ? `k * P.lda + ri${r}` : `ri${r} * P.lda + k`);
  const bAddr = (c: number) => (transB ? `cj${c} * P.ldb + k` : `k * P.ldb + cj${c}`);
  return {
    name: `gemmDirect${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}${R}x${C}${suffix[ops]}`,
    tensors: operands(ops),
    params: gemmParams,
    wg: 64,
    workgroup: '8, 8',
    prelude: `${helpers[ops]}fn store(cBase: u32, gi: u32, gj: u32, acc: f32, betaZero: bool) {
  if (gi >= P.M || gj >= P.N) { return; }
  let idx = cBase + gi * P.ldc + gj;
  var y = P.alpha * acc;
  if (!betaZero) { y += P.beta * C[idx]; }
  C[idx] = y;
}`,
    body: `  let gi0 = (wid.y * 8u + lid.y) * ${R}u; let gj0 = (wid.x * 8u + lid.x) * ${C}u;
  if (gi0 >= P.M || gj0 >= P.N) { return; }
${range(R)
  .map(r => `  let ri${r} = min(gi0 + ${r}u, P.M - 1u);`)
  .join('\n')}
${range(C)
  .map(c => `  let cj${c} = min(gj0 + ${c}u, P.N - 1u);`)
  .join('\n')}
${range(R)
  .flatMap(r => range(H).map(h => `  var c${r}_${h} = vec4f(0.0);`))
  .join('\n')}
  var bFirst = wid.z; var bEnd = wid.z + 1u;
  if (P.sumC != 0u) { bFirst = wid.z * P.sumC; bEnd = min(P.batch, bFirst + P.sumC); }
  for (var b = bFirst; b < bEnd; b++) {
    let aBase = b * P.strideA; let bBase = b * P.strideB;
    for (var k = 0u; k < P.K; k++) {
${range(H)
  .map(
    h =>
      `      let b${h} = vec4f(${range(4)
        .map(c => load(ops, 'B', `bBase + ${bAddr(4 * h + c)}`))
        .join(', ')});`,
  )
  .join('\n')}
${range(R)
  .map(r => `      let a${r} = vec4f(${load(ops, 'A', `aBase + ${aAddr(r)}`)});`)
  .join('\n')}
${range(R)
  .flatMap(r => range(H).map(h => `      c${r}_${h} = fma(a${r}, b${h}, c${r}_${h});`))
  .join('\n')}
    }
  }
  let cBase = wid.z * P.strideC;
  let betaZero = P.beta == 0.0;
${range(R)
  .flatMap(r =>
    range(C).map(c => `  store(cBase, gi0 + ${r}u, gj0 + ${c}u, c${r}_${Math.floor(c / 4)}[${c % 4}], betaZero);`),
  )
  .join('\n')}`,
  };
}
