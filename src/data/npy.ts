/**
 * npy.ts: NumPy .npy files, format version 1.0, little-endian, C order: what numpy.save writes
 * and the official dataset builders produce. The writer reproduces numpy's bytes exactly: header
 * dict with sorted keys, 21 - len(str(shape[0])) spare spaces (numpy's GROWTH_AXIS_MAX_DIGITS,
 * numpy >= 1.23), then space padding and '\n' so the preamble is a multiple of 64 bytes.
 * The reader accepts |u1, |i1, <i4, <u4, <i8, <f4, <f8 (and '<' / '|' spellings of 1-byte types),
 * versions 1.0-3.0, and rejects Fortran order and big-endian data.
 */
import { open, readFile } from 'node:fs/promises';
import { TrmError } from '../errors.js';
import { requireFile } from './files.js';

export type NpyDtype = '|u1' | '|i1' | '<i4' | '<u4' | '<i8' | '<f4' | '<f8';
export type NpyData = Uint8Array | Int8Array | Int32Array | Uint32Array | BigInt64Array | Float32Array | Float64Array;

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  data: NpyData; // C order, length = product(shape)
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const DTYPES: Record<NpyDtype, { bytes: number; make: (b: ArrayBuffer, off: number, len: number) => NpyData }> = {
  '|u1': { bytes: 1, make: (b, o, n) => new Uint8Array(b, o, n) },
  '|i1': { bytes: 1, make: (b, o, n) => new Int8Array(b, o, n) },
  '<i4': { bytes: 4, make: (b, o, n) => new Int32Array(b, o, n) },
  '<u4': { bytes: 4, make: (b, o, n) => new Uint32Array(b, o, n) },
  '<i8': { bytes: 8, make: (b, o, n) => new BigInt64Array(b, o, n) },
  '<f4': { bytes: 4, make: (b, o, n) => new Float32Array(b, o, n) },
  '<f8': { bytes: 8, make: (b, o, n) => new Float64Array(b, o, n) },
};
const ALIASES: Record<string, NpyDtype> = { '<u1': '|u1', '<i1': '|i1', '|b1': '|u1' };

export function dtypeOf(data: NpyData): NpyDtype {
  if (data instanceof Uint8Array) return '|u1';
  if (data instanceof Int8Array) return '|i1';
  if (data instanceof Int32Array) return '<i4';
  if (data instanceof Uint32Array) return '<u4';
  if (data instanceof BigInt64Array) return '<i8';
  if (data instanceof Float32Array) return '<f4';
  return '<f8';
}

/** The preamble numpy.save writes for this dtype and shape (magic, version, length, padded dict). */
export function npyHeader(dtype: NpyDtype, shape: number[]): Buffer {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  if (shape.length > 0) dict += ' '.repeat(21 - String(shape[0]).length);
  const pad = 64 - ((10 + dict.length + 1) % 64); // numpy pads a full 64 when already aligned
  dict += ' '.repeat(pad) + '\n';
  if (dict.length > 0xffff) throw new TrmError('TRM_NPY', 'npy header longer than 65535 bytes (needs format 2.0)');
  const head = Buffer.alloc(10);
  head.set(MAGIC, 0);
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(dict.length, 8);
  return Buffer.concat([head, Buffer.from(dict, 'latin1')]);
}

function checkShape(arr: NpyArray): void {
  const n = arr.shape.reduce((a, b) => a * b, 1);
  if (n !== arr.data.length)
    throw new TrmError(
      'TRM_NPY',
      `npy: shape (${arr.shape.join(', ')}) holds ${n} values, data has ${arr.data.length}`,
    );
}

/** The bytes of a .npy file (assumes a little-endian host, as every supported platform is). */
export function encodeNpy(arr: NpyArray): Buffer {
  checkShape(arr);
  const body = Buffer.from(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength);
  return Buffer.concat([npyHeader(arr.dtype, arr.shape), body]);
}

/** Write a .npy file, streaming the data after the header (no copy of large arrays). */
export async function writeNpy(path: string, arr: NpyArray): Promise<void> {
  checkShape(arr);
  const fh = await open(path, 'w');
  try {
    await fh.write(npyHeader(arr.dtype, arr.shape));
    const body = new Uint8Array(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength);
    for (let off = 0; off < body.length; off += 1 << 24) await fh.write(body.subarray(off, off + (1 << 24)));
  } finally {
    await fh.close();
  }
}

/** Parse .npy bytes; `name` appears in errors. The data is a view of `buf` when aligned, else a copy. */
export function decodeNpy(buf: Uint8Array, name = 'npy'): NpyArray {
  const bad = (why: string) => new TrmError('TRM_NPY', `${name}: ${why}`);
  if (buf.length < 10 || MAGIC.some((m, i) => buf[i] !== m)) throw bad('not a .npy file (bad magic bytes)');
  const major = buf[6];
  if (major < 1 || major > 3) throw bad(`unsupported .npy format version ${major}.${buf[7]}`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  if (start + hlen > buf.length) throw bad('truncated header');
  const header = Buffer.from(buf.buffer, buf.byteOffset + start, hlen).toString(major === 3 ? 'utf8' : 'latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw bad(`cannot parse header ${JSON.stringify(header.trim())}`);
  if (fortran === 'True') throw bad('Fortran-order arrays are not supported (save with np.ascontiguousarray)');
  const dtype = (ALIASES[descr] ?? descr) as NpyDtype;
  if (!(dtype in DTYPES)) throw bad(`unsupported dtype '${descr}' (supported: ${Object.keys(DTYPES).join(', ')})`);
  const shape = shapeText
    .split(',')
    .map(s => s.trim())
    .filter(s => s !== '')
    .map(Number);
  if (shape.some(d => !Number.isInteger(d) || d < 0)) throw bad(`bad shape (${shapeText})`);
  const count = shape.reduce((a, b) => a * b, 1),
    { bytes, make } = DTYPES[dtype];
  const off = start + hlen;
  if (buf.length - off < count * bytes)
    throw bad(`truncated data: shape (${shape.join(', ')}) needs ${count * bytes} bytes, file has ${buf.length - off}`);
  const abs = buf.byteOffset + off;
  const data =
    abs % bytes === 0
      ? make(buf.buffer as ArrayBuffer, abs, count)
      : make(buf.slice(off, off + count * bytes).buffer as ArrayBuffer, 0, count);
  return { dtype, shape, data };
}

export async function readNpy(path: string): Promise<NpyArray> {
  await requireFile(path);
  return decodeNpy(await readFile(path), path);
}
