/** safetensors: round trip, dtypes, and clear errors on truncation and bad headers. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  encodeSafetensors,
  parseSafetensors,
  readSafetensors,
  toF32,
  toI32,
  writeSafetensors,
} from '../../src/io/safetensors.js';

describe('safetensors', () => {
  it('round-trips F32, I32, U8, BF16 and metadata through a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'trm-st-'));
    const p = join(dir, 'a.safetensors');
    const f = new Float32Array([1.5, -2, 3.25, 1e-3, 7, 8]);
    writeSafetensors(
      p,
      {
        'b.w': { shape: [2, 3], data: f },
        'a.i': { shape: [3], data: new Int32Array([1, -100, 7]) },
        'c.u': { shape: [2], data: new Uint8Array([0, 1]) },
        'd.h': { shape: [2], data: new Float32Array([1.00390625, -3.3]), bf16: true },
        'e.s': { shape: [], data: new Float32Array([4]) },
      },
      { producer: 'test' },
    );
    const bytes = readFileSync(p);
    const hlen = Number(bytes.readBigUInt64LE(0));
    expect((8 + hlen) % 8).toBe(0);
    const file = readSafetensors(p);
    expect(file.metadata).toEqual({ producer: 'test' });
    expect([...file.tensors.keys()]).toEqual(['a.i', 'b.w', 'c.u', 'd.h', 'e.s']);
    expect(file.tensors.get('b.w')!.shape).toEqual([2, 3]);
    expect(toF32(file.tensors.get('b.w')!)).toEqual(f);
    expect(toI32(file.tensors.get('a.i')!)).toEqual(new Int32Array([1, -100, 7]));
    expect(file.tensors.get('d.h')!.dtype).toBe('BF16');
    expect(toF32(file.tensors.get('d.h')!)).toEqual(new Float32Array([1, -3.296875]));
    expect(file.tensors.get('e.s')!.shape).toEqual([]);
  });
  it('reads F64, I64 and F16 written by other tools', () => {
    const header = JSON.stringify({
      x: { dtype: 'F64', shape: [2], data_offsets: [0, 16] },
      y: { dtype: 'I64', shape: [1], data_offsets: [16, 24] },
      h: { dtype: 'F16', shape: [1], data_offsets: [24, 26] },
    });
    const hb = Buffer.from(header);
    const buf = Buffer.alloc(8 + hb.length + 26);
    buf.writeBigUInt64LE(BigInt(hb.length), 0);
    hb.copy(buf, 8);
    buf.writeDoubleLE(0.5, 8 + hb.length);
    buf.writeDoubleLE(-1, 16 + hb.length);
    buf.writeBigInt64LE(-100n, 24 + hb.length);
    buf.writeUInt16LE(0x3c00, 32 + hb.length);
    const f = parseSafetensors(buf);
    expect(toF32(f.tensors.get('x')!)).toEqual(new Float32Array([0.5, -1]));
    expect(toI32(f.tensors.get('y')!)).toEqual(new Int32Array([-100]));
    expect(toF32(f.tensors.get('h')!)).toEqual(new Float32Array([1]));
  });
  it('names the tensor on truncation and bad offsets', () => {
    const bytes = encodeSafetensors({ 'inner.lm_head.weight': { shape: [4, 4], data: new Float32Array(16) } });
    expect(() => parseSafetensors(bytes.subarray(0, bytes.length - 4), 'w.st')).toThrow(
      /w.st: tensor 'inner.lm_head.weight': data ends at byte 64 but the file has 60/,
    );
    expect(() => parseSafetensors(bytes.subarray(0, 5), 'w.st')).toThrow(/too short/);
    expect(() => parseSafetensors(bytes.subarray(0, 20), 'w.st')).toThrow(/header length .* exceeds/);
    const hdr = JSON.stringify({ t: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } });
    const b = Buffer.alloc(8 + hdr.length + 8);
    b.writeBigUInt64LE(BigInt(hdr.length));
    b.write(hdr, 8);
    expect(() => parseSafetensors(b, 'x')).toThrow(/tensor 't': data_offsets 0..8 hold 8 bytes, F32\[3\] needs 12/);
    const hdr2 = JSON.stringify({ t: { dtype: 'Q4', shape: [1], data_offsets: [0, 1] } });
    const b2 = Buffer.alloc(8 + hdr2.length + 1);
    b2.writeBigUInt64LE(BigInt(hdr2.length));
    b2.write(hdr2, 8);
    expect(() => parseSafetensors(b2, 'x')).toThrow(/tensor 't': unsupported dtype "Q4"/);
    const dir = mkdtempSync(join(tmpdir(), 'trm-st-'));
    writeFileSync(join(dir, 'bad'), 'garbage!{not json');
    expect(() => readSafetensors(join(dir, 'missing'))).toThrow(/cannot read \(ENOENT\)/);
    expect(() => writeSafetensors(join(dir, 'x'), { a: { shape: [3], data: new Float32Array(2) } })).toThrow(
      /tensor 'a' has 2 values, shape \[3\] needs 3/,
    );
  });
});
