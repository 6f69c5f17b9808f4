/**
 * spec.ts: the sweep spec (a YAML file; format in docs/REPORTS.md), parsed and checked, and its
 * expansion into runs: variants x grid x seeds, each with its `--set` list and its directory
 * OUT/<variant>/seed-<s>/. Paths in the spec are relative to the spec file. Every error is one
 * line naming the file, the key and what was expected. Training keys themselves are checked
 * later against the trainer's config (sweep.ts), so this file knows nothing about them.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { TrmError } from '../errors.js';
import { AGGREGATORS } from '../experiments/aggregate.js';

export type SetValue = number | boolean | string;
export type SetMap = Record<string, SetValue>;

export interface EvalSpec {
  /** test-time scaling grid (scaling.json); null = no scaling eval */
  scaling: { nsup: number[]; k: number[]; aggregate: string[] | null } | null;
  /** AAS eval (aas.json): false, or the supervision steps to run (null = the checkpoint's N_sup) */
  aas: false | { nsup: number | null };
  init: string | null;
  limit: number | null;
}

export interface SweepSpec {
  file: string;
  /** absolute paths */
  data: string;
  out: string;
  preset: string;
  seeds: number[];
  set: SetMap;
  variants: { name: string; set: SetMap }[];
  grid: Record<string, SetValue[]>;
  eval: EvalSpec | null;
  /** result-table columns (results.ts grammar); null = the defaults */
  metrics: string[] | null;
}

export interface SweepRun {
  variant: string;
  seed: number;
  dir: string;
  /** `key=value` for `trm train --set`: common, then variant, then grid, then seed */
  sets: string[];
}

const TOP_KEYS = ['data', 'preset', 'out', 'seeds', 'set', 'variants', 'grid', 'eval', 'metrics'];
const EVAL_KEYS = ['nsup', 'k', 'aggregate', 'init', 'aas', 'limit'];
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/; // safe as a directory name
const KEY_RE = /^[A-Za-z_][A-Za-z0-9_.]*$/;

const show = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v));
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown, min: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min;

/** Parse and check a sweep spec file. */
export function readSweepSpec(file: string): SweepSpec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new TrmError(
      'TRM_BAD_SPEC',
      `${file}: cannot read the sweep spec (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  return parseSweepSpec(text, file);
}

/** Parse and check spec text; `file` names it in errors and anchors relative paths. */
export function parseSweepSpec(text: string, file: string): SweepSpec {
  const fail = (key: string, expected: string, got: unknown): never => {
    throw new TrmError('TRM_BAD_SPEC', `${file}: ${key}: expected ${expected}, got ${show(got)}`);
  };
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new TrmError('TRM_BAD_SPEC', `${file}: not valid YAML (${(e as Error).message.split('\n')[0]})`);
  }
  if (!isObj(doc)) fail('top level', 'a mapping with data, preset, out, seeds, ...', doc);
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d)) if (!TOP_KEYS.includes(k)) fail(k, `one of the keys ${TOP_KEYS.join(', ')}`, k);
  const str = (key: string, v: unknown): string =>
    typeof v === 'string' && v.trim() ? v : fail(key, 'a non-empty string', v);
  const ints = (key: string, v: unknown, min: number): number[] => {
    if (!Array.isArray(v) || !v.length || !v.every(x => isInt(x, min)))
      fail(key, `a non-empty list of integers >= ${min}`, v);
    const xs = v as number[];
    if (new Set(xs).size !== xs.length) fail(key, 'distinct values', v);
    return xs;
  };
  const sets = (key: string, v: unknown): SetMap => {
    if (v === undefined || v === null) return {};
    if (!isObj(v)) fail(key, 'a mapping of training keys to values, e.g. { steps: 1000 }', v);
    for (const [k, x] of Object.entries(v as object)) {
      if (!KEY_RE.test(k)) fail(`${key}.${k}`, 'a training or model key name', k);
      if (k === 'seed') fail(`${key}.seed`, "no seed here: seeds come from the top-level 'seeds' list", x);
      if (!['number', 'boolean', 'string'].includes(typeof x))
        fail(`${key}.${k}`, 'a number, true/false or a string', x);
    }
    return v as SetMap;
  };

  const base = dirname(resolve(file));
  const spec: SweepSpec = {
    file,
    data: resolve(base, str('data', d.data)),
    preset: str('preset', d.preset),
    out: resolve(base, str('out', d.out)),
    seeds: d.seeds === undefined ? [0] : ints('seeds', d.seeds, 0),
    set: sets('set', d.set),
    variants: [],
    grid: {},
    eval: null,
    metrics: null,
  };

  if (d.variants !== undefined) {
    if (!Array.isArray(d.variants) || !d.variants.length)
      fail('variants', 'a non-empty list of { name, set }', d.variants);
    (d.variants as unknown[]).forEach((v, i) => {
      const key = `variants[${i}]`;
      if (!isObj(v)) fail(key, 'a mapping { name: NAME, set: { ... } }', v);
      const vo = v as Record<string, unknown>;
      for (const k of Object.keys(vo))
        if (k !== 'name' && k !== 'set') fail(`${key}.${k}`, 'only the keys name and set', k);
      const name = str(`${key}.name`, vo.name);
      if (!NAME_RE.test(name)) fail(`${key}.name`, 'letters, digits, . _ + - (it names a directory)', name);
      if (spec.variants.some(x => x.name === name)) fail(`${key}.name`, 'a name not used by another variant', name);
      spec.variants.push({ name, set: sets(`${key}.set`, vo.set) });
    });
  }

  if (d.grid !== undefined) {
    if (!isObj(d.grid) || !Object.keys(d.grid).length)
      fail('grid', 'a mapping of keys to lists of values, e.g. { lr: [1e-3, 2e-3] }', d.grid);
    for (const [k, vs] of Object.entries(d.grid as object)) {
      const key = `grid.${k}`;
      if (!KEY_RE.test(k)) fail(key, 'a training or model key name', k);
      if (k === 'seed') fail(key, "no seed here: seeds come from the top-level 'seeds' list", vs);
      if (!Array.isArray(vs) || !vs.length) fail(key, 'a non-empty list of values', vs);
      for (const x of vs as unknown[])
        if (!['number', 'boolean', 'string'].includes(typeof x) || !NAME_RE.test(String(x)))
          fail(key, 'numbers, true/false or plain words (they name directories)', x);
      if (new Set((vs as unknown[]).map(String)).size !== (vs as unknown[]).length) fail(key, 'distinct values', vs);
      if (k in spec.set) fail(key, `a key not also in 'set' (it would be ambiguous)`, k);
      for (const v of spec.variants)
        if (k in v.set) fail(key, `a key not also in variant '${v.name}' set (it would be ambiguous)`, k);
      spec.grid[k] = vs as SetValue[];
    }
  }

  if (d.eval !== undefined && d.eval !== null) {
    if (!isObj(d.eval)) fail('eval', 'a mapping with nsup, k, aggregate, init, aas, limit', d.eval);
    const e = d.eval as Record<string, unknown>;
    for (const k of Object.keys(e))
      if (!EVAL_KEYS.includes(k)) fail(`eval.${k}`, `one of the keys ${EVAL_KEYS.join(', ')}`, k);
    if (e.k !== undefined && e.nsup === undefined)
      fail('eval.nsup', 'a list of supervision-step counts (required with eval.k)', e.nsup);
    let aggregate: string[] | null = null;
    if (e.aggregate !== undefined) {
      if (
        !Array.isArray(e.aggregate) ||
        !e.aggregate.length ||
        !e.aggregate.every(a => (AGGREGATORS as readonly unknown[]).includes(a))
      )
        fail('eval.aggregate', `a non-empty list of ${AGGREGATORS.join(', ')}`, e.aggregate);
      aggregate = e.aggregate as string[];
    }
    const aas =
      e.aas === undefined || e.aas === false
        ? (false as const)
        : e.aas === true
          ? { nsup: null }
          : isInt(e.aas, 1)
            ? { nsup: e.aas }
            : fail('eval.aas', 'true, false or a supervision-step count', e.aas);
    spec.eval = {
      scaling:
        e.nsup === undefined
          ? null
          : { nsup: ints('eval.nsup', e.nsup, 1), k: e.k === undefined ? [1] : ints('eval.k', e.k, 1), aggregate },
      aas,
      init: e.init === undefined ? null : str('eval.init', e.init),
      limit:
        e.limit === undefined ? null : isInt(e.limit, 1) ? e.limit : fail('eval.limit', 'an integer >= 1', e.limit),
    };
    if (!spec.eval.scaling && !spec.eval.aas) fail('eval', 'nsup (test-time scaling) and/or aas: true', d.eval);
  }

  if (d.metrics !== undefined) {
    if (
      !Array.isArray(d.metrics) ||
      !d.metrics.length ||
      !d.metrics.every(m => typeof m === 'string' && METRIC_RE.test(m))
    )
      fail(
        'metrics',
        `a list of metric names (${METRIC_NAMES.join(', ')}, AGGREGATOR@kK or AGGREGATOR@kK@nsupN)`,
        d.metrics,
      );
    spec.metrics = d.metrics as string[];
  }
  return spec;
}

/** Run metrics a results table can show (results.ts computes them). */
export const METRIC_NAMES = [
  'exact_acc',
  'token_acc',
  'best_exact_acc',
  'exact_acc_halting',
  'mean_halt_steps',
  'lm_loss',
  'steps_per_s',
  'train_s',
  'net_calls',
  'aas_y',
  'aas_z',
  'pred_match',
];
const METRIC_RE = new RegExp(`^(${METRIC_NAMES.join('|')}|(${AGGREGATORS.join('|')})@k\\d+(@nsup\\d+)?)$`);

/** All combinations of the grid's values, in spec order (the last key varies fastest). */
export function gridPoints(grid: Record<string, SetValue[]>): SetMap[] {
  let points: SetMap[] = [{}];
  for (const [k, vs] of Object.entries(grid)) points = points.flatMap(p => vs.map(v => ({ ...p, [k]: v })));
  return points;
}

/** Variant names in order: `<variant>` and/or `key=value` parts joined by ',' ('default' when neither). */
export function expandRuns(spec: SweepSpec): SweepRun[] {
  const variants = spec.variants.length ? spec.variants : [{ name: '', set: {} }];
  const runs: SweepRun[] = [];
  for (const v of variants)
    for (const g of gridPoints(spec.grid)) {
      const name = [v.name, ...Object.entries(g).map(([k, x]) => `${k}=${x}`)].filter(Boolean).join(',') || 'default';
      const merged: SetMap = { ...spec.set, ...v.set, ...g };
      for (const seed of spec.seeds)
        runs.push({
          variant: name,
          seed,
          dir: join(spec.out, name, `seed-${seed}`),
          sets: [...Object.entries(merged).map(([k, x]) => `${k}=${x}`), `seed=${seed}`],
        });
    }
  return runs;
}
