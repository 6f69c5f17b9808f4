/**
 * Non-GEMM kernels, part 4: one table of calls covering every kernel (sizes above the threading
 * threshold) drives native-vs-ref agreement, 1 vs 2 native threads bit for bit, and the size
 * checks: each checked wrapper throws a ShapeError naming the kernel, and the addon itself
 * rejects a short buffer with a TypeError instead of reading past it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as K from '../../src/kernels/index.js';
import { addon, nativeBackend, refBackend, setThreads, type KernelBackend } from '../../src/kernels/index.js';
import { ShapeError } from '../../src/errors.js';
import { randn, rng } from '../helpers.js';
import { randInts, restoreBackend } from './ops-helpers.js';

type Kernel = Exclude<keyof KernelBackend, 'name' | 'gemm'>;
interface Case { name: Kernel; args: () => unknown[]; out: number[]; rtol?: number; atol?: number }

const IGNORE = -100;
const pos = (n: number, seed: number) => randn(n, seed).map(Math.abs);
function saved(fwd: (k: KernelBackend) => void): void { fwd(refBackend); }  // saved activations for a backward

const n = 100_003;
const cases: Case[] = [
  { name: 'add', args: () => [new Float32Array(n), randn(n, 1), randn(n, 2), n], out: [0] },
  { name: 'add3', args: () => [new Float32Array(n), randn(n, 1), randn(n, 2), randn(n, 3), n], out: [0] },
  { name: 'axpby', args: () => [new Float32Array(n), randn(n, 1), randn(n, 2), 0.3, -1.1, n], out: [0] },
  { name: 'scale', args: () => [new Float32Array(n), randn(n, 1), 0.7, n], out: [0] },
  // magnitudes spread over 2^-20..2^20 so float64 partial sums actually round (order shows in the bits)
  { name: 'sum', args: () => [randn(1_000_003, 4).map((v, i) => v * 2 ** ((i * 7919) % 41 - 20)), 1_000_003], out: [], rtol: 1e-12, atol: 1e-6 },
  { name: 'rmsnormForward', args: () => [new Float32Array(301 * 512), new Float32Array(301), randn(301 * 512, 5), 301, 512, 1e-5], out: [0, 1] },
  {
    name: 'rmsnormBackward', out: [0], args: () => {
      const [N, D] = [301, 512], out = new Float32Array(N * D), rstd = new Float32Array(N);
      saved(k => k.rmsnormForward(out, rstd, randn(N * D, 5), N, D, 1e-5));
      return [new Float32Array(N * D), randn(N * D, 6), out, rstd, N, D];
    },
  },
  { name: 'rmsnormSeqForward', args: () => [new Float32Array(5 * 97 * 300), new Float32Array(5 * 300), randn(5 * 97 * 300, 7), 5, 97, 300, 1e-5], out: [0, 1] },
  {
    name: 'rmsnormSeqBackward', out: [0], args: () => {
      const [B, S, D] = [5, 97, 300], out = new Float32Array(B * S * D), rstd = new Float32Array(B * D);
      saved(k => k.rmsnormSeqForward(out, rstd, randn(B * S * D, 7), B, S, D, 1e-5));
      return [new Float32Array(B * S * D), randn(B * S * D, 8), out, rstd, B, S, D];
    },
  },
  { name: 'swigluForward', args: () => [new Float32Array(200 * 301), randn(400 * 301, 9, 4), 200, 301], out: [0] },
  { name: 'swigluBackward', args: () => [new Float32Array(400 * 301), randn(200 * 301, 10), randn(400 * 301, 9, 4), 200, 301], out: [0] },
  { name: 'embeddingForward', args: () => [new Float32Array(2000 * 96), randInts(2000, 7, rng(11)), randn(7 * 96, 12), 2000, 96, 7, 22.6], out: [0] },
  { name: 'embeddingBackward', args: () => [randn(7 * 96, 13), randn(2000 * 96, 14), randInts(2000, 7, rng(11)), 2000, 96, 7, 0.5], out: [0] },
  { name: 'stablemaxCeForward', args: () => [new Float32Array(3000), randn(3000 * 11, 15, 8), randInts(3000, 11, rng(16), IGNORE, 0.2), 3000, 11, IGNORE], out: [0] },
  {
    name: 'stablemaxCeBackward', out: [0],
    args: () => [new Float32Array(3000 * 11), randn(3000, 17), randn(3000 * 11, 15, 8), randInts(3000, 11, rng(16), IGNORE, 0.2), 3000, 11, IGNORE],
  },
  { name: 'bceLogitsForward', args: () => [new Float32Array(20011), randn(20011, 18, 20), pos(20011, 19), 20011], out: [0] },
  { name: 'bceLogitsBackward', args: () => [new Float32Array(20011), randn(20011, 20), randn(20011, 18, 20), pos(20011, 19), 20011], out: [0] },
  { name: 'argmax', args: () => [new Int32Array(3000), randn(3000 * 11, 21).map(v => Math.round(v * 3)), 3000, 11], out: [0], rtol: 0, atol: 0 },
  {
    name: 'matchCounts', out: [0, 1], rtol: 0, atol: 0,
    args: () => [new Uint8Array(300), new Int32Array(600), randInts(300 * 97, 2, rng(22)), randInts(300 * 97, 2, rng(23), IGNORE, 0.95), 300, 97, IGNORE],
  },
  { name: 'softmaxForward', args: () => [new Float32Array(400 * 97), randn(400 * 97, 24, 10), 400, 97], out: [0] },
  {
    name: 'softmaxBackward', out: [0], args: () => {
      const out = new Float32Array(400 * 97);
      saved(k => k.softmaxForward(out, randn(400 * 97, 24, 10), 400, 97));
      return [new Float32Array(400 * 97), randn(400 * 97, 25), out, 400, 97];
    },
  },
  { name: 'ropeForward', args: () => [new Float32Array(2 * 97 * 8 * 64), randn(2 * 97 * 8 * 64, 26), randn(97 * 64, 27), randn(97 * 64, 28), 2, 97, 8, 64], out: [0] },
  { name: 'ropeBackward', args: () => [new Float32Array(2 * 97 * 8 * 64), randn(2 * 97 * 8 * 64, 29), randn(97 * 64, 27), randn(97 * 64, 28), 2, 97, 8, 64], out: [0] },
  { name: 'adamAtan2Step', args: () => [randn(n, 30), randn(n, 31, 0.1), pos(n, 32), randn(n, 33), n, 1e-3, 0.9, 0.95, 1.0, 3], out: [0, 1, 2] },
  { name: 'adamwStep', args: () => [randn(n, 30), randn(n, 31, 0.1), pos(n, 32), randn(n, 33), n, 1e-3, 0.9, 0.95, 1e-8, 1.0, 3], out: [0, 1, 2] },
  { name: 'signSgdStep', args: () => [randn(n, 34), randn(n, 35).map(v => Math.round(v)), n, 1e-2, 0.1], out: [0] },
  { name: 'emaUpdate', args: () => [randn(n, 36), randn(n, 37), n, 0.999], out: [0] },
];

/** Calls one kernel on fresh inputs; returns its outputs (and the return value of sum). */
function run(k: KernelBackend | Record<string, unknown>, c: Case): ArrayLike<number>[] {
  const a = c.args();
  const ret = (k[c.name] as (...x: unknown[]) => unknown)(...a);
  return [...c.out.map(i => a[i] as ArrayLike<number>), ...(typeof ret === 'number' ? [[ret]] : [])];
}

function bytes(x: ArrayLike<number>): Buffer {
  return ArrayBuffer.isView(x) ? Buffer.from(x.buffer, x.byteOffset, x.byteLength) : Buffer.from(Float64Array.from(x).buffer);
}

afterAll(restoreBackend);

describe('kernel coverage', () => {
  it('the table covers every non-GEMM kernel of the contract, and both backends provide each', () => {
    const kernels = Object.keys(refBackend).filter(k => k !== 'name' && k !== 'gemm').sort();
    expect(cases.map(c => c.name).sort()).toEqual(kernels);
    for (const k of kernels) {
      expect(typeof (refBackend as unknown as Record<string, unknown>)[k]).toBe('function');
      if (nativeBackend) expect(typeof (nativeBackend as unknown as Record<string, unknown>)[k]).toBe('function');
    }
  });
});

describe.runIf(nativeBackend)('native vs ref, and native threads', () => {
  const threads0 = addon?.info().threads ?? 1;
  afterAll(() => setThreads(threads0));

  it.each(cases)('$name: native agrees with ref', c => {
    const got = run(nativeBackend!, c), want = run(refBackend, c);
    for (let i = 0; i < got.length; i++) expect(got[i]).toBeAllclose(want[i], { rtol: c.rtol ?? 1e-5, atol: c.atol ?? 1e-6 });
  });

  it.each(cases)('$name: 1 and 2 threads give bitwise the same outputs', c => {
    setThreads(1);
    const one = run(nativeBackend!, c);
    setThreads(2);
    const two = run(nativeBackend!, c);
    setThreads(threads0);
    for (let i = 0; i < one.length; i++) expect(Buffer.compare(bytes(one[i]), bytes(two[i]))).toBe(0);
  });
});

/** The call with its first array argument replaced by an empty array of the same type. */
function shortArgs(c: Case): { args: unknown[]; arg: number } {
  const args = c.args(), arg = args.findIndex(a => ArrayBuffer.isView(a));
  const a = args[arg] as Float32Array;
  args[arg] = new (a.constructor as Float32ArrayConstructor)(0);
  return { args, arg };
}

describe('size checks', () => {
  it.each(cases)('$name: the checked wrapper throws a ShapeError naming the kernel', c => {
    const { args } = shortArgs(c);
    const call = () => (K[c.name] as (...x: unknown[]) => unknown)(...args);
    expect(call).toThrow(ShapeError);
    expect(call).toThrow(new RegExp(`^${c.name}: \\w+ has 0 elements, \\(.*\\) needs \\d+$`));
  });

  it.runIf(addon)('every addon kernel rejects a short buffer and a wrong argument count with a TypeError', () => {
    for (const c of cases) {
      const { args } = shortArgs(c);
      const fn = (addon as unknown as Record<string, (...x: unknown[]) => unknown>)[c.name];
      expect(() => fn(...args)).toThrow(TypeError);
      expect(() => fn(...args)).toThrow(new RegExp(`^${c.name}: \\w+ has 0 elements, needs \\d+$`));
      expect(() => fn(...args.slice(0, -1))).toThrow(new RegExp(`^${c.name}: expected ${args.length} arguments`));
    }
    expect(() => addon!.add(new Float32Array(4), new Float32Array(4), new Int32Array(4) as never, 4)).toThrow(/add: argument 2 must be a Float32Array/);
  });

  it('messages give the argument, the sizes and what they need', () => {
    const x = new Float32Array(10);
    expect(() => K.rmsnormForward(new Float32Array(12), new Float32Array(3), x, 3, 4, 1e-5)).toThrow('rmsnormForward: inp has 10 elements, (N=3, D=4) needs 12');
    expect(() => K.swigluForward(x, x, 2.5, 1)).toThrow(/swigluForward: N must be a non-negative integer, got 2.5/);
    expect(() => K.add(x, x, x, -1)).toThrow(/add: n must be a non-negative integer/);
    expect(() => K.embeddingForward(x, new Float32Array(2) as never, x, 2, 5, 2, 1)).toThrow(/embeddingForward: ids must be Int32Array, got Float32Array/);
    expect(() => K.matchCounts(new Int32Array(1) as never, new Int32Array(2), new Int32Array(3), new Int32Array(3), 1, 3, IGNORE)).toThrow(/matchCounts: seqCorrect must be Uint8Array/);
    expect(() => K.ropeForward(x, x, x, x, 1, 1, 1, 3)).toThrow(/ropeForward: Dh must be even/);
    expect(() => K.argmax(new Int32Array(2), x, 2, 0)).toThrow(/argmax: V must be at least 1/);
    expect(() => K.adamAtan2Step(x, x, x, x, 10, 1e-3, 0.9, 0.95, 0.1, 0)).toThrow(/adamAtan2Step: step must be an integer >= 1, got 0/);
  });

  it('empty sizes are fine', () => {
    const e = new Float32Array(0);
    K.rmsnormForward(e, e, e, 0, 512, 1e-5);
    K.swigluForward(e, e, 0, 7);
    expect(K.sum(e, 0)).toBe(0);
  });
});
