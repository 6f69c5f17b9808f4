/**
 * safetensors.ts: read and write the safetensors format (huggingface/safetensors): an 8-byte
 * little-endian header length, a JSON header {name: {dtype, shape, data_offsets}, __metadata__},
 * then the raw little-endian tensor bytes. Reads F32, F64, F16, BF16 (widened to float32 on
 * request), I64, I32, I16, I8, U8, BOOL; writes F32, I32, U8 (and BF16 on request). Every error
 * names the file and the tensor.
 */
import { closeSync, openSync, readFileSync, readSync, renameSync, writeFileSync } from 'node:fs';
import { TrmError } from '../errors.js';

export type Dtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';
const itemSize: Record<Dtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export type TensorData = Float32Array | Float64Array | Int32Array | Uint8Array | Int8Array | Int16Array | Uint16Array | BigInt64Array;

export interface Tensor {
  dtype: Dtype;
  shape: number[];
  /** F32/F64/I32/I16/I8/U8/BOOL: the matching typed array; BF16/F16: raw Uint16Array bits; I64: BigInt64Array */
  data: TensorData;
}

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

function fail(where: string, msg: string, hint?: string): never {
  throw new TrmError('TRM_BAD_SAFETENSORS', `${where}: ${msg}${hint ? `\n---> HINT: ${hint}` : ''}`);
}

function copyTyped(bytes: Uint8Array, off: number, dtype: Dtype, count: number): TensorData {
  const slice = Uint8Array.prototype.slice.call(bytes, off, off + count * itemSize[dtype]);   // an aligned copy (Buffer.slice would be a view)
  const b = slice.buffer;
  switch (dtype) {
    case 'F32': return new Float32Array(b);
    case 'F64': return new Float64Array(b);
    case 'I32': return new Int32Array(b);
    case 'I16': return new Int16Array(b);
    case 'I8': return new Int8Array(b);
    case 'U8': case 'BOOL': return new Uint8Array(b);
    case 'F16': case 'BF16': return new Uint16Array(b);
    case 'I64': return new BigInt64Array(b);
  }
}

/** Parse a safetensors image; `where` names it in errors (usually the path). */
export function parseSafetensors(bytes: Uint8Array, where = 'safetensors'): SafetensorsFile {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) fail(where, 'big-endian hosts are not supported');
  if (bytes.length < 8) fail(where, `file is ${bytes.length} bytes, too short for the 8-byte header length`, 'the file is truncated or not safetensors');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (n > bytes.length - 8) fail(where, `header length ${n} exceeds the file size ${bytes.length}`, 'the file is truncated or not safetensors');
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    fail(where, `header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail(where, 'header is not a JSON object');
  const base = 8 + n, dataLen = bytes.length - base;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, Tensor>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      for (const [k, v] of Object.entries((info ?? {}) as Record<string, unknown>)) metadata[k] = String(v);
      continue;
    }
    const t = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = t.dtype as Dtype;
    if (typeof dtype !== 'string' || !(dtype in itemSize)) fail(where, `tensor '${name}': unsupported dtype ${JSON.stringify(t.dtype)}`);
    if (!Array.isArray(t.shape) || t.shape.some(s => !Number.isInteger(s) || s < 0)) fail(where, `tensor '${name}': bad shape ${JSON.stringify(t.shape)}`);
    const off = t.data_offsets as number[];
    if (!Array.isArray(off) || off.length !== 2 || !off.every(v => Number.isInteger(v) && v >= 0) || off[1] < off[0])
      fail(where, `tensor '${name}': bad data_offsets ${JSON.stringify(t.data_offsets)}`);
    const shape = t.shape as number[];
    const count = shape.reduce((a, b) => a * b, 1);
    const want = count * itemSize[dtype];
    if (off[1] - off[0] !== want) fail(where, `tensor '${name}': data_offsets ${off[0]}..${off[1]} hold ${off[1] - off[0]} bytes, ${dtype}[${shape}] needs ${want}`);
    if (off[1] > dataLen) fail(where, `tensor '${name}': data ends at byte ${off[1]} but the file has ${dataLen} data bytes`, 'the file is truncated; re-copy or re-save it');
    tensors.set(name, { dtype, shape, data: copyTyped(bytes, base + off[0], dtype, count) });
  }
  return { tensors, metadata };
}

export function readSafetensors(path: string): SafetensorsFile {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new TrmError('TRM_IO', `${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseSafetensors(bytes, path);
}

/**
 * Only the header of a safetensors file: tensor names, dtypes and shapes, and the metadata, without
 * reading the tensor data (cheap checks before a large load). Errors as readSafetensors.
 */
export function readSafetensorsHeader(path: string): { tensors: Map<string, { dtype: string; shape: number[] }>; metadata: Record<string, string> } {
  let fd: number;
  try { fd = openSync(path, 'r'); } catch (e) {
    throw new TrmError('TRM_IO', `${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const len = Buffer.alloc(8);
    if (readSync(fd, len, 0, 8, 0) < 8) fail(path, 'file is too short for the 8-byte header length', 'the file is truncated or not safetensors');
    const n = Number(len.readBigUInt64LE(0));
    if (n > 100 * 2 ** 20) fail(path, `header length ${n} is implausible (over 100 MiB)`, 'the file is not safetensors');
    const head = Buffer.alloc(n);
    if (readSync(fd, head, 0, n, 8) < n) fail(path, `header length ${n} exceeds the file size`, 'the file is truncated or not safetensors');
    let header: unknown;
    try { header = JSON.parse(head.toString('utf8')); } catch (e) { fail(path, `header is not valid JSON (${(e as Error).message})`); }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) fail(path, 'header is not a JSON object');
    const tensors = new Map<string, { dtype: string; shape: number[] }>(), metadata: Record<string, string> = {};
    for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') {
        for (const [k, v] of Object.entries((info ?? {}) as Record<string, unknown>)) metadata[k] = String(v);
        continue;
      }
      const t = (info ?? {}) as { dtype?: unknown; shape?: unknown };
      if (!Array.isArray(t.shape) || t.shape.some(x => !Number.isInteger(x) || x < 0)) fail(path, `tensor '${name}': bad shape ${JSON.stringify(t.shape)}`);
      tensors.set(name, { dtype: String(t.dtype), shape: t.shape as number[] });
    }
    return { tensors, metadata };
  } finally {
    closeSync(fd);
  }
}

/** A tensor's values as float32 (F32 as is, F64/F16/BF16/integers converted); `name` for errors. */
export function toF32(t: Tensor, name = 'tensor'): Float32Array {
  const d = t.data;
  if (t.dtype === 'F32') return d as Float32Array;
  if (t.dtype === 'BF16') {
    const u = d as Uint16Array, out = new Float32Array(u.length), o = new Uint32Array(out.buffer);
    for (let i = 0; i < u.length; i++) o[i] = u[i] << 16;
    return out;
  }
  if (t.dtype === 'F16') {
    const u = d as Uint16Array, out = new Float32Array(u.length);
    for (let i = 0; i < u.length; i++) {
      const h = u[i], s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
      out[i] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
    }
    return out;
  }
  if (t.dtype === 'I64') return Float32Array.from(d as BigInt64Array, v => Number(v));
  if (d instanceof Float64Array || d instanceof Int32Array || d instanceof Int16Array || d instanceof Int8Array || d instanceof Uint8Array)
    return Float32Array.from(d);
  throw new TrmError('TRM_BAD_SAFETENSORS', `${name}: cannot convert ${t.dtype} to float32`);
}

/** Integer tensor as Int32Array (I32 as is; I64/I16/I8/U8/BOOL converted). */
export function toI32(t: Tensor, name = 'tensor'): Int32Array {
  const d = t.data;
  if (d instanceof Int32Array) return d;
  if (d instanceof BigInt64Array) return Int32Array.from(d, v => Number(v));
  if (d instanceof Int16Array || d instanceof Int8Array || d instanceof Uint8Array) return Int32Array.from(d);
  throw new TrmError('TRM_BAD_SAFETENSORS', `${name}: expected an integer tensor, got ${t.dtype}`);
}

export interface WriteTensor {
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
  /** store a Float32Array as BF16 (round to nearest even) */
  bf16?: boolean;
}

function toBytes(name: string, t: WriteTensor): { dtype: Dtype; bytes: Uint8Array } {
  const count = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== count) throw new TrmError('TRM_SHAPE', `safetensors write: tensor '${name}' has ${t.data.length} values, shape [${t.shape}] needs ${count}`);
  if (t.bf16) {
    if (!(t.data instanceof Float32Array)) throw new TrmError('TRM_SHAPE', `safetensors write: tensor '${name}': bf16 needs float32 data`);
    const u = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length), out = new Uint16Array(count);
    for (let i = 0; i < count; i++) {
      const x = u[i];
      out[i] = (x & 0x7fffffff) > 0x7f800000 ? 0x7fc0 : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
    }
    return { dtype: 'BF16', bytes: new Uint8Array(out.buffer) };
  }
  const dtype: Dtype = t.data instanceof Float32Array ? 'F32' : t.data instanceof Int32Array ? 'I32' : 'U8';
  return { dtype, bytes: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) };
}

/** Serialise tensors (sorted by name, header padded to 8 bytes) to one buffer. */
export function encodeSafetensors(tensors: Map<string, WriteTensor> | Record<string, WriteTensor>, metadata?: Record<string, string>): Uint8Array {
  const entries = (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    const { dtype, bytes } = toBytes(name, t);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    blobs.push(bytes);
    offset += bytes.length;
  }
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const hb = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hb.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  let p = 8 + hb.length;
  for (const b of blobs) { out.set(b, p); p += b.length; }
  return out;
}

/** Write a safetensors file atomically (temporary file, then rename). */
export function writeSafetensors(path: string, tensors: Map<string, WriteTensor> | Record<string, WriteTensor>, metadata?: Record<string, string>): void {
  const bytes = encodeSafetensors(tensors, metadata);
  const tmp = `${path}.tmp`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (e) {
    throw new TrmError('TRM_IO', `${path}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
