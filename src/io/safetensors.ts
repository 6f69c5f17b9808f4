/**
 * safetensors.ts: read and write the safetensors format (huggingface/safetensors): an 8-byte
 * little-endian header length, a JSON header {name: {dtype, shape, data_offsets}, __metadata__},
 * then the raw little-endian tensor bytes. Reads F32, F64, F16, BF16 (widened to float32 on
 * request), I64, I32, I16, I8, U8, BOOL; writes F32, I32, U8 (and BF16 on request). Every error
 * names the file and the tensor.
 */
import { closeSync, openSync, readFileSync, readSync, renameSync, writeFileSync } from 'node:fs';
import { TrmError } from '../errors.js';

import { parseSafetensors, type Dtype, type SafetensorsFile } from './safetensors-bytes.js';
export {
  parseSafetensors,
  toF32,
  toI32,
  type Dtype,
  type SafetensorsFile,
  type Tensor,
  type TensorData,
} from './safetensors-bytes.js';

function fail(where: string, msg: string, hint?: string): never {
  throw new TrmError('TRM_BAD_SAFETENSORS', `${where}: ${msg}${hint ? `\n---> HINT: ${hint}` : ''}`);
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
export function readSafetensorsHeader(path: string): {
  tensors: Map<string, { dtype: string; shape: number[] }>;
  metadata: Record<string, string>;
} {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new TrmError('TRM_IO', `${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const len = Buffer.alloc(8);
    if (readSync(fd, len, 0, 8, 0) < 8)
      fail(path, 'file is too short for the 8-byte header length', 'the file is truncated or not safetensors');
    const n = Number(len.readBigUInt64LE(0));
    if (n > 100 * 2 ** 20)
      fail(path, `header length ${n} is implausible (over 100 MiB)`, 'the file is not safetensors');
    const head = Buffer.alloc(n);
    if (readSync(fd, head, 0, n, 8) < n)
      fail(path, `header length ${n} exceeds the file size`, 'the file is truncated or not safetensors');
    let header: unknown;
    try {
      header = JSON.parse(head.toString('utf8'));
    } catch (e) {
      fail(path, `header is not valid JSON (${(e as Error).message})`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header))
      fail(path, 'header is not a JSON object');
    const tensors = new Map<string, { dtype: string; shape: number[] }>(),
      metadata: Record<string, string> = {};
    for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') {
        for (const [k, v] of Object.entries((info ?? {}) as Record<string, unknown>)) metadata[k] = String(v);
        continue;
      }
      const t = (info ?? {}) as { dtype?: unknown; shape?: unknown };
      if (!Array.isArray(t.shape) || t.shape.some(x => !Number.isInteger(x) || x < 0))
        fail(path, `tensor '${name}': bad shape ${JSON.stringify(t.shape)}`);
      tensors.set(name, { dtype: String(t.dtype), shape: t.shape as number[] });
    }
    return { tensors, metadata };
  } finally {
    closeSync(fd);
  }
}

export interface WriteTensor {
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
  /** store a Float32Array as BF16 (round to nearest even) */
  bf16?: boolean;
}

function toBytes(name: string, t: WriteTensor): { dtype: Dtype; bytes: Uint8Array } {
  const count = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== count)
    throw new TrmError(
      'TRM_SHAPE',
      `safetensors write: tensor '${name}' has ${t.data.length} values, shape [${t.shape}] needs ${count}`,
    );
  if (t.bf16) {
    if (!(t.data instanceof Float32Array))
      throw new TrmError('TRM_SHAPE', `safetensors write: tensor '${name}': bf16 needs float32 data`);
    const u = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length),
      out = new Uint16Array(count);
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
export function encodeSafetensors(
  tensors: Map<string, WriteTensor> | Record<string, WriteTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const entries = (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors)).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
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
  for (const b of blobs) {
    out.set(b, p);
    p += b.length;
  }
  return out;
}

/** Write a safetensors file atomically (temporary file, then rename). */
export function writeSafetensors(
  path: string,
  tensors: Map<string, WriteTensor> | Record<string, WriteTensor>,
  metadata?: Record<string, string>,
): void {
  const bytes = encodeSafetensors(tensors, metadata);
  const tmp = `${path}.tmp`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (e) {
    throw new TrmError(
      'TRM_IO',
      `${path}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
}
