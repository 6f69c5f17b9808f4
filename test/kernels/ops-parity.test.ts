/**
 * Non-GEMM kernels, part 4: one table of calls covering every kernel (sizes above the threading
 * threshold) drives native-vs-ref agreement, 1 vs 2 native threads bit for bit, and the size
 * checks: each checked wrapper throws a ShapeError naming the kernel, and the addon itself
 * rejects a short buffer with a TypeError instead of reading past it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as K from '../../src/kernels/index.js';
import {
  addon,
  KERNEL_NAMES,
  nativeBackend,
  refBackend,
  setThreads,
  type KernelBackend,
} from '../../src/kernels/index.js';
import { type KernelCase, kernelCases } from '../../src/kernels/cases.js';
import { ShapeError } from '../../src/errors.js';
import { restoreBackend } from './ops-helpers.js';

type Case = KernelCase;
const IGNORE = -100;
const cases = kernelCases.filter(c => c.name !== 'gemm' && c.name !== 'gemmBf16'); // own suite: gemm.test.ts

/** Calls one kernel on fresh inputs; returns its outputs. */
function run(k: KernelBackend | Record<string, unknown>, c: Case): ArrayLike<number>[] {
  const a = c.args();
  (k[c.name] as (...x: unknown[]) => unknown).apply(k, a);
  return c.out.map(i => a[i] as ArrayLike<number>);
}

function bytes(x: ArrayLike<number>): Buffer {
  return ArrayBuffer.isView(x)
    ? Buffer.from(x.buffer, x.byteOffset, x.byteLength)
    : Buffer.from(Float64Array.from(x).buffer);
}

afterAll(restoreBackend);

describe('kernel coverage', () => {
  it('the table covers every non-GEMM kernel of the contract, and both backends provide each', () => {
    const kernels = [...KERNEL_NAMES].sort();
    expect(
      Object.keys(refBackend)
        .filter(k => k !== 'name')
        .sort(),
    ).toEqual(kernels);
    expect([...new Set(kernelCases.map(c => c.name))].sort()).toEqual(kernels);
    for (const k of kernels) {
      expect(typeof (refBackend as unknown as Record<string, unknown>)[k]).toBe('function');
      if (nativeBackend) expect(typeof (nativeBackend as unknown as Record<string, unknown>)[k]).toBe('function');
    }
  });
});

describe('the gradient rule', () => {
  // every backward kernel adds into the gradient it produces (kernels/backend.ts)
  const backward = cases.filter(c => c.name.endsWith('Backward') && !c.fresh);
  it.each(backward)('$name adds into its gradient output', c => {
    for (const k of [refBackend, ...(nativeBackend ? [nativeBackend] : [])]) {
      const plain = c.args(),
        base = c.args(),
        out = c.out[0];
      (plain[out] as Float32Array).fill(0);
      const start = Float32Array.from(base[out] as Float32Array, (_, i) => Math.sin(i));
      (base[out] as Float32Array).set(start);
      (k[c.name] as (...x: unknown[]) => void).apply(k, plain);
      (k[c.name] as (...x: unknown[]) => void).apply(k, base);
      const want = Array.from(plain[out] as Float32Array, (v, i) => v + start[i]);
      expect(base[out] as Float32Array).toBeAllclose(want, { rtol: 1e-5, atol: 1e-5 });
    }
  });
});

describe.runIf(nativeBackend)('native vs ref, and native threads', () => {
  const threads0 = addon?.info().threads ?? 1;
  afterAll(() => setThreads(threads0));

  it.each(cases)('$name: native agrees with ref', c => {
    const got = run(nativeBackend!, c),
      want = run(refBackend, c);
    for (let i = 0; i < got.length; i++)
      expect(got[i]).toBeAllclose(want[i], { rtol: c.rtol ?? 1e-5, atol: c.atol ?? 1e-6 });
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
  const args = c.args(),
    arg = args.findIndex(a => ArrayBuffer.isView(a));
  const a = args[arg] as Float32Array;
  args[arg] = new (a.constructor as Float32ArrayConstructor)(0);
  return { args, arg };
}

describe('size checks', () => {
  it.each(cases)('$name: the checked wrapper throws a ShapeError naming the kernel', c => {
    const { args } = shortArgs(c);
    const call = () => (K as unknown as Record<string, (...x: unknown[]) => unknown>)[c.name](...args);
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
    expect(() => addon!.add(new Float32Array(4), new Float32Array(4), new Int32Array(4) as never, 4)).toThrow(
      /add: argument 2 must be a Float32Array/,
    );
  });

  it('messages give the argument, the sizes and what they need', () => {
    const x = new Float32Array(10);
    expect(() => K.rmsnormForward(new Float32Array(12), new Float32Array(3), x, 3, 4, 1e-5)).toThrow(
      'rmsnormForward: inp has 10 elements, (N=3, D=4) needs 12',
    );
    expect(() => K.swigluForward(x, x, 2.5, 1)).toThrow(/swigluForward: N must be a non-negative integer, got 2.5/);
    expect(() => K.add(x, x, x, -1)).toThrow(/add: n must be a non-negative integer/);
    expect(() => K.embeddingForward(x, new Float32Array(2) as never, x, 2, 5, 2, 1)).toThrow(
      /embeddingForward: ids must be Int32Array, got Float32Array/,
    );
    expect(() =>
      K.matchCounts(new Int32Array(1) as never, new Int32Array(2), new Int32Array(3), new Int32Array(3), 1, 3, IGNORE),
    ).toThrow(/matchCounts: seqCorrect must be Uint8Array/);
    expect(() => K.ropeForward(x, x, x, x, 1, 1, 1, 3)).toThrow(/ropeForward: Dh must be even/);
    expect(() => K.argmax(new Int32Array(2), x, 2, 0)).toThrow(/argmax: V must be at least 1/);
    expect(() => K.adamAtan2Step(x, x, x, x, 10, 1e-3, 0.9, 0.95, 0.1, 0)).toThrow(
      /adamAtan2Step: step must be an integer >= 1, got 0/,
    );
  });

  it('empty sizes are fine', () => {
    const e = new Float32Array(0);
    K.rmsnormForward(e, e, e, 0, 512, 1e-5);
    K.swigluForward(e, e, 0, 7);
    K.copy2d(e, e, 0, 5, 5, 5);
    K.lossGrad(e, e, new Int32Array(0), null, 0, 81, 1);
  });
});
