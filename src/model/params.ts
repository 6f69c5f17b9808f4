/**
 * params.ts: TRM parameters with the official state_dict names and shapes (reference/trm-algorithm.md
 * 4; keys without the `_orig_mod.model.` prefix), all carved as views from one Float32Array, and the
 * official initialisation (2.4, 1.3, 1.4). Gradients, optimizer moments and EMA reuse the same
 * spec and layout. Linear weights keep PyTorch's [out, in] layout (y = x W^T). The block is a
 * tensor of the active device; initialisation and checkpoints work on a host copy (hostWeights).
 */
import { Rng, STREAM } from '../data/rng.js';
import { TrmError } from '../errors.js';
import { f32, type F32T, read, readSync, sizeOf, upload, view, write } from '../kernels/core.js';
import { type TrmConfig, dims } from './config.js';

/** How a tensor is initialised (official code: layers.py, trm.py:152-160, sparse_embedding.py). */
export type InitKind = 'lecun' | 'embed' | 'unit' | 'zero' | 'qbias';

export interface ParamEntry {
  name: string;
  shape: number[];
  size: number;
  /** offset of the first element in the flat block */
  offset: number;
  /** false for buffers: H_init, L_init (fixed) and puzzle_emb.weights (trained by SignSGD, not Adam) */
  trainable: boolean;
  init: InitKind;
}

/** The official key prefix of a torch.compile'd checkpoint; loading strips it (and `model.`). */
export const OFFICIAL_PREFIX = '_orig_mod.model.';

/** Every tensor of the model, in a fixed order, with its place in the flat block. */
export function paramSpec(c: TrmConfig): ParamEntry[] {
  const d = dims(c, 1);
  const list: Array<[string, number[], boolean, InitKind]> = [
    ['inner.H_init', [d.D], false, 'unit'],
    ['inner.L_init', [d.D], false, 'unit'],
    ['inner.embed_tokens.embedding_weight', [d.V, d.D], true, 'embed'],
    ['inner.lm_head.weight', [d.V, d.D], true, 'lecun'],
    ['inner.q_head.weight', [2, d.D], true, 'zero'],
    ['inner.q_head.bias', [2], true, 'qbias'],
  ];
  if (c.puzzle_emb_ndim > 0)
    list.push(['inner.puzzle_emb.weights', [c.num_puzzle_identifiers, c.puzzle_emb_ndim], false, 'zero']);
  for (let i = 0; i < c.L_layers; i++) {
    const p = `inner.L_level.layers.${i}.`;
    if (c.mlp_t) {
      list.push([p + 'mlp_t.gate_up_proj.weight', [2 * d.Is, d.S], true, 'lecun']);
      list.push([p + 'mlp_t.down_proj.weight', [d.S, d.Is], true, 'lecun']);
    } else {
      list.push([p + 'self_attn.qkv_proj.weight', [3 * d.H * d.hd, d.D], true, 'lecun']);
      list.push([p + 'self_attn.o_proj.weight', [d.D, d.H * d.hd], true, 'lecun']);
    }
    list.push([p + 'mlp.gate_up_proj.weight', [2 * d.I, d.D], true, 'lecun']);
    list.push([p + 'mlp.down_proj.weight', [d.D, d.I], true, 'lecun']);
  }
  let offset = 0;
  return list.map(([name, shape, trainable, init]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const e = { name, shape, size, offset, trainable, init };
    offset += size;
    return e;
  });
}

/** Total elements in the flat block (parameters and buffers). */
export function specSize(spec: ParamEntry[]): number {
  const last = spec[spec.length - 1];
  return last.offset + last.size;
}

/** Trainable parameter count as the official `info` reports it (buffers excluded). */
export function paramCount(c: TrmConfig): number {
  return paramSpec(c)
    .filter(e => e.trainable)
    .reduce((a, e) => a + e.size, 0);
}

/** One block's weights (views). Attention or token-mixer fields are set by the variant. */
export interface BlockWeights<T extends F32T = F32T> {
  mlpGateUp: T; // (2I, D)
  mlpDown: T; // (D, I)
  mlptGateUp?: T; // (2Is, S)
  mlptDown?: T; // (S, Is)
  qkv?: T; // (3*H*hd, D)
  o?: T; // (D, H*hd)
}

/** Named views into one flat block: the model's parameters, or their gradients (same layout).
 *  T is the tensor type: a device tensor, or Float32Array for a host copy (HostWeights). */
export interface Weights<T extends F32T = F32T> {
  data: T;
  spec: ParamEntry[];
  byName: Map<string, T>;
  Hinit: T; // (D)
  Linit: T; // (D)
  embedTokens: T; // (V, D)
  lmHead: T; // (V, D)
  qHeadW: T; // (2, D)
  qHeadB: T; // (2)
  puzzleEmb: T | null; // (num_puzzle_identifiers, puzzle_emb_ndim)
  layers: BlockWeights<T>[];
}

/** Weights over a host Float32Array (initialisation, checkpoints). */
export type HostWeights = Weights<Float32Array>;

/** Views over `data` (a new zeroed block of the active device when omitted). */
export function weightsView<T extends F32T = F32T>(c: TrmConfig, data?: T): Weights<T> {
  return weightsOf(paramSpec(c), data);
}

/** Views over `data` laid out by `spec` (a new zeroed block of the active device when omitted). */
export function weightsOf<T extends F32T = F32T>(spec: ParamEntry[], data?: T): Weights<T> {
  const n = specSize(spec);
  const block = data ?? (f32(n) as T);
  if (sizeOf(block) !== n)
    throw new TrmError('TRM_SHAPE', `parameter block has ${sizeOf(block)} floats, the config needs ${n}`);
  const byName = new Map<string, T>();
  for (const e of spec) byName.set(e.name, view(block, e.offset, e.size));
  const g = (k: string) => byName.get('inner.' + k)!;
  const layers: BlockWeights<T>[] = [];
  for (let i = 0; byName.has(`inner.L_level.layers.${i}.mlp.down_proj.weight`); i++) {
    const p = `L_level.layers.${i}.`;
    layers.push({
      mlpGateUp: g(p + 'mlp.gate_up_proj.weight'),
      mlpDown: g(p + 'mlp.down_proj.weight'),
      mlptGateUp: byName.get('inner.' + p + 'mlp_t.gate_up_proj.weight'),
      mlptDown: byName.get('inner.' + p + 'mlp_t.down_proj.weight'),
      qkv: byName.get('inner.' + p + 'self_attn.qkv_proj.weight'),
      o: byName.get('inner.' + p + 'self_attn.o_proj.weight'),
    });
  }
  return {
    data: block,
    spec,
    byName,
    Hinit: g('H_init'),
    Linit: g('L_init'),
    embedTokens: g('embed_tokens.embedding_weight'),
    lmHead: g('lm_head.weight'),
    qHeadW: g('q_head.weight'),
    qHeadB: g('q_head.bias'),
    puzzleEmb: byName.get('inner.puzzle_emb.weights') ?? null,
    layers,
  };
}

// ---- initialisation -----------------------------------------------------------------------------

/** The weight-init stream of `seed` (Rng(seed, STREAM.init)) as uniforms in [0, 1). */
export function seededUniform(seed: number): () => number {
  const rng = new Rng(seed, STREAM.init);
  return () => rng.float();
}

/** JAX-style truncated normal (models/common.py trunc_normal_init_): N(0, c^2) cut at +-2c with
 *  c = std / 0.87962566103423978, so the result has standard deviation exactly `std`. */
export function truncNormalFill(out: Float32Array, std: number, uniform: () => number): void {
  const c = std / 0.87962566103423978;
  for (let i = 0; i < out.length; i++) {
    let v: number;
    do {
      const u1 = 1 - uniform(),
        u2 = uniform();
      v = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    } while (v < -2 || v > 2);
    out[i] = v * c;
  }
}

/** Round to the nearest bfloat16 (ties to even): H_init/L_init are bf16 buffers in the official model. */
export function roundBf16(a: Float32Array): void {
  const u = new Uint32Array(a.buffer, a.byteOffset, a.length);
  for (let i = 0; i < u.length; i++) {
    const x = u[i];
    if ((x & 0x7f800000) === 0x7f800000) continue;
    u[i] = (((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) << 16) >>> 0;
  }
}

/** The official initialisation, drawn from `seed`: truncated LeCun normal for linears, embed_tokens
 *  std 1/sqrt(D), q_head weight 0 and bias -5, H_init/L_init std 1 (bf16), puzzle embedding 0. */
export function initParams(w: HostWeights, c: TrmConfig, seed: number): void {
  const uniform = seededUniform(seed);
  for (const e of w.spec) {
    const v = w.byName.get(e.name)!;
    switch (e.init) {
      case 'lecun':
        truncNormalFill(v, 1 / Math.sqrt(e.shape[1]), uniform);
        break;
      case 'embed':
        truncNormalFill(v, 1 / Math.sqrt(c.hidden_size), uniform);
        break;
      case 'unit':
        truncNormalFill(v, 1, uniform);
        roundBf16(v);
        break;
      case 'zero':
        v.fill(0);
        break;
      case 'qbias':
        v.fill(-5);
        break;
    }
  }
}

/** A new parameter block on the active device, initialised (on the host) as the official model starts. */
export function createParams(c: TrmConfig, seed = 0): Weights {
  const host = weightsView(c, new Float32Array(specSize(paramSpec(c))));
  initParams(host, c, seed);
  return weightsView(c, upload(host.data));
}

/** A host copy of device weights (host devices: the same memory, no copy). */
export async function hostWeights(w: Weights): Promise<HostWeights> {
  return weightsOf(w.spec, await read(w.data));
}

/** Host devices: the weights as host arrays, now (GPU devices throw: use hostWeights). */
export function hostWeightsSync(w: Weights): HostWeights {
  return weightsOf(w.spec, readSync(w.data));
}

/** Host values into device weights (same layout). */
export function writeWeights(w: Weights, host: HostWeights): void {
  write(w.data, host.data);
}

// ---- state_dict mapping ------------------------------------------------------------------------

/** Strip `_orig_mod.` and `model.` (torch.compile and the loss-head wrapper) from a checkpoint key. */
export function canonicalName(key: string): string {
  let k = key;
  if (k.startsWith('_orig_mod.')) k = k.slice('_orig_mod.'.length);
  if (k.startsWith('model.')) k = k.slice('model.'.length);
  return k;
}

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

/** Copy a name -> tensor map (official keys, with or without the prefix) into `w`. Every tensor of
 *  the spec must be present with its exact shape; unknown keys are errors unless `allowExtra`. */
export function loadStateDict(
  w: HostWeights,
  tensors: Map<string, NamedTensor>,
  where = 'checkpoint',
  allowExtra = false,
): void {
  const seen = new Map<string, NamedTensor>();
  for (const [k, t] of tensors) {
    const name = canonicalName(k);
    if (!w.byName.has(name)) {
      if (allowExtra) continue;
      throw new TrmError(
        'TRM_BAD_CHECKPOINT',
        `${where}: tensor '${k}' is not a parameter of this model config (is the config right? mlp_t, L_layers)`,
      );
    }
    seen.set(name, t);
  }
  for (const e of w.spec) {
    const t = seen.get(e.name);
    if (!t)
      throw new TrmError('TRM_BAD_CHECKPOINT', `${where}: missing tensor '${e.name}' (expected shape [${e.shape}])`);
    if (t.shape.length !== e.shape.length || t.shape.some((s, i) => s !== e.shape[i]))
      throw new TrmError(
        'TRM_BAD_CHECKPOINT',
        `${where}: tensor '${e.name}' has shape [${t.shape}], this config needs [${e.shape}]`,
      );
    w.byName.get(e.name)!.set(t.data);
  }
}

/** The model as a name -> tensor map (views, no copy), keys without the prefix unless `prefixed`. */
export function stateDict(w: HostWeights, prefixed = false): Map<string, NamedTensor> {
  const out = new Map<string, NamedTensor>();
  for (const e of w.spec)
    out.set((prefixed ? OFFICIAL_PREFIX : '') + e.name, { shape: e.shape, data: w.byName.get(e.name)! });
  return out;
}
