/**
 * gemm.ts: the checked entry to the matrix multiply, C = alpha*op(A)*op(B) + beta*C (row-major).
 * Leading dimensions default to the dense layout; batch strides default to one dense matrix per
 * item (strideC = 0 sums every item's product into one C). Sizes are validated here, so a wrong
 * shape is a ShapeError naming the operand, never an out-of-bounds read in C++. Device-free.
 */
import { ShapeError, TrmError } from '../errors.js';
import { sizes } from './checks.js';
import { type BF16T, device, dtypeOf, type F32T, isBf16, sizeOf } from './device.js';

type F32 = F32T;

export interface GemmCall {
  /** A and B may be bf16 tensors (device.ts BF16T) when the product runs in bf16 */
  A: F32 | BF16T;
  B: F32 | BF16T;
  C: F32;
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  beta?: number;
  lda?: number;
  ldb?: number;
  ldc?: number;
  strideA?: number;
  strideB?: number;
  strideC?: number;
  batch?: number;
  /** 'bf16': operands rounded to bfloat16, fp32 sums (the gemmBf16 kernel); default: the
   *  precision set by setGemmPrecision (fp32 unless a bf16 run set it). */
  precision?: Precision;
}

/** GEMM operand precision: 'fp32', or 'bf16' mixed precision (bf16 operands, fp32 sums and outputs). */
export type Precision = 'fp32' | 'bf16';
export const PRECISIONS: readonly Precision[] = ['fp32', 'bf16'];

let defaultPrecision: Precision = 'fp32';

/** The precision of every product that names none: the model's GEMMs (forward and backward) run
 *  in it, norms, losses, optimizer and EMA never see it (they stay fp32). Returns the previous one
 *  so a caller can restore it. */
export function setGemmPrecision(p: Precision): Precision {
  if (!PRECISIONS.includes(p)) throw new TrmError('TRM_BAD_ARG', `precision must be fp32 or bf16, got '${p}'`);
  const prev = defaultPrecision;
  defaultPrecision = p;
  return prev;
}

export function gemmPrecision(): Precision {
  return defaultPrecision;
}

/** Runs fn with the products in precision p, then restores the previous precision. */
export function withGemmPrecision<T>(p: Precision, fn: () => T): T {
  const prev = setGemmPrecision(p);
  try {
    return fn();
  } finally {
    setGemmPrecision(prev);
  }
}

/** Checks t is an fp32 (or bf16) tensor of at least `want` elements; shape() words the message (built
 *  only on failure: formatting it every call was most of this check's cost, ops.ts Shape). */
function need(op: string, name: string, t: F32 | BF16T, want: number, shape: () => string): void {
  if (dtypeOf(t) !== 'f32' && !isBf16(t))
    throw new ShapeError(
      `${op}: ${name} must be Float32Array, got ${(t as object | null)?.constructor?.name ?? String(t)}`,
    );
  const have = isBf16(t) ? t.length : sizeOf(t);
  if (have < want) throw new ShapeError(`${op}: ${name} has ${have} elements, ${shape()} needs ${want}`);
}

export function gemm(c: GemmCall): void {
  const op = 'gemm';
  const ta = c.transA ?? false,
    tb = c.transB ?? false;
  const { M, N, K } = c;
  const batch = c.batch ?? 1;
  const lda = c.lda ?? (ta ? M : K),
    ldb = c.ldb ?? (tb ? K : N),
    ldc = c.ldc ?? N;
  const strideA = c.strideA ?? (batch > 1 ? M * K : 0);
  const strideB = c.strideB ?? (batch > 1 ? K * N : 0);
  const strideC = c.strideC ?? (batch > 1 ? M * N : 0);
  sizes(op, { M, N, K, lda, ldb, ldc, strideA, strideB, strideC, batch });
  if (lda < (ta ? M : K)) throw new ShapeError(`${op}: lda ${lda} < ${ta ? 'M' : 'K'} = ${ta ? M : K} (transA=${ta})`);
  if (ldb < (tb ? K : N)) throw new ShapeError(`${op}: ldb ${ldb} < ${tb ? 'K' : 'N'} = ${tb ? K : N} (transB=${tb})`);
  if (ldc < N) throw new ShapeError(`${op}: ldc ${ldc} < N = ${N}`);
  const dims = () => `M=${M} N=${N} K=${K} batch=${batch}`;
  if (M > 0 && N > 0 && batch > 0) {
    const rowsA = ta ? K : M,
      colsA = ta ? M : K,
      rowsB = tb ? N : K,
      colsB = tb ? K : N;
    if (K > 0) {
      need(
        op,
        'A',
        c.A,
        (batch - 1) * strideA + (rowsA - 1) * lda + colsA,
        () => `op(A) ${M}x${K} (transA=${ta}, lda=${lda}, ${dims()})`,
      );
      need(
        op,
        'B',
        c.B,
        (batch - 1) * strideB + (rowsB - 1) * ldb + colsB,
        () => `op(B) ${K}x${N} (transB=${tb}, ldb=${ldb}, ${dims()})`,
      );
    }
    need(op, 'C', c.C, (batch - 1) * strideC + (M - 1) * ldc + N, () => `C ${M}x${N} (ldc=${ldc}, ${dims()})`);
  }
  const d = device(),
    bf16 = (c.precision ?? defaultPrecision) === 'bf16';
  if (isBf16(c.A) || isBf16(c.B)) {
    const which = isBf16(c.A) ? 'A' : 'B';
    if (!bf16) throw new TrmError('TRM_BAD_ARG', `${op}: a bf16 operand (${which}) needs precision bf16`);
    if (!d.bf16)
      throw new TrmError('TRM_BAD_ARG', `${op}: the ${d.name} device keeps no bf16 tensors (operand ${which})`);
  }
  bf16
    ? d.gemmBf16(
        ta,
        tb,
        M,
        N,
        K,
        c.alpha ?? 1,
        c.A,
        lda,
        strideA,
        c.B,
        ldb,
        strideB,
        c.beta ?? 0,
        c.C,
        ldc,
        strideC,
        batch,
      )
    : d.gemm(
        ta,
        tb,
        M,
        N,
        K,
        c.alpha ?? 1,
        c.A as F32,
        lda,
        strideA,
        c.B as F32,
        ldb,
        strideB,
        c.beta ?? 0,
        c.C,
        ldc,
        strideC,
        batch,
      );
}
