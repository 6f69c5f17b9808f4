/**
 * rng.ts: the seeded random numbers of the data layer. sfc32 (Chris Doty-Humphrey's Small Fast
 * Chaotic generator, 128-bit state) seeded by splitmix32 from (seed, stream), so that independent
 * streams, e.g. one per generator chain or one per builder stage, come from a single user seed
 * and never depend on thread count or scheduling. Not cryptographic.
 */

/** splitmix32 step: a well-mixed 32-bit value from a 32-bit counter. */
function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) >>> 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** A generator for stream `stream` of seed `seed` (both taken as unsigned 32-bit integers). */
  constructor(seed: number, stream = 0) {
    const s0 = splitmix32(seed >>> 0), s1 = splitmix32((s0 ^ Math.imul(stream >>> 0, 0x632be5ab)) >>> 0);
    this.a = s0; this.b = s1; this.c = splitmix32(s1); this.d = 1;
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform float in [0, 1). */
  float(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n), n <= 2^32 (multiply-shift; bias below 2^-32 · n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** Standard normal N(0, 1) (Box-Muller; one value per call, two uniforms consumed). */
  normal(): number {
    const u = 1 - this.float(), v = this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T extends { length: number; [i: number]: any }>(arr: T): T {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = arr[i]; arr[i] = arr[j]; arr[j] = t;
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
