/**
 * schema.ts: the shape of every JSON file trm reads, in one place (zod schemas), and one way to
 * check it: `parseJson(text, schema, file, code)` throws a one-line TrmError naming the file, the
 * field and what was expected, e.g.
 *   data/train/dataset.json: field 'vocab_size': expected number, got null
 * Files: a dataset split's dataset.json; a checkpoint's
 * checkpoint.json and the `trm_model_config` metadata of a safetensors file; a run's config.json,
 * eval/scaling.json, eval/aas.json and a sweep's results.json (read by `trm report`). Also
 * HF_ENDPOINT, which must be an http(s) URL. Range checks that need other fields (tokens below
 * vocab_size, model sizes that fit in memory) stay with the readers.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { TrmError } from '../errors.js';

const int = (min = 0) => z.number().int().min(min);
const num = z.number().refine(Number.isFinite, 'expected a finite number');

// ---- datasets (src/data/dataset.ts) ------------------------------------------------------------

/** The largest index a dataset may declare: arrays are indexed with int32. */
export const MAX_INT32 = 0x7fffffff;

export const datasetMetadataSchema = z
  .object({
    pad_id: int(),
    ignore_label_id: int().nullable().optional(),
    blank_identifier_id: int(),
    vocab_size: int(1).max(256, 'expected at most 256 (tokens are stored as uint8)'),
    seq_len: int(1).max(MAX_INT32),
    num_puzzle_identifiers: int(1).max(MAX_INT32),
    total_groups: int(),
    mean_puzzle_examples: num.min(0),
    total_puzzles: int().optional(),
    sets: z.array(z.string().min(1)).min(1),
  })
  .loose();

// ---- checkpoints (src/train/checkpoint.ts) -----------------------------------------------------

/**
 * A model config as a checkpoint stores it: the type of every field it has. Fields may be missing
 * (a checkpoint older than a field gets its default) and unknown names are left to resolveConfig,
 * which rejects them naming the known ones, so this schema never has to track TrmConfig exactly.
 */
export const modelConfigSchema = z
  .object({
    hidden_size: int(1),
    expansion: num.positive(),
    L_layers: int(1),
    H_cycles: int(1),
    L_cycles: int(1),
    halt_max_steps: int(1),
    halt_exploration_prob: num.min(0).max(1),
    puzzle_emb_ndim: int(),
    puzzle_emb_len: int(),
    num_puzzle_identifiers: int(1),
    pos_encodings: z.enum(['none', 'rope']),
    mlp_t: z.boolean(),
    num_heads: int(1),
    rms_norm_eps: num.positive(),
    rope_theta: num.positive(),
    vocab_size: int(1),
    seq_len: int(1),
    damping: num.min(0),
    train_noise: num.min(0),
  })
  .partial()
  .loose();

/** `trm_model_config` in a safetensors header: the same (only some fields need be named). */
export const partialModelConfigSchema = modelConfigSchema;

/** checkpoint.json (train/checkpoint.ts writes it; its format is checked first, with its own message). */
export const sidecarSchema = z
  .object({
    format: z.string(),
    step: int(),
    total_steps: int(),
    model_config: modelConfigSchema,
    train_config: z
      .object({
        batch_size: int(1),
        seed: int(),
        ema: z.boolean(),
        init_scale: num.positive().optional(),
        train_init: z.string().optional(),
        model: z.record(z.string(), z.unknown()),
      })
      .loose(),
    weights: z.enum(['ema', 'raw']),
    cursor: z.object({ epoch: int(), pos: int() }).loose(),
    sums: z.record(z.string(), num),
    // absent in checkpoints written before these fields existed
    rng: z
      .object({ kind: z.literal('counter'), seed: int() })
      .loose()
      .optional(),
    metrics: z.record(z.string(), z.unknown()).optional(),
    data: z.string().optional(),
    saved_at: z.string().optional(),
  })
  .loose();

// ---- runs and reports (src/report/) ------------------------------------------------------------

export const runConfigSchema = z
  .object({
    train: z.object({ seed: int().optional() }).loose().optional(),
  })
  .loose();

export const checkpointStepSchema = z.object({ step: int(), total_steps: int() }).loose();

export const scalingFileSchema = z
  .object({
    type: z.literal('scaling'),
    step: int().nullable(),
    nsup: z.array(int(1)).min(1),
    k: z.array(int(1)).min(1),
    aggregators: z.array(z.string()),
    rows: z.array(
      z
        .object({
          aggregator: z.string(),
          k: int(1),
          nsup: int(1),
          exact_acc: num,
          token_acc: num,
          noise: num.min(0).optional(),
          compute: int(1).optional(),
        })
        .loose(),
    ),
  })
  .loose();

export const aasFileSchema = z
  .object({
    type: z.literal('aas'),
    step: int().nullable(),
    nsup: int(1),
    aas_y: num,
    aas_z: num,
    pred_match: num,
    exact_acc: num,
    curve: z.array(z.object({ step: int(), pred_match: num }).loose()).optional(),
  })
  .loose();

const statSchema = z.object({ mean: num.nullable(), std: num.nullable(), n: int() });
export const resultsFileSchema = z.object({
  type: z.literal('sweep-results'),
  spec: z.string(),
  metrics: z.array(z.string()),
  variants: z.array(z.object({ variant: z.string(), n: int(), metrics: z.record(z.string(), statSchema) })),
  runs: z.array(
    z.object({
      variant: z.string(),
      seed: int().nullable(),
      dir: z.string(),
      step: int().nullable(),
      total_steps: int().nullable(),
      metrics: z.record(z.string(), num),
    }),
  ),
});

/** One metrics.jsonl record: only `type` and `step` are required; other fields are numbers when present. */
export const metricsLineSchema = z.object({ type: z.string(), step: int() }).loose();

// ---- checking ----------------------------------------------------------------------------------

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

function at(root: unknown, path: PropertyKey[]): unknown {
  let v = root;
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

/** 'model_config.hidden_size', 'rows[3].k' */
function fieldName(path: PropertyKey[]): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i ? '.' : ''}${String(k)}`)).join('');
}

function issueText(issue: z.core.$ZodIssue, value: unknown): string {
  const where = issue.path.length ? `field '${fieldName(issue.path)}'` : 'top level';
  const got = at(value, issue.path);
  if (issue.code === 'invalid_type')
    return got === undefined
      ? `${where}: missing (expected ${issue.expected})`
      : `${where}: expected ${issue.expected}, got ${describe(got)}`;
  if (issue.code === 'unrecognized_keys')
    return `${where}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map(k => `'${k}'`).join(', ')}`;
  const msg = issue.message.replace(/^(Invalid input|Invalid option|Too small|Too big): /, '');
  return `${where}: ${msg}, got ${describe(got)}`;
}

/** Check a parsed value against `schema`; throws TrmError(code) naming `file` and the first bad field. */
export function checkJson<T>(value: unknown, schema: z.ZodType<T>, file: string, code = 'TRM_BAD_JSON'): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new TrmError(code, `${file}: ${issueText(r.error.issues[0], value)}`);
}

/** JSON text -> checked value; invalid JSON is the same one-line error. */
export function parseJson<T>(text: string, schema: z.ZodType<T>, file: string, code = 'TRM_BAD_JSON'): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new TrmError(code, `${file}: not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  return checkJson(value, schema, file, code);
}

/** Read and check a JSON file; a missing or unreadable file is one line too. */
export function readJsonFile<T>(file: string, schema: z.ZodType<T>, code = 'TRM_BAD_JSON'): T {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new TrmError(code, `${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseJson(text, schema, file, code);
}

// ---- environment -------------------------------------------------------------------------------

/** The Hugging Face endpoint: HF_ENDPOINT (an http or https URL) or the public hub. */
export function hfEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  const v = env.HF_ENDPOINT;
  if (v === undefined || v === '') return 'https://huggingface.co';
  let u: URL | undefined;
  try {
    u = new URL(v);
  } catch {
    /* below */
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:'))
    throw new TrmError(
      'TRM_BAD_ENV',
      `HF_ENDPOINT=${JSON.stringify(v)} is not an http(s) URL (e.g. https://huggingface.co or http://127.0.0.1:8080)`,
    );
  return v;
}
