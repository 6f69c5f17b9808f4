/**
 * config.ts: the TRM architecture config, with the official field names and meaning
 * (config/arch/trm.yaml; reference/trm-algorithm.md 0.1, 1-2), defaults, the paper presets, a
 * validating parser and the sizes derived from it. It is not the training config (lr, batch...).
 */
import { TrmError } from '../errors.js';

export interface TrmConfig {
  /** D: width of every position's state. */
  hidden_size: number;
  /** SwiGLU widening factor; inner width = round_up_256(round(expansion * width * 2/3)). */
  expansion: number;
  /** Blocks in the one shared network (L_level). */
  L_layers: number;
  /** T: recursions per supervision step (T-1 without gradient, 1 with). */
  H_cycles: number;
  /** n: z-updates per recursion. */
  L_cycles: number;
  /** N_sup: maximum supervision steps per sample. */
  halt_max_steps: number;
  /** Probability that a sample's halting is vetoed below a random minimum step (training only). */
  halt_exploration_prob: number;
  /** Width of a puzzle-embedding row (0: no puzzle embedding). */
  puzzle_emb_ndim: number;
  /** P: prefix positions holding the puzzle embedding (0: ceil(puzzle_emb_ndim / hidden_size)). */
  puzzle_emb_len: number;
  /** Rows of the puzzle-embedding table. */
  num_puzzle_identifiers: number;
  /** 'rope' (attention variant) or 'none'. */
  pos_encodings: 'none' | 'rope';
  /** true: token-mixing MLP over the sequence axis instead of self-attention. */
  mlp_t: boolean;
  /** Attention heads (head_dim = hidden_size / num_heads); unused with mlp_t. */
  num_heads: number;
  /** eps inside every RMSNorm. */
  rms_norm_eps: number;
  /** RoPE base. */
  rope_theta: number;
  /** V: token vocabulary (including pad). */
  vocab_size: number;
  /** L: puzzle positions per sample (81 for Sudoku). */
  seq_len: number;
  /** EqR damping d in [0, 1): every net call updates its latent as h <- d h + (1 - d) f(h + u)
   *  (z- and y-updates; damping.ts). 0 = the official undamped update. */
  damping: number;
  /** EqR noise std s >= 0: + s * eps after every net call's update, eps ~ N(0, I) from the
   *  carry's noise stream, in training and at test. 0 = none. */
  train_noise: number;
}

/** The official defaults: TRM-Att on Sudoku (trm.yaml with the Sudoku data sizes). */
export const defaultConfig: Readonly<TrmConfig> = Object.freeze({
  hidden_size: 512,
  expansion: 4,
  L_layers: 2,
  H_cycles: 3,
  L_cycles: 6,
  halt_max_steps: 16,
  halt_exploration_prob: 0.1,
  puzzle_emb_ndim: 512,
  puzzle_emb_len: 16,
  num_puzzle_identifiers: 1,
  pos_encodings: 'rope',
  mlp_t: false,
  num_heads: 8,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  vocab_size: 11,
  seq_len: 81,
  damping: 0,
  train_noise: 0,
});

/** The paper's Sudoku-Extreme presets (5,028,866 and 6,828,034 parameters). */
export const presets = {
  sudokuMlp: { mlp_t: true, pos_encodings: 'none' } as Partial<TrmConfig>,
  sudokuAtt: { mlp_t: false, pos_encodings: 'rope' } as Partial<TrmConfig>,
} as const;

const intFields = [
  'hidden_size',
  'L_layers',
  'H_cycles',
  'L_cycles',
  'halt_max_steps',
  'puzzle_emb_ndim',
  'puzzle_emb_len',
  'num_puzzle_identifiers',
  'num_heads',
  'vocab_size',
  'seq_len',
] as const;
const minOne = new Set([
  'hidden_size',
  'L_layers',
  'H_cycles',
  'L_cycles',
  'halt_max_steps',
  'num_puzzle_identifiers',
  'num_heads',
  'vocab_size',
  'seq_len',
]);

function bad(msg: string): never {
  throw new TrmError('TRM_BAD_CONFIG', `model config: ${msg}`);
}

/** Defaults overridden by `over`, validated. Unknown keys, wrong types and inconsistent sizes throw. */
export function resolveConfig(over: Record<string, unknown> = {}): TrmConfig {
  const known = Object.keys(defaultConfig);
  for (const k of Object.keys(over)) {
    if (!known.includes(k)) bad(`unknown field '${k}' (known: ${known.join(', ')})`);
  }
  const c = { ...defaultConfig, ...over } as Record<string, unknown>;
  for (const k of intFields) {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < (minOne.has(k) ? 1 : 0))
      bad(`${k} must be an integer >= ${minOne.has(k) ? 1 : 0}, got ${JSON.stringify(v)}`);
  }
  for (const k of ['expansion', 'rms_norm_eps', 'rope_theta'] as const) {
    const v = c[k];
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v))
      bad(`${k} must be a positive number, got ${JSON.stringify(v)}`);
  }
  const p = c.halt_exploration_prob;
  if (typeof p !== 'number' || !(p >= 0 && p <= 1))
    bad(`halt_exploration_prob must be in [0, 1], got ${JSON.stringify(p)}`);
  const dmp = c.damping;
  if (typeof dmp !== 'number' || !(dmp >= 0 && dmp < 1)) bad(`damping must be in [0, 1), got ${JSON.stringify(dmp)}`);
  const tn = c.train_noise;
  if (typeof tn !== 'number' || !(tn >= 0) || !Number.isFinite(tn))
    bad(`train_noise must be a non-negative number, got ${JSON.stringify(tn)}`);
  if (typeof c.mlp_t !== 'boolean') bad(`mlp_t must be true or false, got ${JSON.stringify(c.mlp_t)}`);
  if (c.pos_encodings === 'learned')
    bad(`pos_encodings 'learned' is not supported (no TRM config uses it); use 'none' or 'rope'`);
  if (c.pos_encodings !== 'none' && c.pos_encodings !== 'rope')
    bad(`pos_encodings must be 'none' or 'rope', got ${JSON.stringify(c.pos_encodings)}`);
  const cfg = c as unknown as TrmConfig;
  if (cfg.mlp_t && cfg.pos_encodings === 'rope')
    bad(`pos_encodings 'rope' has no effect with mlp_t = true (no attention); set pos_encodings 'none'`);
  if (!cfg.mlp_t && cfg.hidden_size % cfg.num_heads !== 0)
    bad(`hidden_size ${cfg.hidden_size} is not divisible by num_heads ${cfg.num_heads}`);
  if (!cfg.mlp_t && cfg.pos_encodings === 'rope' && (cfg.hidden_size / cfg.num_heads) % 2 !== 0)
    bad(`rope needs an even head_dim, got ${cfg.hidden_size / cfg.num_heads}`);
  if (cfg.puzzle_emb_ndim === 0 && cfg.puzzle_emb_len !== 0)
    bad(`puzzle_emb_ndim = 0 needs puzzle_emb_len = 0 (the prefix would never be filled)`);
  if (cfg.puzzle_emb_ndim > prefixLen(cfg) * cfg.hidden_size)
    bad(
      `puzzle_emb_ndim ${cfg.puzzle_emb_ndim} exceeds puzzle_emb_len * hidden_size = ${prefixLen(cfg) * cfg.hidden_size}`,
    );
  return cfg;
}

/** Keys added after checkpoints existed, with the value that reproduces the earlier behaviour. */
const LATER_DEFAULTS: Partial<TrmConfig> = { damping: 0, train_noise: 0 };

/** The config as files store it: the later keys are left out while at their default, so a model
 *  file of a default config is byte-identical to one written before they existed, and older
 *  readers load it (resolveConfig fills them back in). */
export function storedConfig(c: TrmConfig): Partial<TrmConfig> {
  const out: Record<string, unknown> = { ...c };
  for (const [k, v] of Object.entries(LATER_DEFAULTS)) if (out[k] === v) delete out[k];
  return out as Partial<TrmConfig>;
}

/** P: the puzzle-embedding prefix length (trm.py:130-131). */
export function prefixLen(c: TrmConfig): number {
  if (c.puzzle_emb_ndim === 0) return 0;
  return c.puzzle_emb_len === 0 ? Math.ceil(c.puzzle_emb_ndim / c.hidden_size) : c.puzzle_emb_len;
}

/** SwiGLU inner width for an input of `width` (layers.py:151-161). */
export function swigluInner(width: number, expansion: number): number {
  const v = (expansion * width * 2) / 3,
    f = Math.floor(v);
  const r = v - f === 0.5 ? (f % 2 === 0 ? f : f + 1) : Math.round(v); // Python round(): half to even
  return Math.ceil(r / 256) * 256;
}

/** Sizes every layer needs: S = L + P positions, the two SwiGLU widths, head_dim. */
export interface Dims {
  B: number;
  L: number;
  P: number;
  S: number;
  D: number;
  V: number;
  /** channel-MLP inner width (1536 at D = 512) */
  I: number;
  /** token-mixer inner width (512 at S = 97); 0 without mlp_t */
  Is: number;
  H: number;
  hd: number;
}

/** Up to this hidden size (mlp_t, fp32) a block runs through the fused half-block kernels (model/trm.ts
 *  useFused; tests may lower it there); acts.ts lays out their scratch for it. */
export const FUSED_MAX_D = 256;

export function dims(c: TrmConfig, B: number): Dims {
  const P = prefixLen(c),
    S = c.seq_len + P;
  return {
    B,
    L: c.seq_len,
    P,
    S,
    D: c.hidden_size,
    V: c.vocab_size,
    I: swigluInner(c.hidden_size, c.expansion),
    Is: c.mlp_t ? swigluInner(S, c.expansion) : 0,
    H: c.num_heads,
    hd: c.hidden_size / c.num_heads,
  };
}
