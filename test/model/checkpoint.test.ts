/** Weights <-> safetensors with official keys: round trip, a torch.compile'd (prefixed) checkpoint with bf16 buffers, clear errors. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeSafetensors, type WriteTensor } from '../../src/io/safetensors.js';
import { loadWeights, saveWeights } from '../../src/io/weights.js';
import type { F32T } from '../../src/kernels/core.js';
import { createParams, hostWeightsSync, presets, resolveConfig, stateDict } from '../../src/model/index.js';
import { host } from '../helpers.js';

const c = resolveConfig({ ...presets.sudokuMlp, hidden_size: 32, puzzle_emb_ndim: 32, seq_len: 9, vocab_size: 5 });
const same = (ta: F32T, tb: F32T) => {
  const a = host(ta),
    b = host(tb);
  return a.length === b.length && a.every((v, i) => v === b[i]);
};

describe('checkpoints', () => {
  it('round-trip, plain and prefixed keys', () => {
    const dir = mkdtempSync(join(tmpdir(), 'trm-ck-'));
    const w = createParams(c, 2);
    saveWeights(join(dir, 'a.safetensors'), w);
    saveWeights(join(dir, 'b.safetensors'), w, {}, true);
    expect(same(loadWeights(join(dir, 'a.safetensors'), c).data, w.data)).toBe(true);
    expect(same(loadWeights(join(dir, 'b.safetensors'), c).data, w.data)).toBe(true);
  });
  it('loads an official-style checkpoint: _orig_mod.model. prefix, bf16 H_init/L_init', () => {
    const dir = mkdtempSync(join(tmpdir(), 'trm-ck-'));
    const w = createParams(c, 3); // H_init/L_init are already bf16-representable
    const t = new Map<string, WriteTensor>();
    for (const [k, v] of stateDict(hostWeightsSync(w), true))
      t.set(k, { shape: v.shape, data: v.data, bf16: k.endsWith('_init') });
    writeSafetensors(join(dir, 'off.safetensors'), t);
    expect(same(loadWeights(join(dir, 'off.safetensors'), c).data, w.data)).toBe(true);
  });
  it('names the mismatching tensor', () => {
    const dir = mkdtempSync(join(tmpdir(), 'trm-ck-'));
    saveWeights(join(dir, 'x.safetensors'), createParams(c, 1));
    const other = resolveConfig({ ...c, vocab_size: 7 });
    expect(() => loadWeights(join(dir, 'x.safetensors'), other)).toThrow(
      /x.safetensors: tensor 'inner.embed_tokens.embedding_weight' has shape \[5,32\], this config needs \[7,32\]/,
    );
  });
});
