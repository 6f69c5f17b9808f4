/** Config validation, official parameter names/shapes/counts, initialisation statistics, state_dict mapping. */
import { describe, expect, it } from 'vitest';
import { dims, presets, resolveConfig, swigluInner } from '../../src/model/config.js';
import {
  OFFICIAL_PREFIX,
  createParams,
  hostWeightsSync,
  loadStateDict,
  paramCount,
  paramSpec,
  stateDict,
  weightsView,
} from '../../src/model/params.js';
import { TrmError } from '../../src/errors.js';

describe('config', () => {
  it('derives the official sizes', () => {
    expect(swigluInner(512, 4)).toBe(1536);
    expect(swigluInner(97, 4)).toBe(512);
    expect(swigluInner(916, 4)).toBe(2560);
    const d = dims(resolveConfig(presets.sudokuMlp), 64);
    expect([d.S, d.P, d.I, d.Is, d.hd]).toEqual([97, 16, 1536, 512, 64]);
  });
  it('rejects unknown and inconsistent fields with clear errors', () => {
    expect(() => resolveConfig({ hiden_size: 3 })).toThrow(/unknown field 'hiden_size'/);
    expect(() => resolveConfig({ hidden_size: 100, num_heads: 8 })).toThrow(/not divisible by num_heads/);
    expect(() => resolveConfig({ mlp_t: true, pos_encodings: 'rope' })).toThrow(/no effect with mlp_t/);
    expect(() => resolveConfig({ L_cycles: 0 })).toThrow(/L_cycles must be an integer >= 1/);
    expect(() => resolveConfig({ pos_encodings: 'alibi' })).toThrow(/pos_encodings/);
    expect(() => resolveConfig({ puzzle_emb_ndim: 0 })).toThrow(/puzzle_emb_len = 0/);
    expect(() => resolveConfig({ puzzle_emb_ndim: 600, puzzle_emb_len: 1 })).toThrow(/exceeds/);
    expect(() => resolveConfig({ mlp_t: 'yes' })).toThrow(TrmError);
  });
  it('puzzle_emb_len 0 means ceil(ndim / D)', () => {
    expect(dims(resolveConfig({ puzzle_emb_len: 0, puzzle_emb_ndim: 600 }), 1).P).toBe(2);
    expect(dims(resolveConfig({ puzzle_emb_len: 0, puzzle_emb_ndim: 0 }), 1).P).toBe(0);
  });
});

describe('parameters', () => {
  it('match the official counts', () => {
    expect(paramCount(resolveConfig(presets.sudokuMlp))).toBe(5_028_866);
    expect(paramCount(resolveConfig(presets.sudokuAtt))).toBe(6_828_034);
    expect(paramCount(resolveConfig({ ...presets.sudokuAtt, vocab_size: 12, seq_len: 900 }))).toBe(6_829_058);
    expect(paramCount(resolveConfig({ ...presets.sudokuMlp, vocab_size: 6, seq_len: 900 }))).toBe(18_795_522);
  });
  it('use the official names and [out, in] shapes', () => {
    const spec = new Map(paramSpec(resolveConfig(presets.sudokuMlp)).map(e => [e.name, e.shape]));
    expect(spec.get('inner.L_level.layers.0.mlp.gate_up_proj.weight')).toEqual([3072, 512]);
    expect(spec.get('inner.L_level.layers.1.mlp.down_proj.weight')).toEqual([512, 1536]);
    expect(spec.get('inner.L_level.layers.0.mlp_t.gate_up_proj.weight')).toEqual([1024, 97]);
    expect(spec.get('inner.L_level.layers.0.mlp_t.down_proj.weight')).toEqual([97, 512]);
    expect(spec.get('inner.puzzle_emb.weights')).toEqual([1, 512]);
    expect(spec.get('inner.H_init')).toEqual([512]);
    const att = new Map(paramSpec(resolveConfig(presets.sudokuAtt)).map(e => [e.name, e.shape]));
    expect(att.get('inner.L_level.layers.1.self_attn.qkv_proj.weight')).toEqual([1536, 512]);
    expect(att.get('inner.L_level.layers.1.self_attn.o_proj.weight')).toEqual([512, 512]);
    expect(att.get('inner.q_head.bias')).toEqual([2]);
  });
  it('initialise as the official code', () => {
    const c = resolveConfig(presets.sudokuMlp);
    const w = hostWeightsSync(createParams(c, 3));
    const std = (a: Float32Array) => Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
    const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const gu = w.layers[0].mlpGateUp;
    expect(std(gu)).toBeCloseTo(1 / Math.sqrt(512), 3);
    expect(maxAbs(gu)).toBeLessThanOrEqual(2 / 0.87962566103423978 / Math.sqrt(512) + 1e-6);
    expect(std(w.layers[1].mlptDown!)).toBeCloseTo(1 / Math.sqrt(512), 2);
    expect(std(w.embedTokens)).toBeCloseTo(1 / Math.sqrt(512), 2);
    expect(std(w.Hinit)).toBeCloseTo(1, 0);
    expect(maxAbs(w.Hinit)).toBeLessThanOrEqual(2.28);
    expect([...w.qHeadB]).toEqual([-5, -5]);
    expect(maxAbs(w.qHeadW)).toBe(0);
    expect(maxAbs(w.puzzleEmb!)).toBe(0);
    const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => v === b[i]);
    expect(same(hostWeightsSync(createParams(c, 3)).data, w.data)).toBe(true);
    expect(same(hostWeightsSync(createParams(c, 4)).data, w.data)).toBe(false);
  });
  it('round-trip through a state_dict, accepting the official prefix, naming bad tensors', () => {
    const c = resolveConfig({ ...presets.sudokuAtt, hidden_size: 64, num_heads: 2, puzzle_emb_ndim: 64 });
    const a = hostWeightsSync(createParams(c, 1)),
      b = hostWeightsSync(weightsView(c));
    loadStateDict(b, stateDict(a, true));
    expect(b.data.every((v, i) => v === a.data[i])).toBe(true);
    const sd = stateDict(a);
    expect([...sd.keys()][0].startsWith(OFFICIAL_PREFIX)).toBe(false);
    const bad = new Map(sd);
    bad.set('inner.lm_head.weight', { shape: [12, 64], data: new Float32Array(12 * 64) });
    expect(() => loadStateDict(b, bad, 'w.safetensors')).toThrow(
      /w.safetensors: tensor 'inner.lm_head.weight' has shape \[12,64\]/,
    );
    const missing = new Map(sd);
    missing.delete('inner.q_head.bias');
    expect(() => loadStateDict(b, missing)).toThrow(/missing tensor 'inner.q_head.bias'/);
    const extra = new Map(sd);
    extra.set('inner.L_level.layers.0.mlp_t.down_proj.weight', { shape: [1], data: new Float32Array(1) });
    expect(() => loadStateDict(b, extra)).toThrow(/not a parameter of this model config/);
  });
});
