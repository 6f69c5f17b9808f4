/**
 * ops.ts: the checked entries to every non-GEMM kernel, one function per KernelBackend method with
 * the same name and arguments (see backend.ts for the semantics), plus the tensor helpers the
 * model uses (allocate, view, copy, write, read) on the active device (device.ts). Each checks
 * that sizes are non-negative integers and every tensor has the right type and enough elements,
 * throwing a ShapeError such as `rmsnormForward: inp has 10 elements, (N=3, D=4) needs 12`, then
 * runs the active device. Index values (ids, labels) are checked by the kernels (RangeError).
 * Device-free: no Node import.
 */
import { ShapeError, TrmError } from '../errors.js';
import { type Shape, sizes } from './checks.js';
import {
  type BF16T,
  type DType,
  device,
  dtypeOf,
  type F32T,
  type HostArray,
  type HostOf,
  type I32T,
  isBf16,
  isHostArray,
  type KeptT,
  sizeOf,
  type Tensor,
  type U8T,
} from './device.js';

const arrayTypes = { Float32Array: 'f32', Int32Array: 'i32', Uint8Array: 'u8' } as const satisfies Record<
  string,
  DType
>;
type ArrayType = keyof typeof arrayTypes;
type F32 = F32T;
type I32 = I32T;
type U8 = U8T;

/** Checks each named array has the given type and at least `want` elements. */
function arrays(op: string, shape: Shape, type: ArrayType, named: Record<string, [unknown, number]>): void {
  const want = arrayTypes[type];
  for (const name in named) {
    const [arr, n] = named[name] as [unknown, number];
    if (dtypeOf(arr) !== want) {
      const got = (arr as object | null | undefined)?.constructor?.name ?? String(arr);
      throw new ShapeError(`${op}: ${name} must be ${type}, got ${got}`);
    }
    const have = sizeOf(arr as Tensor);
    if (have < n) throw new ShapeError(`${op}: ${name} has ${have} elements, ${shape} needs ${n}`);
  }
}

/** The kept tensors of the fused SwiGLU kernels (backend.ts H): fp32, or all bf16 (then bf16 must
 *  be set and the device must offer bf16 tensors). Checks their sizes; returns the fp32 ones for
 *  arrays() (the bf16 ones are checked here). */
function kept(
  op: string,
  shape: Shape,
  bf16: boolean,
  named: Record<string, [unknown, number]>,
): Record<string, [unknown, number]> {
  let n16 = 0;
  for (const k in named) if (isBf16((named[k] as [unknown, number])[0])) n16++;
  if (n16 === 0) return named;
  const e = Object.entries(named);
  if (n16 !== e.length)
    throw new ShapeError(
      `${op}: ${e.map(([k]) => k).join(' and ')} must all be Float32Array or all bf16 (Uint16Array)`,
    );
  if (!bf16) throw new ShapeError(`${op}: bf16 tensors (${e.map(([k]) => k).join(', ')}) need bf16 = true`);
  if (!device().bf16) throw new ShapeError(`${op}: the ${device().name} device keeps no bf16 tensors`);
  for (const [name, [t, want]] of e) {
    const have = (t as BF16T).length;
    if (have < want) throw new ShapeError(`${op}: ${name} has ${have} elements, ${shape} needs ${want}`);
  }
  return {};
}

/** One operand that may be fp32 or bf16 (on a device that keeps bf16 tensors), with at least n elements. */
function operand(op: string, shape: Shape, name: string, t: unknown, n: number): void {
  if (!isBf16(t)) {
    arrays(op, shape, 'Float32Array', { [name]: [t, n] });
    return;
  }
  if (!device().bf16) throw new ShapeError(`${op}: the ${device().name} device keeps no bf16 tensors`);
  if (t.length < n) throw new ShapeError(`${op}: ${name} has ${t.length} elements, ${shape} needs ${n}`);
}

/** A bf16 dgateUp is written fresh, never accumulated into. */
function freshBf16(op: string, dgateUp: unknown, bf16: boolean, fresh: boolean): void {
  if (isBf16(dgateUp) && !(bf16 && fresh))
    throw new ShapeError(`${op}: a bf16 dgateUp needs bf16 = true and fresh = true`);
}

function integer(op: string, name: string, v: number, min = -Infinity): void {
  if (!Number.isInteger(v) || v < min) {
    throw new TrmError(
      'TRM_BAD_ARG',
      `${op}: ${name} must be an integer${min > -Infinity ? ` >= ${min}` : ''}, got ${v}`,
    );
  }
}

// ---- elementwise ---------------------------------------------------------------------------

/** out = a + b (out may alias a or b). */
export function add(out: F32, a: F32, b: F32, n: number): void {
  const sh = sizes('add', { n });
  arrays('add', sh, 'Float32Array', { out: [out, n], a: [a, n], b: [b, n] });
  device().add(out, a, b, n);
}

/** out = a + b + c. */
export function add3(out: F32, a: F32, b: F32, c: F32, n: number): void {
  const sh = sizes('add3', { n });
  arrays('add3', sh, 'Float32Array', { out: [out, n], a: [a, n], b: [b, n], c: [c, n] });
  device().add3(out, a, b, c, n);
}

/** out (N, C) += bias (C) on every row. */
export function addBias(out: F32, bias: F32, N: number, C: number): void {
  const op = 'addBias',
    sh = sizes(op, { N, C });
  arrays(op, sh, 'Float32Array', { out: [out, N * C], bias: [bias, C] });
  device().addBias(out, bias, N, C);
}

/** dbias (C) += column sums of dout (N, C), float64, rows in order. */
export function biasBackward(dbias: F32, dout: F32, N: number, C: number): void {
  const op = 'biasBackward',
    sh = sizes(op, { N, C });
  arrays(op, sh, 'Float32Array', { dbias: [dbias, C], dout: [dout, N * C] });
  device().biasBackward(dbias, dout, N, C);
}

// ---- data movement -------------------------------------------------------------------------

/** Elements a strided (rows, cols) operand spans. */
const span = (rows: number, cols: number, ld: number) => (rows > 0 && cols > 0 ? (rows - 1) * ld + cols : 0);

/** dst[r*ldDst + c] = src[r*ldSrc + c] for r < rows, c < cols. */
export function copy2d(dst: F32, src: F32, rows: number, cols: number, ldDst: number, ldSrc: number): void {
  const op = 'copy2d',
    sh = sizes(op, { rows, cols, ldDst, ldSrc });
  if (rows > 1 && (ldDst < cols || ldSrc < cols))
    throw new ShapeError(`${op}: leading dimensions ${sh} must be >= cols`);
  arrays(op, sh, 'Float32Array', { dst: [dst, span(rows, cols, ldDst)], src: [src, span(rows, cols, ldSrc)] });
  device().copy2d(dst, src, rows, cols, ldDst, ldSrc);
}

/** dst[0:n] = src[0:n]. */
export function copy(dst: F32, src: F32, n: number): void {
  copy2d(dst, src, 1, n, n, n);
}

/** out (C, R) = inp (R, C)^T. */
export function transpose(out: F32, inp: F32, R: number, C: number): void {
  const op = 'transpose',
    sh = sizes(op, { R, C });
  arrays(op, sh, 'Float32Array', { out: [out, R * C], inp: [inp, R * C] });
  device().transpose(out, inp, R, C);
}

/** dst[0:n] = value. */
export function fill(dst: F32, value: number, n: number): void {
  const op = 'fill',
    sh = sizes(op, { n });
  arrays(op, sh, 'Float32Array', { dst: [dst, n] });
  device().fill(dst, value, n);
}

/** out (n) = inp (n) as float. */
export function castU8F32(out: F32, inp: U8, n: number): void {
  const op = 'castU8F32',
    sh = sizes(op, { n });
  arrays(op, sh, 'Float32Array', { out: [out, n] });
  arrays(op, sh, 'Uint8Array', { inp: [inp, n] });
  device().castU8F32(out, inp, n);
}

/** Slots b with mask[b] != 0: every D-wide row of dst[b*per:(b+1)*per] = src[b*srcStride : +D]. */
export function broadcastRows(
  dst: F32,
  src: F32,
  mask: U8,
  B: number,
  per: number,
  D: number,
  srcStride: number,
): void {
  const op = 'broadcastRows',
    sh = sizes(op, { B, per, D, srcStride });
  if (D < 1 || per % D !== 0) throw new ShapeError(`${op}: per must be a multiple of D >= 1 ${sh}`);
  arrays(op, sh, 'Float32Array', { dst: [dst, B * per], src: [src, B > 0 ? (B - 1) * srcStride + D : 0] });
  arrays(op, sh, 'Uint8Array', { mask: [mask, B] });
  device().broadcastRows(dst, src, mask, B, per, D, srcStride);
}

// ---- tensors on the active device ------------------------------------------------------------

/** New zero-filled tensors of n elements on the active device. */
export const f32 = (n: number): F32 => device().f32(n);
export const i32 = (n: number): I32 => device().i32(n);
export const u8 = (n: number): U8 => device().u8(n);
/** n bf16 values (device.ts BF16T) on the active device; a device without bf16 tensors throws. */
export const bf16 = (n: number): BF16T => {
  const d = device();
  if (!d.bf16) throw new TrmError('TRM_BAD_ARG', `the ${d.name} device keeps no bf16 tensors`);
  return d.bf16(n);
};
/** Elements [offset, offset + n) of t, sharing its memory (a host array is viewed as itself,
 *  whatever the device: checkpoints and host copies use the same layout code). */
export function view<T extends Tensor>(t: T, offset: number, n: number): T {
  if (!isHostArray(t)) return device().view(t, offset, n);
  if (!(Number.isInteger(offset) && Number.isInteger(n) && offset >= 0 && n >= 0 && offset + n <= t.length))
    throw new ShapeError(`view: [${offset}, ${offset + n}) is outside a tensor of ${t.length} elements`);
  return t.subarray(offset, offset + n) as T;
}
/** Host data into dst at offset. */
export const write = (dst: Tensor, src: HostArray, offset = 0): void => device().write(dst, src, offset);
/** The values on the host once queued work is done (a host array - host devices' tensors, or host
 *  copies under any device - is returned as itself). */
export const read = async <T extends Tensor>(t: T): Promise<HostOf<T>> =>
  isHostArray(t) ? (t as unknown as HostOf<T>) : device().read(t);
/** A host array as itself, now; a GPU tensor throws (use read). */
export const readSync = <T extends Tensor>(t: T): HostOf<T> =>
  isHostArray(t) ? (t as unknown as HostOf<T>) : device().readSync(t);
/** A new tensor holding a copy of host data. */
export function upload<A extends HostArray>(src: A): HostOf<A> {
  const d = device(),
    t =
      src instanceof Float32Array
        ? d.f32(src.length)
        : src instanceof Int32Array
          ? d.i32(src.length)
          : d.u8(src.length);
  d.write(t, src);
  return t as unknown as HostOf<A>;
}

// ---- RMSNorm without weight ----------------------------------------------------------------

/** out (N, D) = inp * rstd, rstd (N) = 1/sqrt(mean(inp^2) + eps) over D. */
export function rmsnormForward(out: F32, rstd: F32, inp: F32, N: number, D: number, eps: number): void {
  const op = 'rmsnormForward',
    sh = sizes(op, { N, D });
  arrays(op, sh, 'Float32Array', { out: [out, N * D], rstd: [rstd, N], inp: [inp, N * D] });
  device().rmsnormForward(out, rstd, inp, N, D, eps);
}

/** dinp = rstd * (dout - out * mean(dout * out)) over D. */
export function rmsnormBackward(dinp: F32, dout: F32, out: F32, rstd: F32, N: number, D: number): void {
  const op = 'rmsnormBackward',
    sh = sizes(op, { N, D });
  arrays(op, sh, 'Float32Array', { dinp: [dinp, N * D], dout: [dout, N * D], out: [out, N * D], rstd: [rstd, N] });
  device().rmsnormBackward(dinp, dout, out, rstd, N, D);
}

/** RMSNorm of inp (B, S, D) over s for each (b, d); rstd (B, D). */
export function rmsnormSeqForward(out: F32, rstd: F32, inp: F32, B: number, S: number, D: number, eps: number): void {
  const op = 'rmsnormSeqForward',
    sh = sizes(op, { B, S, D });
  arrays(op, sh, 'Float32Array', { out: [out, B * S * D], rstd: [rstd, B * D], inp: [inp, B * S * D] });
  device().rmsnormSeqForward(out, rstd, inp, B, S, D, eps);
}

/** Backward of rmsnormSeqForward, from the saved out and rstd. */
export function rmsnormSeqBackward(dinp: F32, dout: F32, out: F32, rstd: F32, B: number, S: number, D: number): void {
  const op = 'rmsnormSeqBackward',
    sh = sizes(op, { B, S, D });
  const n = B * S * D;
  arrays(op, sh, 'Float32Array', { dinp: [dinp, n], dout: [dout, n], out: [out, n], rstd: [rstd, B * D] });
  device().rmsnormSeqBackward(dinp, dout, out, rstd, B, S, D);
}

// ---- SwiGLU --------------------------------------------------------------------------------

/** out (N, H) = silu(gate) * up, gateUp (N, 2H) rows [gate | up]. */
export function swigluForward(out: F32, gateUp: F32, N: number, H: number): void {
  const op = 'swigluForward',
    sh = sizes(op, { N, H });
  arrays(op, sh, 'Float32Array', { out: [out, N * H], gateUp: [gateUp, 2 * N * H] });
  device().swigluForward(out, gateUp, N, H);
}

/** The token mixer's gate_up GEMM with SwiGLU in its epilogue (backend.ts gemmSwiglu): out
 *  (batch, H, N); gateUp (batch, 2H, N) or null; inp (batch, K, N); weight (2H, K). */
export function gemmSwiglu(
  out: KeptT,
  gateUp: KeptT | null,
  inp: F32,
  weight: F32,
  H: number,
  N: number,
  K: number,
  batch: number,
  bf16: boolean,
): void {
  const op = 'gemmSwiglu',
    sh = sizes(op, { H, N, K, batch });
  arrays(op, sh, 'Float32Array', {
    inp: [inp, batch * K * N],
    weight: [weight, 2 * H * K],
    ...kept(op, sh, bf16, {
      out: [out, batch * H * N],
      ...(gateUp !== null ? { gateUp: [gateUp, batch * 2 * H * N] as [unknown, number] } : {}),
    }),
  });
  device().gemmSwiglu(out, gateUp, inp, weight, H, N, K, batch, bf16 === true);
}

/** The channel MLP's gate_up GEMM with SwiGLU in its epilogue (backend.ts linearSwiglu): out (N, I)
 *  = silu(inp @ weight[0:I]^T) * (inp @ weight[I:2I]^T); gateUp (N, 2I) holds [G | U] when keep,
 *  else is scratch. inp (N, D), weight (2I, D). */
export function linearSwiglu(
  out: KeptT,
  gateUp: KeptT,
  inp: F32,
  weight: F32,
  N: number,
  D: number,
  I: number,
  keep: boolean,
  bf16: boolean,
): void {
  const op = 'linearSwiglu',
    sh = sizes(op, { N, D, I });
  arrays(op, sh, 'Float32Array', {
    ...kept(op, sh, bf16, { out: [out, N * I], gateUp: [gateUp, N * 2 * I] }),
    inp: [inp, N * D],
    weight: [weight, 2 * I * D],
  });
  device().linearSwiglu(out, gateUp, inp, weight, N, D, I, keep === true, bf16 === true);
}

/** linearSwiglu's backward through the down product (backend.ts linearSwigluBackward): dgateUp
 *  (N, 2I) += (fresh: =); dh (N, I) scratch; dout (N, D); gateUp (N, 2I); weight (D, I). */
export function linearSwigluBackward(
  dgateUp: KeptT,
  dh: F32,
  dout: F32,
  gateUp: KeptT,
  weight: F32,
  N: number,
  D: number,
  I: number,
  bf16: boolean,
  fresh: boolean,
): void {
  const op = 'linearSwigluBackward',
    sh = sizes(op, { N, D, I });
  freshBf16(op, dgateUp, bf16, fresh);
  arrays(op, sh, 'Float32Array', {
    ...kept(op, sh, bf16, { dgateUp: [dgateUp, N * 2 * I] }),
    dh: [dh, N * I],
    dout: [dout, N * D],
    ...kept(op, sh, bf16, { gateUp: [gateUp, N * 2 * I] }),
    weight: [weight, D * I],
  });
  device().linearSwigluBackward(dgateUp, dh, dout, gateUp, weight, N, D, I, bf16 === true, fresh === true);
}

/** gemmSwiglu's backward through the down product (backend.ts gemmSwigluBackward): dgateUp
 *  (batch, 2H, N) += (fresh: =); dh (batch, H, N) scratch; dout (batch, K, N); gateUp (batch, 2H, N);
 *  weightT (H, K). */
export function gemmSwigluBackward(
  dgateUp: KeptT,
  dh: F32,
  dout: F32,
  gateUp: KeptT,
  weightT: F32,
  H: number,
  N: number,
  K: number,
  batch: number,
  bf16: boolean,
  fresh: boolean,
): void {
  const op = 'gemmSwigluBackward',
    sh = sizes(op, { H, N, K, batch });
  freshBf16(op, dgateUp, bf16, fresh);
  arrays(op, sh, 'Float32Array', {
    ...kept(op, sh, bf16, { dgateUp: [dgateUp, batch * 2 * H * N] }),
    dh: [dh, batch * H * N],
    dout: [dout, batch * K * N],
    ...kept(op, sh, bf16, { gateUp: [gateUp, batch * 2 * H * N] }),
    weightT: [weightT, H * K],
  });
  device().gemmSwigluBackward(dgateUp, dh, dout, gateUp, weightT, H, N, K, batch, bf16 === true, fresh === true);
}

/** The item sums' checks: sizes, C (M, N), and A, B spanning (batch - 1) strides plus one item (nothing
 *  when an extent is empty); bf16: A and B may each be bf16 (operand). */
function sumNtChecks(
  op: string,
  bf16: boolean,
  C: unknown,
  A: unknown,
  B: unknown,
  M: number,
  N: number,
  K: number,
  batch: number,
  strideA: number,
  strideB: number,
): void {
  const sh = sizes(op, { M, N, K, batch, strideA, strideB }),
    used = batch > 0 && M > 0 && N > 0 && K > 0,
    na = used ? (batch - 1) * strideA + M * K : 0,
    nb = used ? (batch - 1) * strideB + N * K : 0;
  arrays(op, sh, 'Float32Array', { C: [C, M * N] });
  if (!bf16) arrays(op, sh, 'Float32Array', { A: [A, na], B: [B, nb] });
  else {
    operand(op, sh, 'A', A, na);
    operand(op, sh, 'B', B, nb);
  }
}

/** C (M, N) = beta*C + the sum over b < batch of A_b (M, K) @ B_b (N, K)^T (backend.ts gemmSumNT):
 *  A_b at b*strideA, B_b at b*strideB, row-major with k contiguous. */
export function gemmSumNT(
  C: F32,
  A: F32,
  B: F32,
  M: number,
  N: number,
  K: number,
  batch: number,
  strideA: number,
  strideB: number,
  beta: number,
): void {
  sumNtChecks('gemmSumNT', false, C, A, B, M, N, K, batch, strideA, strideB);
  device().gemmSumNT(C, A, B, M, N, K, batch, strideA, strideB, beta);
}

/** dgateUp (N, 2H), overwritten, from dout (N, H). */
export function swigluBackward(dgateUp: F32, dout: F32, gateUp: F32, N: number, H: number): void {
  const op = 'swigluBackward',
    sh = sizes(op, { N, H });
  arrays(op, sh, 'Float32Array', { dgateUp: [dgateUp, 2 * N * H], dout: [dout, N * H], gateUp: [gateUp, 2 * N * H] });
  device().swigluBackward(dgateUp, dout, gateUp, N, H);
}

/** gemmSumNT with bf16 operands (backend.ts gemmSumNTBf16): A and B each fp32 or bf16 (Uint16Array). */
export function gemmSumNTBf16(
  C: F32,
  A: KeptT,
  B: KeptT,
  M: number,
  N: number,
  K: number,
  batch: number,
  strideA: number,
  strideB: number,
  beta: number,
): void {
  sumNtChecks('gemmSumNTBf16', true, C, A, B, M, N, K, batch, strideA, strideB);
  device().gemmSumNTBf16(C, A, B, M, N, K, batch, strideA, strideB, beta);
}

// ---- fused half-blocks (backend.ts) -------------------------------------------------------------

/** Token mixer + residual + sequence-axis RMSNorm of inp (B, S, D) in one call. */
export function tokenMixerNormForward(
  out: F32,
  rstd: F32,
  gateUp: F32,
  h: F32,
  r: F32,
  inp: F32,
  wGateUp: F32,
  wDown: F32,
  B: number,
  S: number,
  D: number,
  Is: number,
  eps: number,
  keep: boolean,
): void {
  const op = 'tokenMixerNormForward',
    sh = sizes(op, { B, S, D, Is }),
    n = B * S * D;
  arrays(op, sh, 'Float32Array', {
    out: [out, n],
    rstd: [rstd, B * D],
    gateUp: [gateUp, B * 2 * Is * D],
    h: [h, B * Is * D],
    r: [r, n],
    inp: [inp, n],
    wGateUp: [wGateUp, 2 * Is * S],
    wDown: [wDown, S * Is],
  });
  device().tokenMixerNormForward(out, rstd, gateUp, h, r, inp, wGateUp, wDown, B, S, D, Is, eps, keep === true);
}

/** Channel SwiGLU MLP + residual + RMSNorm of inp (N, D) in one call. */
export function mlpNormForward(
  out: F32,
  rstd: F32,
  gateUp: F32,
  h: F32,
  r: F32,
  inp: F32,
  wGateUp: F32,
  wDown: F32,
  N: number,
  D: number,
  I: number,
  eps: number,
  keep: boolean,
): void {
  const op = 'mlpNormForward',
    sh = sizes(op, { N, D, I }),
    n = N * D;
  arrays(op, sh, 'Float32Array', {
    out: [out, n],
    rstd: [rstd, N],
    gateUp: [gateUp, N * 2 * I],
    h: [h, N * I],
    r: [r, n],
    inp: [inp, n],
    wGateUp: [wGateUp, 2 * I * D],
    wDown: [wDown, D * I],
  });
  device().mlpNormForward(out, rstd, gateUp, h, r, inp, wGateUp, wDown, N, D, I, eps, keep === true);
}

/** mlpNormForward's backward without the weight gradients (backend.ts); fresh: dinp written, not
 *  accumulated into (bitwise a zero fill first). */
export function mlpNormBackward(
  dinp: F32,
  dr: F32,
  dh: F32,
  dgateUp: F32,
  dout: F32,
  out: F32,
  rstd: F32,
  gateUp: F32,
  wGateUp: F32,
  wDown: F32,
  N: number,
  D: number,
  I: number,
  fresh = false,
): void {
  const op = 'mlpNormBackward',
    sh = sizes(op, { N, D, I }),
    n = N * D;
  arrays(op, sh, 'Float32Array', {
    dinp: [dinp, n],
    dr: [dr, n],
    dh: [dh, N * I],
    dgateUp: [dgateUp, N * 2 * I],
    dout: [dout, n],
    out: [out, n],
    rstd: [rstd, N],
    gateUp: [gateUp, N * 2 * I],
    wGateUp: [wGateUp, 2 * I * D],
    wDown: [wDown, D * I],
  });
  device().mlpNormBackward(dinp, dr, dh, dgateUp, dout, out, rstd, gateUp, wGateUp, wDown, N, D, I, fresh === true);
}

/** tokenMixerNormForward's backward without the weight gradients (backend.ts); fresh: as
 *  mlpNormBackward's. */
export function tokenMixerNormBackward(
  dinp: F32,
  dr: F32,
  dh: F32,
  dgateUp: F32,
  dout: F32,
  out: F32,
  rstd: F32,
  gateUp: F32,
  inp: F32,
  wGateUp: F32,
  wGateUpT: F32,
  wDownT: F32,
  B: number,
  S: number,
  D: number,
  Is: number,
  fresh = false,
): void {
  const op = 'tokenMixerNormBackward',
    sh = sizes(op, { B, S, D, Is }),
    n = B * S * D;
  arrays(op, sh, 'Float32Array', {
    dinp: [dinp, n],
    dr: [dr, n],
    dh: [dh, B * Is * D],
    dgateUp: [dgateUp, B * 2 * Is * D],
    dout: [dout, n],
    out: [out, n],
    rstd: [rstd, B * D],
    gateUp: [gateUp, B * 2 * Is * D],
    inp: [inp, n],
    wGateUp: [wGateUp, 2 * Is * S],
    wGateUpT: [wGateUpT, S * 2 * Is],
    wDownT: [wDownT, Is * S],
  });
  device().tokenMixerNormBackward(
    dinp,
    dr,
    dh,
    dgateUp,
    dout,
    out,
    rstd,
    gateUp,
    inp,
    wGateUp,
    wGateUpT,
    wDownT,
    B,
    S,
    D,
    Is,
    fresh === true,
  );
}

// ---- embeddings ----------------------------------------------------------------------------

/** out (N, D) = scale * table[ids[i]], table (V, D). */
export function embeddingForward(out: F32, ids: I32, table: F32, N: number, D: number, V: number, scale: number): void {
  const op = 'embeddingForward',
    sh = sizes(op, { N, D, V });
  arrays(op, sh, 'Int32Array', { ids: [ids, N] });
  arrays(op, sh, 'Float32Array', { out: [out, N * D], table: [table, V * D] });
  device().embeddingForward(out, ids, table, N, D, V, scale);
}

/** dtable[ids[i]] += scale * dout[i], in row order. */
export function embeddingBackward(
  dtable: F32,
  dout: F32,
  ids: I32,
  N: number,
  D: number,
  V: number,
  scale: number,
): void {
  const op = 'embeddingBackward',
    sh = sizes(op, { N, D, V });
  arrays(op, sh, 'Int32Array', { ids: [ids, N] });
  arrays(op, sh, 'Float32Array', { dtable: [dtable, V * D], dout: [dout, N * D] });
  device().embeddingBackward(dtable, dout, ids, N, D, V, scale);
}

// ---- losses and metrics --------------------------------------------------------------------

/** loss (N) = stablemax cross-entropy of logits (N, V) against labels; 0 where ignored. */
export function stablemaxCeForward(
  loss: F32,
  logits: F32,
  labels: I32,
  N: number,
  V: number,
  ignoreIndex: number,
): void {
  const op = 'stablemaxCeForward',
    sh = sizes(op, { N, V });
  integer(op, 'ignoreIndex', ignoreIndex);
  arrays(op, sh, 'Int32Array', { labels: [labels, N] });
  arrays(op, sh, 'Float32Array', { loss: [loss, N], logits: [logits, N * V] });
  device().stablemaxCeForward(loss, logits, labels, N, V, ignoreIndex);
}

/** dlogits (N, V) = dloss[i] * d CE_i / d logits_i; ignored rows get 0. */
export function stablemaxCeBackward(
  dlogits: F32,
  dloss: F32,
  logits: F32,
  labels: I32,
  N: number,
  V: number,
  ignoreIndex: number,
): void {
  const op = 'stablemaxCeBackward',
    sh = sizes(op, { N, V });
  integer(op, 'ignoreIndex', ignoreIndex);
  arrays(op, sh, 'Int32Array', { labels: [labels, N] });
  arrays(op, sh, 'Float32Array', { dlogits: [dlogits, N * V], dloss: [dloss, N], logits: [logits, N * V] });
  device().stablemaxCeBackward(dlogits, dloss, logits, labels, N, V, ignoreIndex);
}

/** loss (N) = max(x,0) - x*t + log1p(exp(-|x|)). */
export function bceLogitsForward(loss: F32, logits: F32, targets: F32, N: number): void {
  const op = 'bceLogitsForward',
    sh = sizes(op, { N });
  arrays(op, sh, 'Float32Array', { loss: [loss, N], logits: [logits, N], targets: [targets, N] });
  device().bceLogitsForward(loss, logits, targets, N);
}

/** dlogits = dloss * (sigmoid(x) - t). */
export function bceLogitsBackward(dlogits: F32, dloss: F32, logits: F32, targets: F32, N: number): void {
  const op = 'bceLogitsBackward',
    sh = sizes(op, { N });
  arrays(op, sh, 'Float32Array', {
    dlogits: [dlogits, N],
    dloss: [dloss, N],
    logits: [logits, N],
    targets: [targets, N],
  });
  device().bceLogitsBackward(dlogits, dloss, logits, targets, N);
}

/** out (N) = first index of the max of each row of logits (N, V). */
export function argmax(out: I32, logits: F32, N: number, V: number): void {
  const op = 'argmax',
    sh = sizes(op, { N, V });
  if (N > 0 && V < 1) throw new ShapeError(`${op}: V must be at least 1 for N=${N} rows`);
  arrays(op, sh, 'Int32Array', { out: [out, N] });
  arrays(op, sh, 'Float32Array', { logits: [logits, N * V] });
  device().argmax(out, logits, N, V);
}

/** counts (2B) = [valid_b, correct_b]; seqCorrect (B) = 1 iff every valid token is correct. */
export function matchCounts(
  seqCorrect: U8,
  counts: I32,
  pred: I32,
  labels: I32,
  B: number,
  S: number,
  ignoreIndex: number,
): void {
  const op = 'matchCounts',
    sh = sizes(op, { B, S });
  integer(op, 'ignoreIndex', ignoreIndex);
  arrays(op, sh, 'Uint8Array', { seqCorrect: [seqCorrect, B] });
  arrays(op, sh, 'Int32Array', { counts: [counts, 2 * B], pred: [pred, B * S], labels: [labels, B * S] });
  device().matchCounts(seqCorrect, counts, pred, labels, B, S, ignoreIndex);
}

/** dtok[b, :] = w_b / max(1, valid_b), dbce[b] = 0.5 w_b, w_b = lossScale * (weights?.[b] ?? 1). */
export function lossGrad(
  dtok: F32,
  dbce: F32,
  counts: I32,
  weights: F32 | null,
  B: number,
  L: number,
  lossScale: number,
): void {
  const op = 'lossGrad',
    sh = sizes(op, { B, L });
  arrays(op, sh, 'Float32Array', {
    dtok: [dtok, B * L],
    dbce: [dbce, B],
    ...(weights ? { weights: [weights, B] } : {}),
  });
  arrays(op, sh, 'Int32Array', { counts: [counts, 2 * B] });
  device().lossGrad(dtok, dbce, counts, weights, B, L, lossScale);
}

// ---- attention helpers ---------------------------------------------------------------------

/** Row softmax: inp (N, V) -> out (N, V). */
export function softmaxForward(out: F32, inp: F32, N: number, V: number): void {
  const op = 'softmaxForward',
    sh = sizes(op, { N, V });
  arrays(op, sh, 'Float32Array', { out: [out, N * V], inp: [inp, N * V] });
  device().softmaxForward(out, inp, N, V);
}

/** dinp = out * (dout - sum(dout * out)) per row. */
export function softmaxBackward(dinp: F32, dout: F32, out: F32, N: number, V: number): void {
  const op = 'softmaxBackward',
    sh = sizes(op, { N, V });
  arrays(op, sh, 'Float32Array', { dinp: [dinp, N * V], dout: [dout, N * V], out: [out, N * V] });
  device().softmaxBackward(dinp, dout, out, N, V);
}

function ropeArgs(
  op: string,
  out: F32,
  inp: F32,
  cos: F32,
  sin: F32,
  B: number,
  S: number,
  H: number,
  Dh: number,
  names: [string, string],
): void {
  const sh = sizes(op, { B, S, H, Dh });
  if (Dh % 2 !== 0) throw new ShapeError(`${op}: Dh must be even for the rotate-half form, got ${Dh}`);
  const n = B * S * H * Dh;
  arrays(op, sh, 'Float32Array', {
    [names[0]]: [out, n],
    [names[1]]: [inp, n],
    cos: [cos, S * Dh],
    sin: [sin, S * Dh],
  });
}

/** Rotary embedding (rotate-half) of inp (B, S, H, Dh) into out; cos/sin (S, Dh). */
export function ropeForward(out: F32, inp: F32, cos: F32, sin: F32, B: number, S: number, H: number, Dh: number): void {
  ropeArgs('ropeForward', out, inp, cos, sin, B, S, H, Dh, ['out', 'inp']);
  device().ropeForward(out, inp, cos, sin, B, S, H, Dh);
}

/** dinp = R^T dout (may alias). */
export function ropeBackward(
  dinp: F32,
  dout: F32,
  cos: F32,
  sin: F32,
  B: number,
  S: number,
  H: number,
  Dh: number,
): void {
  ropeArgs('ropeBackward', dinp, dout, cos, sin, B, S, H, Dh, ['dinp', 'dout']);
  device().ropeBackward(dinp, dout, cos, sin, B, S, H, Dh);
}

// ---- optimizers ----------------------------------------------------------------------------

/** AdamATan2 (reference/trm-algorithm.md 7.2), in place; step t starts at 1. */
export function adamAtan2Step(
  param: F32,
  m: F32,
  v: F32,
  grad: F32,
  n: number,
  lr: number,
  beta1: number,
  beta2: number,
  wd: number,
  step: number,
): void {
  const op = 'adamAtan2Step',
    sh = sizes(op, { n });
  integer(op, 'step', step, 1);
  arrays(op, sh, 'Float32Array', { param: [param, n], m: [m, n], v: [v, n], grad: [grad, n] });
  device().adamAtan2Step(param, m, v, grad, n, lr, beta1, beta2, wd, step);
}

/** AdamW with decoupled decay, in place; step t starts at 1. */
export function adamwStep(
  param: F32,
  m: F32,
  v: F32,
  grad: F32,
  n: number,
  lr: number,
  beta1: number,
  beta2: number,
  eps: number,
  wd: number,
  step: number,
): void {
  const op = 'adamwStep',
    sh = sizes(op, { n });
  integer(op, 'step', step, 1);
  arrays(op, sh, 'Float32Array', { param: [param, n], m: [m, n], v: [v, n], grad: [grad, n] });
  device().adamwStep(param, m, v, grad, n, lr, beta1, beta2, eps, wd, step);
}

/** SignSGD with decoupled decay on rows[0:nRows] of a (., width) table (distinct rows). */
export function signSgdRows(
  param: F32,
  grad: F32,
  rows: I32,
  nRows: number,
  width: number,
  lr: number,
  wd: number,
): void {
  const op = 'signSgdRows',
    sh = sizes(op, { nRows, width });
  arrays(op, sh, 'Int32Array', { rows: [rows, nRows] });
  arrays(op, sh, 'Float32Array', { param: [param, width], grad: [grad, width] });
  if (sizeOf(param) !== sizeOf(grad))
    throw new ShapeError(`${op}: param has ${sizeOf(param)} elements, grad ${sizeOf(grad)}`);
  device().signSgdRows(param, grad, rows, nRows, width, lr, wd);
}

/** shadow = decay*shadow + (1 - decay)*param. */
export function emaUpdate(shadow: F32, param: F32, n: number, decay: number): void {
  const op = 'emaUpdate',
    sh = sizes(op, { n });
  arrays(op, sh, 'Float32Array', { shadow: [shadow, n], param: [param, n] });
  device().emaUpdate(shadow, param, n, decay);
}
