import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeNpy, encodeNpy, readNpy, writeNpy, type NpyArray } from '../../src/data/npy.js';
import { FIXTURES, tempDir } from './helpers.js';

// The arrays tools/make_npy_fixture.py saves with numpy.
const expected: Record<string, NpyArray> = {
  u1_3x81: { dtype: '|u1', shape: [3, 81], data: Uint8Array.from({ length: 243 }, (_, i) => i % 11) },
  u1_0x81: { dtype: '|u1', shape: [0, 81], data: new Uint8Array(0) },
  i4_5: { dtype: '<i4', shape: [5], data: Int32Array.from([0, 1, 2, 3, -7]) },
  i4_1001: { dtype: '<i4', shape: [1001], data: Int32Array.from({ length: 1001 }, (_, i) => i * 1001) },
  i8_4: { dtype: '<i8', shape: [4], data: BigInt64Array.from([0n, 1001n, 2002n, 2n ** 40n]) },
  f4_2x3: { dtype: '<f4', shape: [2, 3], data: Float32Array.from([0.5, -1.25, 3.0, 1e-3, 2.0, -0.0]) },
};

describe('npy', () => {
  const dir = join(FIXTURES, 'npy');
  it('has a fixture for each expected array', () => {
    expect(readdirSync(dir).sort()).toEqual(
      Object.keys(expected)
        .map(k => `${k}.npy`)
        .sort(),
    );
  });

  it.each(Object.keys(expected))("reads numpy's %s and writes the same bytes", async name => {
    const want = expected[name];
    const got = await readNpy(join(dir, `${name}.npy`));
    expect(got.dtype).toBe(want.dtype);
    expect(got.shape).toEqual(want.shape);
    expect(Array.from(got.data as ArrayLike<number | bigint>)).toEqual(
      Array.from(want.data as ArrayLike<number | bigint>),
    );
    expect(encodeNpy(want).equals(readFileSync(join(dir, `${name}.npy`)))).toBe(true);
  });

  it('round-trips through a file, including headers that need a second 64-byte block', async () => {
    const tmp = tempDir();
    for (const shape of [[7], [2, 3, 4], [123456789, 0], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const arr: NpyArray = { dtype: '<i4', shape, data: Int32Array.from({ length: n }, (_, i) => i * 3 - 5) };
      await writeNpy(join(tmp, 'a.npy'), arr);
      const bytes = readFileSync(join(tmp, 'a.npy'));
      expect((bytes.readUInt16LE(8) + 10) % 64).toBe(0);
      const back = decodeNpy(bytes);
      expect(back.shape).toEqual(shape);
      expect(Array.from(back.data as Int32Array)).toEqual(Array.from(arr.data as Int32Array));
    }
  });

  it('reads misaligned buffers by copying', () => {
    const bytes = encodeNpy(expected.i4_5),
      shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    expect(Array.from(decodeNpy(shifted.subarray(1)).data as Int32Array)).toEqual([0, 1, 2, 3, -7]);
  });

  it('rejects what it cannot read, naming the file', () => {
    const good = encodeNpy(expected.i4_5);
    expect(() => decodeNpy(Buffer.from('hello world'), 'x.npy')).toThrow(/x\.npy: not a \.npy file/);
    const fortran = Buffer.from(
      good.toString('latin1').replace("'fortran_order': False", "'fortran_order': True "),
      'latin1',
    );
    expect(() => decodeNpy(fortran, 'f.npy')).toThrow(/Fortran-order/);
    const big = Buffer.from(good.toString('latin1').replace("'<i4'", "'>i4'"), 'latin1');
    expect(() => decodeNpy(big, 'b.npy')).toThrow(/unsupported dtype '>i4'/);
    expect(() => decodeNpy(good.subarray(0, good.length - 1), 't.npy')).toThrow(/truncated data/);
  });
});
