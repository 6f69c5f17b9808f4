/**
 * safetensors-bytes.ts: parse a safetensors image held in memory (an 8-byte little-endian header
 * length, a JSON header {name: {dtype, shape, data_offsets}, __metadata__}, then the raw
 * little-endian tensor bytes) and convert tensors to float32 / int32. Device-free and Node-free,
 * so a web page can load weights from fetched bytes; files: safetensors.ts.
 */
import { TrmError } from '../errors.js';

export type Dtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';
export const itemSize: Record<Dtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export type TensorData =
  | Float32Array
  | Float64Array
  | Int32Array
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array
  | BigInt64Array;

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
  const slice = Uint8Array.prototype.slice.call(bytes, off, off + count * itemSize[dtype]); // an aligned copy (Buffer.slice would be a view)
  const b = slice.buffer;
  switch (dtype) {
    case 'F32':
      return new Float32Array(b);
    case 'F64':
      return new Float64Array(b);
    case 'I32':
      return new Int32Array(b);
    case 'I16':
      return new Int16Array(b);
    case 'I8':
      return new Int8Array(b);
    case 'U8':
    case 'BOOL':
      return new Uint8Array(b);
    case 'F16':
    case 'BF16':
      return new Uint16Array(b);
    case 'I64':
      return new BigInt64Array(b);
  }
}

/** Parse a safetensors image; `where` names it in errors (usually the path). */
export function parseSafetensors(bytes: Uint8Array, where = 'safetensors'): SafetensorsFile {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) fail(where, 'big-endian hosts are not supported');
  if (bytes.length < 8)
    fail(
      where,
      `file is ${bytes.length} bytes, too short for the 8-byte header length`,
      'the file is truncated or not safetensors',
    );
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (n > bytes.length - 8)
    fail(where, `header length ${n} exceeds the file size ${bytes.length}`, 'the file is truncated or not safetensors');
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    fail(where, `header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    fail(where, 'header is not a JSON object');
  const base = 8 + n,
    dataLen = bytes.length - base;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, Tensor>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      for (const [k, v] of Object.entries((info ?? {}) as Record<string, unknown>)) metadata[k] = String(v);
      continue;
    }
    const t = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = t.dtype as Dtype;
    if (typeof dtype !== 'string' || !(dtype in itemSize))
      fail(where, `tensor '${name}': unsupported dtype ${JSON.stringify(t.dtype)}`);
    if (!Array.isArray(t.shape) || t.shape.some(s => !Number.isInteger(s) || s < 0))
      fail(where, `tensor '${name}': bad shape ${JSON.stringify(t.shape)}`);
    const off = t.data_offsets as number[];
    if (!Array.isArray(off) || off.length !== 2 || !off.every(v => Number.isInteger(v) && v >= 0) || off[1] < off[0])
      fail(where, `tensor '${name}': bad data_offsets ${JSON.stringify(t.data_offsets)}`);
    const shape = t.shape as number[];
    const count = shape.reduce((a, b) => a * b, 1);
    const want = count * itemSize[dtype];
    if (off[1] - off[0] !== want)
      fail(
        where,
        `tensor '${name}': data_offsets ${off[0]}..${off[1]} hold ${off[1] - off[0]} bytes, ${dtype}[${shape}] needs ${want}`,
      );
    if (off[1] > dataLen)
      fail(
        where,
        `tensor '${name}': data ends at byte ${off[1]} but the file has ${dataLen} data bytes`,
        'the file is truncated; re-copy or re-save it',
      );
    tensors.set(name, { dtype, shape, data: copyTyped(bytes, base + off[0], dtype, count) });
  }
  return { tensors, metadata };
}

/** A tensor's values as float32 (F32 as is, F64/F16/BF16/integers converted); `name` for errors. */
export function toF32(t: Tensor, name = 'tensor'): Float32Array {
  const d = t.data;
  if (t.dtype === 'F32') return d as Float32Array;
  if (t.dtype === 'BF16') {
    const u = d as Uint16Array,
      out = new Float32Array(u.length),
      o = new Uint32Array(out.buffer);
    for (let i = 0; i < u.length; i++) o[i] = u[i] << 16;
    return out;
  }
  if (t.dtype === 'F16') {
    const u = d as Uint16Array,
      out = new Float32Array(u.length);
    for (let i = 0; i < u.length; i++) {
      const h = u[i],
        s = h & 0x8000 ? -1 : 1,
        e = (h >> 10) & 0x1f,
        m = h & 0x3ff;
      out[i] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
    }
    return out;
  }
  if (t.dtype === 'I64') return Float32Array.from(d as BigInt64Array, v => Number(v));
  if (
    d instanceof Float64Array ||
    d instanceof Int32Array ||
    d instanceof Int16Array ||
    d instanceof Int8Array ||
    d instanceof Uint8Array
  )
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
