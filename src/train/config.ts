/**
 * config.ts: the one typed training config (reference/trm-algorithm.md 7-11; official
 * config/cfg_pretrain.yaml), its presets and the `--set key=value` parser. Model keys
 * (hidden_size, L_cycles, ...) go to `model` and are checked by the model's resolveConfig; the
 * sizes the data fixes (vocab_size, seq_len, num_puzzle_identifiers) come from the dataset.
 */
import { TrmError } from '../errors.js';
import { defaultConfig, type TrmConfig } from '../model/config.js';
import { INIT_MODES, type InitMode } from '../model/init.js';

export interface TrainConfig {
  /** Architecture overrides on top of the model defaults (TRM-Att, D 512, n 6, T 3). */
  model: Partial<TrmConfig>;
  /** B: carry slots = samples per optimizer step (global_batch_size). */
  batch_size: number;
  /** Total optimizer steps; 0 = derived from `epochs` as the official code does (spec 9). */
  steps: number;
  /** Passes over the training groups (used when steps = 0). */
  epochs: number;
  /** Base learning rate of the dense optimizer. */
  lr: number;
  /** Linear warm-up from 0 over this many steps. */
  lr_warmup_steps: number;
  /** Cosine floor as a fraction of lr after warm-up; 1 = constant (the official default). */
  lr_min_ratio: number;
  /** Dense optimizer: AdamATan2 (the official code) or AdamW (the paper's text). */
  optimizer: 'adam-atan2' | 'adamw';
  beta1: number;
  beta2: number;
  /** AdamW only: epsilon added to sqrt(v_hat). */
  adamw_eps: number;
  /** Decoupled weight decay of every dense parameter. */
  weight_decay: number;
  /** SignSGD learning rate of the puzzle-embedding rows in the batch (same schedule). */
  puzzle_emb_lr: number;
  puzzle_emb_weight_decay: number;
  /** Keep an exponential moving average of the weights; evaluate and save it. */
  ema: boolean;
  /** shadow <- rate * shadow + (1 - rate) * param after every step. */
  ema_rate: number;
  /** One seed for init, data order, ACT exploration. */
  seed: number;
  /** Evaluate the test split (EMA weights) every this many steps; 0 = only at the end. */
  eval_interval: number;
  /** Test examples per periodic evaluation (0 = the whole split; the final evaluation too). */
  eval_limit: number;
  /** Batch size of evaluation. */
  eval_batch_size: number;
  /** Save a checkpoint every this many steps; 0 = at every evaluation and at the end. */
  checkpoint_interval: number;
  /** Steps per metrics.jsonl line (metrics averaged over them). */
  log_interval: number;
  // ---- experiments (reference/experiments.md; docs/EXPERIMENTS.md) ----
  /** Where a refilled slot's (y, z) start in training (model/init.ts). */
  train_init: InitMode;
  /** std of the random init modes (1 = the official buffers' scale). */
  init_scale: number;
  /** Half-widths of the per-step n, T and per-slot N_sup draws; 0 = fixed (train/recursion.ts). */
  rand_n_width: number;
  rand_T_width: number;
  rand_nsup_width: number;
  /** trm-jax compatibility: drawn N_sup above halt_max_steps is clamped to it. */
  rand_nsup_clamp: boolean;
  /** 'cgar': the progressive (n, T) curriculum at 30% / 60% of training. */
  curriculum: 'none' | 'cgar';
  /** Loss weight decay^s at a sample's supervision step s (CGAR uses 0.7); 1 = off. */
  hsw_decay: number;
  /** GEMM operand precision; weights, optimizer, norms and losses stay fp32 ('f16': f16 storage of
   *  the GEMM operands, webgpu only; 'bf16': bf16 GEMM operands). */
  precision: Precision;
  /** Milestone supervision (train/milestones.ts): 'sudoku-logic' trains supervision step s of a
   *  sample towards the grid after s rounds of logic (the dataset's all__milestones.npy); 'none' =
   *  the final solution at every step (official). */
  milestones: 'none' | 'sudoku-logic';
  /** Which milestone step s targets: 'step' = min(s, last), 'spread' = ceil(s * last / N_sup); the
   *  slot's last step (s = its N_sup) always targets the solution. */
  milestone_schedule: 'step' | 'spread';
}

export const PRECISIONS = ['fp32', 'bf16', 'f16'] as const;
export type Precision = (typeof PRECISIONS)[number];

/** The official Sudoku recipe (README; spec 11.1-11.2) with the TRM-Att architecture. */
export const defaultTrainConfig: Readonly<TrainConfig> = Object.freeze({
  model: {},
  batch_size: 768,
  steps: 0,
  epochs: 50000,
  lr: 1e-4,
  lr_warmup_steps: 2000,
  lr_min_ratio: 1.0,
  optimizer: 'adam-atan2',
  beta1: 0.9,
  beta2: 0.95,
  adamw_eps: 1e-8,
  weight_decay: 1.0,
  puzzle_emb_lr: 1e-4,
  puzzle_emb_weight_decay: 1.0,
  ema: true,
  ema_rate: 0.999,
  seed: 0,
  eval_interval: 5000,
  eval_limit: 0,
  eval_batch_size: 768,
  checkpoint_interval: 0,
  log_interval: 100,
  train_init: 'static',
  init_scale: 1,
  rand_n_width: 0,
  rand_T_width: 0,
  rand_nsup_width: 0,
  rand_nsup_clamp: false,
  curriculum: 'none',
  hsw_decay: 1,
  precision: 'fp32',
  milestones: 'none',
  milestone_schedule: 'step',
});

/** Small CPU model: mlp_t, one prefix position, fewer recursions and supervision steps. */
function cpuModel(D: number, T: number, n: number, nsup: number): Partial<TrmConfig> {
  return {
    hidden_size: D,
    expansion: 4,
    L_layers: 2,
    H_cycles: T,
    L_cycles: n,
    halt_max_steps: nsup,
    puzzle_emb_ndim: D,
    puzzle_emb_len: 1,
    mlp_t: true,
    pos_encodings: 'none',
  };
}

const cpuTrain: Partial<TrainConfig> = {
  lr: 1e-3,
  lr_warmup_steps: 50,
  weight_decay: 0.1,
  puzzle_emb_lr: 1e-3,
  puzzle_emb_weight_decay: 0.1,
  ema_rate: 0.98,
  epochs: 0,
  eval_limit: 512,
  eval_batch_size: 128,
  log_interval: 10,
};

export const trainPresets: Record<string, { summary: string; config: Partial<TrainConfig> }> = {
  'paper-sudoku-mlp': {
    summary: 'official TRM-MLP Sudoku-Extreme recipe (5.0M params, batch 768, 50k epochs; GPU-scale)',
    config: { model: { mlp_t: true, pos_encodings: 'none' } },
  },
  'paper-sudoku-att': {
    summary: 'official TRM-Att Sudoku-Extreme recipe (6.8M params, batch 768, 50k epochs; GPU-scale)',
    config: { model: { mlp_t: false, pos_encodings: 'rope' } },
  },
  'cpu-sudoku4': {
    summary: '4x4 Sudoku in 1-2 minutes on 2 cores (D 64, T 2, n 2, N_sup 4)',
    config: {
      ...cpuTrain,
      model: cpuModel(64, 2, 2, 4),
      batch_size: 32,
      steps: 300,
      eval_interval: 100,
      lr: 2e-3,
      puzzle_emb_lr: 2e-3,
      lr_warmup_steps: 20,
    },
  },
  'cpu-sudoku6': {
    summary: '6x6 Sudoku in about 7 minutes on 2 cores (D 64, T 2, n 2, N_sup 4)',
    config: {
      ...cpuTrain,
      model: cpuModel(64, 2, 2, 4),
      batch_size: 32,
      steps: 1500,
      eval_interval: 250,
      lr: 2e-3,
      puzzle_emb_lr: 2e-3,
      lr_warmup_steps: 40,
    },
  },
  // the recipe of docs/TRAINING.md's 9x9 report (80.6% held out on 30k rating-0 puzzles)
  'cpu-sudoku9': {
    summary: 'easy 9x9 Sudoku (rating 0), 9,000 steps: ~25 min on 2 cores (D 64, T 2, n 3, N_sup 6)',
    config: {
      ...cpuTrain,
      model: cpuModel(64, 2, 3, 6),
      batch_size: 32,
      steps: 9000,
      eval_interval: 1000,
      lr: 2e-3,
      puzzle_emb_lr: 2e-3,
      lr_warmup_steps: 100,
      lr_min_ratio: 0.1,
      ema_rate: 0.99,
      eval_limit: 500,
    },
  },
  // The hard-9x9 ladder (docs/EXPERIMENTS.md "Hard Sudoku on a CPU"): one preset per rating band of
  // `trm data generate sudoku --min-rating R --max-rating R2` (rating = guesses of the rater's search,
  // docs/DATA.md section 6). Same model and optimizer as cpu-sudoku9, so the bands differ by the data
  // alone; 4,000 steps (a cosine that ends inside a shared 2-core afternoon) and an evaluation every
  // 500 steps for the time-to-accuracy curves.
  ...ladderPresets(),
};

function ladderPresets(): Record<string, { summary: string; config: Partial<TrainConfig> }> {
  const bands: [string, string][] = [
    ['b0', 'rating 0 (singles only, no guess)'],
    ['b1', 'rating 1-2 guesses'],
    ['b2', 'rating 3-10 guesses'],
    ['b3', 'rating 11-50 guesses'],
    ['b4', 'rating 51+ guesses'],
  ];
  const out: Record<string, { summary: string; config: Partial<TrainConfig> }> = {};
  for (const [b, what] of bands)
    out[`cpu-sudoku9-${b}`] = {
      summary: `9x9 ladder band ${b}, ${what}: cpu-sudoku9's model, 4,000 steps, eval every 500`,
      config: {
        ...cpuTrain,
        model: cpuModel(64, 2, 3, 6),
        batch_size: 32,
        steps: 4000,
        eval_interval: 500,
        lr: 2e-3,
        puzzle_emb_lr: 2e-3,
        lr_warmup_steps: 100,
        lr_min_ratio: 0.1,
        ema_rate: 0.99,
        eval_limit: 500,
      },
    };
  return out;
}

const trainKeys = Object.keys(defaultTrainConfig).filter(k => k !== 'model') as (keyof TrainConfig)[];
const modelKeys = Object.keys(defaultConfig) as (keyof TrmConfig)[];

function bad(msg: string): never {
  throw new TrmError('TRM_BAD_CONFIG', `train config: ${msg}`);
}

/** Defaults, then the preset, then the overrides; every field checked. */
export function resolveTrainConfig(preset: string | undefined, over: Partial<TrainConfig> = {}): TrainConfig {
  let base: Partial<TrainConfig> = {};
  if (preset !== undefined) {
    const p = trainPresets[preset];
    if (!p) bad(`unknown preset '${preset}' (presets: ${Object.keys(trainPresets).join(', ')})`);
    base = p.config;
  }
  const cfg: TrainConfig = { ...defaultTrainConfig, ...base, ...over, model: { ...base.model, ...over.model } };
  for (const k of Object.keys(cfg))
    if (k !== 'model' && !trainKeys.includes(k as keyof TrainConfig)) bad(`unknown key '${k}'`);
  const int = (k: keyof TrainConfig, min: number) => {
    const v = cfg[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
      bad(`${k} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  };
  const pos = (k: keyof TrainConfig, allowZero = false) => {
    const v = cfg[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (!allowZero && v === 0))
      bad(`${k} must be a ${allowZero ? 'non-negative' : 'positive'} number, got ${JSON.stringify(v)}`);
  };
  int('batch_size', 1);
  int('steps', 0);
  int('epochs', 0);
  int('lr_warmup_steps', 0);
  int('seed', 0);
  int('eval_interval', 0);
  int('eval_limit', 0);
  int('eval_batch_size', 1);
  int('checkpoint_interval', 0);
  int('log_interval', 1);
  pos('lr', true);
  pos('weight_decay', true);
  pos('puzzle_emb_lr', true);
  pos('puzzle_emb_weight_decay', true);
  pos('adamw_eps');
  if (cfg.steps === 0 && cfg.epochs === 0) bad('set steps or epochs (both are 0)');
  for (const k of ['beta1', 'beta2', 'ema_rate', 'lr_min_ratio'] as const)
    if (!(cfg[k] >= 0 && cfg[k] <= 1)) bad(`${k} must be in [0, 1], got ${JSON.stringify(cfg[k])}`);
  if (cfg.optimizer !== 'adam-atan2' && cfg.optimizer !== 'adamw')
    bad(`optimizer must be 'adam-atan2' or 'adamw', got ${JSON.stringify(cfg.optimizer)}`);
  if (typeof cfg.ema !== 'boolean') bad(`ema must be true or false, got ${JSON.stringify(cfg.ema)}`);
  if (!(INIT_MODES as readonly unknown[]).includes(cfg.train_init))
    bad(`train_init must be one of ${INIT_MODES.join(', ')}, got ${JSON.stringify(cfg.train_init)}`);
  pos('init_scale');
  int('rand_n_width', 0);
  int('rand_T_width', 0);
  int('rand_nsup_width', 0);
  if (typeof cfg.rand_nsup_clamp !== 'boolean')
    bad(`rand_nsup_clamp must be true or false, got ${JSON.stringify(cfg.rand_nsup_clamp)}`);
  if (cfg.curriculum !== 'none' && cfg.curriculum !== 'cgar')
    bad(`curriculum must be 'none' or 'cgar', got ${JSON.stringify(cfg.curriculum)}`);
  if (!(typeof cfg.hsw_decay === 'number' && cfg.hsw_decay > 0 && cfg.hsw_decay <= 1))
    bad(`hsw_decay must be in (0, 1], got ${JSON.stringify(cfg.hsw_decay)}`);
  if (!(PRECISIONS as readonly unknown[]).includes(cfg.precision))
    bad(`precision must be one of ${PRECISIONS.join(', ')}, got ${JSON.stringify(cfg.precision)}`);
  if (cfg.milestones !== 'none' && cfg.milestones !== 'sudoku-logic')
    bad(`milestones must be 'none' or 'sudoku-logic', got ${JSON.stringify(cfg.milestones)}`);
  if (cfg.milestone_schedule !== 'step' && cfg.milestone_schedule !== 'spread')
    bad(`milestone_schedule must be 'step' or 'spread', got ${JSON.stringify(cfg.milestone_schedule)}`);
  for (const k of Object.keys(cfg.model))
    if (!modelKeys.includes(k as keyof TrmConfig)) bad(`unknown model key '${k}'`);
  return cfg;
}

/** Parse `key=value` overrides: numbers, true/false, strings; model keys go to `model`. */
export function parseSets(sets: string[]): Partial<TrainConfig> {
  const out: Partial<TrainConfig> & Record<string, unknown> = { model: {} };
  for (const s of sets) {
    const eq = s.indexOf('=');
    if (eq <= 0) bad(`--set expects key=value, got '${s}'`);
    const key = s
        .slice(0, eq)
        .trim()
        .replace(/^model\./, ''),
      raw = s.slice(eq + 1).trim();
    const value: unknown =
      raw === 'true' ? true : raw === 'false' ? false : raw !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
    if (modelKeys.includes(key as keyof TrmConfig)) (out.model as Record<string, unknown>)[key] = value;
    else if (trainKeys.includes(key as keyof TrainConfig)) out[key] = value;
    else bad(`unknown key '${key}' in --set (training: ${trainKeys.join(', ')}; model: ${modelKeys.join(', ')})`);
  }
  return out;
}

/** Training keys added later (milestone supervision, precision), with their off values. */
const LATER_TRAIN_DEFAULTS: Partial<TrainConfig> = {
  milestones: 'none',
  milestone_schedule: 'step',
  precision: 'fp32',
};

/** The training config as files store it: the later keys are left out while off (as storedConfig). */
export function storedTrainConfig(cfg: TrainConfig): Partial<TrainConfig> {
  const out: Record<string, unknown> = { ...cfg };
  for (const [k, v] of Object.entries(LATER_TRAIN_DEFAULTS)) if (out[k] === v) delete out[k];
  return out as Partial<TrainConfig>;
}

/** Model keys that define tensor shapes: resume refuses to change them. */
export const SHAPE_KEYS: (keyof TrmConfig)[] = [
  'hidden_size',
  'expansion',
  'L_layers',
  'puzzle_emb_ndim',
  'puzzle_emb_len',
  'num_puzzle_identifiers',
  'mlp_t',
  'num_heads',
  'vocab_size',
  'seq_len',
  'pos_encodings',
];
