/**
 * rng.ts: trm's one family of seeded random numbers. Philox-4x32-10 (Salmon, Moraes, Dror, Shaw,
 * "Parallel random numbers: as easy as 1, 2, 3", SC 2011; PyTorch's CUDA generator and one of
 * cuRAND's): a counter-based generator, i.e. a keyed bijection of a 128-bit counter, so
 * draw number i of a stream is a pure function of (key, i). It passes BigCrush, needs only 32-bit
 * integer math (the high half of a 32 x 32 product is built from 16-bit pieces, exact in JS and
 * the same in WGSL, which has no mulhi; C++ uses a 64-bit product), and keeps no hidden state
 * beyond the counter. Not cryptographic. Device-free: no Node imports.
 *
 * Addressing. The 64-bit key is (seed, stream); the 128-bit counter is (block lo, block hi, i, j)
 * where (i, j) names a sub-stream (`new Rng(seed, stream, i, j)`, the same as
 * `new Rng(seed, stream).substream(i, j)`; default (0, 0)) and the block index counts the draws:
 * block b yields draws 4b .. 4b+3 of that sub-stream. Generators with different (seed, stream, i, j)
 * never evaluate the same (key, counter) pair, so their sequences are independent; a device kernel
 * can compute draw n of any sub-stream directly with `philox4x32`.
 *
 * Stream layout: every consumer has its own `stream` id (STREAM below), so that no two
 * consumers of one seed ever draw the same numbers, and the loop counter it is keyed by is the
 * sub-stream, so results never depend on thread count, scheduling or what ran before:
 *
 *   consumer (file)                               seed                stream       sub-stream (i, j)
 *   ad-hoc / tests (new Rng(seed))                any                 0 test       (0, 0)
 *   weight init (model/params.ts initParams)      train seed          1 init       (0, 0)
 *   epoch order (train/data.ts TrainSampler)      train seed          2 data       (epoch, 0)
 *   ACT exploration (train/carry.ts updateHalting) train seed         3 halt       (step, 0)
 *   slot refills: N_sup caps, then carry inits    train seed          4 fill       (step t, 0)
 *     (train/recursion.ts fillRng)
 *   random n / T widths (train/recursion.ts)      train seed          5 depth      (step t, 0)
 *   evaluation chain inits (model/chain.ts)       eval seed           6 eval       (batch, chain)
 *   Sudoku generator chain (data/sudoku/generate) generate --seed     7 generate   (chain, 0)
 *   dataset build (data/sudoku/build.ts)          build --seed        8 build      (stage, 0):
 *     1 train subsample, 2 train augmentation, 3 test subsample, 4 test encode
 *   kernel-case inputs (kernels/cases.ts rand)    case input id       9 cases      (0, 0) values, (1, 0) ignore mask
 *   benchmark inputs (bench/gemm.ts)              operand id          10 bench     (0, 0)
 *   evaluation noise, PTRM (model/chain.ts)       eval seed           11 evalNoise (example, chain)
 *   EqR latent noise in training (model/damping.ts, train seed          12 eqrNoise  (step t, 0)
 *     set by train/loop.ts)
 *   EqR latent noise at test (model/carry.ts       eval seed           13 eqrEvalNoise (batch, chain):
 *     startCarry: the chain's init stream restreamed)                   the chain's sub-stream;
 *     eval grid passes (experiments/scaling.ts)                         (batch, first row of the pass);
 *     AAS passes (experiments/aas.ts)               0                   (0, 0), the same in every pass
 *
 * Draws: nextU32 is one 32-bit word; float() = u / 2^32 in [0, 1); int(n) is Lemire's
 * multiply-shift with rejection (exactly uniform); normal() is Box-Muller on two floats (one value
 * per call). Every method consumes a fixed, documented number of words except int(n)'s rare
 * rejections, so a C++ or WGSL twin reproduces a stream draw for draw.
 */

/** Stream ids of the consumers (see the layout above). */
export const STREAM = {
  test: 0,
  init: 1,
  data: 2,
  halt: 3,
  fill: 4,
  depth: 5,
  eval: 6,
  generate: 7,
  build: 8,
  cases: 9,
  bench: 10,
  evalNoise: 11,
  eqrNoise: 12,
  eqrEvalNoise: 13,
} as const;

const M0 = 0xd2511f53,
  M1 = 0xcd9e8d57,
  W0 = 0x9e3779b9,
  W1 = 0xbb67ae85;
const M0L = M0 & 0xffff,
  M0H = M0 >>> 16,
  M1L = M1 & 0xffff,
  M1H = M1 >>> 16;

/** High 32 bits of the 64-bit product a * (bh * 2^16 + bl) for uint32 a and 16-bit halves bh, bl
 *  (Hacker's Delight mulhu on 16-bit pieces: every partial product and sum stays below 2^32, so
 *  it is exact in JS and identical in WGSL's u32; C++ takes (uint64_t)a * b >> 32). */
function mulhi(a: number, bl: number, bh: number): number {
  const al = a & 0xffff,
    ah = a >>> 16;
  const t = ah * bl + ((al * bl) >>> 16);
  const w = (t & 0xffff) + al * bh;
  return (ah * bh + (t >>> 16) + (w >>> 16)) >>> 0;
}

/** One Philox-4x32-10 block: out = philox(ctr, key), all words unsigned 32-bit. */
export function philox4x32(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array,
): Uint32Array {
  let x0 = c0 >>> 0,
    x1 = c1 >>> 0,
    x2 = c2 >>> 0,
    x3 = c3 >>> 0,
    y0 = k0 >>> 0,
    y1 = k1 >>> 0;
  for (let r = 0; r < 10; r++) {
    const hi0 = mulhi(x0, M0L, M0H),
      lo0 = Math.imul(x0, M0) >>> 0;
    const hi1 = mulhi(x2, M1L, M1H),
      lo1 = Math.imul(x2, M1) >>> 0;
    x0 = (hi1 ^ x1 ^ y0) >>> 0;
    x1 = lo1;
    x2 = (hi0 ^ x3 ^ y1) >>> 0;
    x3 = lo0;
    y0 = (y0 + W0) >>> 0;
    y1 = (y1 + W1) >>> 0;
  }
  out[0] = x0;
  out[1] = x1;
  out[2] = x2;
  out[3] = x3;
  return out;
}

export class Rng {
  private readonly k0: number;
  private readonly k1: number;
  private readonly i: number;
  private readonly j: number;
  /** next block index (64-bit, lo/hi) */
  private lo = 0;
  private hi = 0;
  private readonly buf = new Uint32Array(4);
  private pos = 4;

  /** Sub-stream (i, j) of stream `stream` of seed `seed` (all taken as unsigned 32-bit integers). */
  constructor(seed: number, stream = 0, i = 0, j = 0) {
    this.k0 = seed >>> 0;
    this.k1 = stream >>> 0;
    this.i = i >>> 0;
    this.j = j >>> 0;
  }

  /** Sub-stream (i, j) of this generator's (seed, stream), from its first draw (addresses are
   *  absolute: a sub-stream's substream(i', j') is (seed, stream, i', j'), not nested). */
  substream(i: number, j = 0): Rng {
    return new Rng(this.k0, this.k1, i, j);
  }

  /** The same seed and sub-stream on another stream id, from its first draw. */
  restream(stream: number): Rng {
    return new Rng(this.k0, stream, this.i, this.j);
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    if (this.pos === 4) {
      philox4x32(this.lo, this.hi, this.i, this.j, this.k0, this.k1, this.buf);
      this.lo = (this.lo + 1) >>> 0;
      if (this.lo === 0) this.hi = (this.hi + 1) >>> 0;
      this.pos = 0;
    }
    return this.buf[this.pos++];
  }

  /** Uniform float in [0, 1) (one word, 32-bit resolution). */
  float(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n), 1 <= n <= 2^32 (Lemire's multiply-shift with rejection: exactly uniform). */
  int(n: number): number {
    if (!(n >= 1 && n <= 4294967296)) throw new RangeError(`Rng.int: n must be in [1, 2^32], got ${n}`);
    if (n === 4294967296) return this.nextU32();
    n >>>= 0;
    let u = this.nextU32(),
      low = Math.imul(u, n) >>> 0;
    if (low < n) {
      const t = (4294967296 - n) % n; // 2^32 mod n: the rejected low words
      while (low < t) {
        u = this.nextU32();
        low = Math.imul(u, n) >>> 0;
      }
    }
    return mulhiN(u, n);
  }

  /** Standard normal N(0, 1) (Box-Muller; one value per call, two words consumed). */
  normal(): number {
    const u = 1 - this.float(),
      v = this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** dst[i] = scale * N(0, 1), both Box-Muller outputs of each pair of floats used: dst[2k] =
   *  scale * r cos(2 pi v), dst[2k+1] = scale * r sin(2 pi v) with u, v the k-th pair of float()s and
   *  r = sqrt(-2 ln(1 - u)) (two words per two values; an odd last value consumes a pair). */
  fillNormal(dst: Float32Array, scale = 1): Float32Array {
    const n = dst.length;
    for (let i = 0; i < n; i += 2) {
      const u = 1 - this.float(),
        v = 2 * Math.PI * this.float(),
        r = scale * Math.sqrt(-2 * Math.log(u));
      dst[i] = r * Math.cos(v);
      if (i + 1 < n) dst[i + 1] = r * Math.sin(v);
    }
    return dst;
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T extends { length: number; [i: number]: any }>(arr: T): T {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = arr[i];
      arr[i] = arr[j];
      arr[j] = t;
    }
    return arr;
  }

  /** A uniformly random permutation of 0..n-1 (like numpy's permutation(n)). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }
}

/** High 32 bits of u * n for uint32 u, n. */
function mulhiN(u: number, n: number): number {
  return mulhi(u, n & 0xffff, n >>> 16);
}
