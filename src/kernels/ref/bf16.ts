/**
 * ref/bf16.ts: bf16 tensors (device.ts BF16T: Uint16Array of bfloat16 bits) in the reference
 * kernels. The kernels that take one (backend.ts KernelBackend's H) widen it to fp32 (exact) before
 * they read it, and compute what they store in one into fp32 first, then round it (roundBf16: the
 * rounding gemmBf16 applies to its operands), so a bf16 tensor holds exactly the values the bf16
 * products would have read from the fp32 one.
 */
import type { KernelBackend } from '../backend.js';
import { roundBf16 } from './gemm.js';

type F = Float32Array;
type T = Float32Array | Uint16Array;

const f32 = new Float32Array(1),
  u32 = new Uint32Array(f32.buffer);

/** The fp32 values of a bf16 tensor (a copy), or the fp32 tensor itself. */
export function widen(t: T): F {
  if (t instanceof Float32Array) return t;
  const out = new Float32Array(t.length),
    bits = new Uint32Array(out.buffer);
  for (let i = 0; i < t.length; i++) bits[i] = t[i] << 16;
  return out;
}

/** dst[i] = the bf16 bits of src[i] rounded (roundBf16). */
export function narrowInto(dst: Uint16Array, src: F): void {
  for (let i = 0; i < dst.length; i++) {
    f32[0] = roundBf16(src[i]);
    dst[i] = u32[0] >>> 16;
  }
}

type B = KernelBackend;

/** The five kernels that take bf16 tensors, over their fp32-only reference implementations. */
export function withBf16Tensors(
  k: Pick<B, 'gemmBf16' | 'gemmSwiglu' | 'linearSwiglu' | 'linearSwigluBackward' | 'gemmSwigluBackward'>,
) {
  const gemmBf16: B['gemmBf16'] = (ta, tb, M, N, K, alpha, A, lda, sA, Bm, ldb, sB, beta, C, ldc, sC, batch) =>
    k.gemmBf16(ta, tb, M, N, K, alpha, widen(A), lda, sA, widen(Bm), ldb, sB, beta, C, ldc, sC, batch);
  const gemmSwiglu: B['gemmSwiglu'] = (out, gateUp, inp, w, H, N, K, batch, bf16) => {
    if (out instanceof Float32Array && !(gateUp instanceof Uint16Array))
      return k.gemmSwiglu(out, gateUp, inp, w, H, N, K, batch, bf16);
    const o = new Float32Array(out.length),
      g = gateUp ? new Float32Array(gateUp.length) : null;
    k.gemmSwiglu(o, g, inp, w, H, N, K, batch, bf16);
    narrowInto(out as Uint16Array, o);
    if (gateUp && g) narrowInto(gateUp as Uint16Array, g);
  };
  const linearSwiglu: B['linearSwiglu'] = (out, gateUp, inp, w, N, D, I, keep, bf16) => {
    if (out instanceof Float32Array && gateUp instanceof Float32Array)
      return k.linearSwiglu(out, gateUp, inp, w, N, D, I, keep, bf16);
    const o = new Float32Array(out.length),
      g = new Float32Array(gateUp.length);
    k.linearSwiglu(o, g, inp, w, N, D, I, keep, bf16);
    narrowInto(out as Uint16Array, o);
    if (keep) narrowInto(gateUp as Uint16Array, g);
  };
  // a bf16 dgateUp (fresh only): computed in fp32 from 0, then rounded into it
  const linearSwigluBackward: B['linearSwigluBackward'] = (dgu, dh, dout, gateUp, ...rest) => {
    const d = dgu instanceof Float32Array ? dgu : new Float32Array(dgu.length);
    k.linearSwigluBackward(d, dh, dout, widen(gateUp), ...rest);
    if (d !== dgu) narrowInto(dgu as Uint16Array, d);
  };
  const gemmSwigluBackward: B['gemmSwigluBackward'] = (dgu, dh, dout, gateUp, ...rest) => {
    const d = dgu instanceof Float32Array ? dgu : new Float32Array(dgu.length);
    k.gemmSwigluBackward(d, dh, dout, widen(gateUp), ...rest);
    if (d !== dgu) narrowInto(dgu as Uint16Array, d);
  };
  return { gemmBf16, gemmSwiglu, linearSwiglu, linearSwigluBackward, gemmSwigluBackward };
}
