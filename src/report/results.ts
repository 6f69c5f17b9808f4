/**
 * results.ts: a sweep's results table. Each run's final metrics (last eval line, best eval,
 * training speed, scaling and AAS results) and, per variant, mean +- sample std (n - 1) over
 * the seeds that have the metric. Written as OUT/results.{json,csv,md}, each atomically.
 * Metric names (spec.ts METRIC_NAMES) plus `AGG@kK` = scaling exact_acc of aggregator AGG with
 * k samples at the largest N_sup evaluated (`AGG@kK@nsupN` at N_sup N).
 */
import { join, relative } from 'node:path';
import { writeFileAtomic } from '../io/files.js';
import { type RunData, trainSeconds } from './runs.js';
import type { SweepSpec } from './spec.js';

export interface Stat {
  mean: number | null;
  std: number | null;
  n: number;
}
export interface VariantRow {
  variant: string;
  n: number;
  metrics: Record<string, Stat>;
}
export interface RunRow {
  variant: string;
  seed: number | null;
  dir: string;
  step: number | null;
  total_steps: number | null;
  metrics: Record<string, number>;
}
export interface Results {
  type: 'sweep-results';
  spec: string;
  metrics: string[];
  variants: VariantRow[];
  runs: RunRow[];
}

/** Mean and sample standard deviation (n - 1; null for n < 2). */
export function meanStd(xs: number[]): Stat {
  const n = xs.length;
  if (!n) return { mean: null, std: null, n };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const std = n < 2 ? null : Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  return { mean, std, n };
}

/** Scaling exact_acc for `AGG@kK[@nsupN]` (largest N_sup when none is named). */
function scalingMetric(r: RunData, name: string): number | undefined {
  const m = /^(.+)@k(\d+)(?:@nsup(\d+))?$/.exec(name);
  if (!m || !r.scaling) return undefined;
  const nsup = m[3] ? Number(m[3]) : Math.max(...r.scaling.rows.map(x => x.nsup));
  return r.scaling.rows.find(x => x.aggregator === m[1] && x.k === Number(m[2]) && x.nsup === nsup)?.exact_acc;
}

/** Measured forward net calls per sample per step, T (n + 1), averaged over the run (randomised recursion, curricula). */
function netCalls(r: RunData): number | undefined {
  let sum = 0,
    steps = 0,
    prev = 0;
  for (const t of r.train) {
    if (typeof t.net_calls !== 'number') return undefined; // runs from before the field existed
    sum += t.net_calls * (t.step - prev);
    steps += t.step - prev;
    prev = t.step;
  }
  return steps > 0 ? sum / steps : undefined;
}

/** One run's value of every metric it has. */
export function runMetrics(r: RunData, names: string[]): Record<string, number> {
  const last = r.evals.at(-1),
    lastTrain = r.train.at(-1);
  const trainS = trainSeconds(r.train).at(-1) ?? 0;
  const base: Record<string, number | undefined> = {
    exact_acc: last?.exact_acc,
    token_acc: last?.token_acc,
    exact_acc_halting: last?.exact_acc_halting,
    mean_halt_steps: last?.mean_halt_steps,
    best_exact_acc: r.evals.length ? Math.max(...r.evals.map(e => e.exact_acc)) : undefined,
    lm_loss: lastTrain?.lm_loss,
    train_s: lastTrain ? trainS : undefined,
    steps_per_s: lastTrain && trainS > 0 ? lastTrain.step / trainS : undefined,
    aas_y: r.aas?.aas_y,
    aas_z: r.aas?.aas_z,
    pred_match: r.aas?.pred_match,
    net_calls: netCalls(r),
  };
  const out: Record<string, number> = {};
  for (const n of names) {
    const v = n in base ? base[n] : scalingMetric(r, n);
    if (typeof v === 'number' && Number.isFinite(v)) out[n] = v;
  }
  return out;
}

/**
 * Default columns: final/best eval accuracy and speed; with scaling results, `single@k1` (one
 * sample, the plain model), the best deployable aggregator at the largest k (highest mean over
 * all runs; oracle excluded: it needs the labels) and `oracle@kK` (pass@k, the ceiling); AAS.
 */
export function defaultMetrics(runs: RunData[]): string[] {
  const names = ['exact_acc', 'token_acc', 'best_exact_acc', 'steps_per_s', 'train_s'];
  if (runs.some(r => netCalls(r) !== undefined)) names.push('net_calls');
  const scaled = runs.filter(r => r.scaling);
  if (scaled.length) {
    const kmax = Math.max(...scaled.flatMap(r => r.scaling!.k));
    const aggs = [...new Set(scaled.flatMap(r => r.scaling!.aggregators))].filter(
      a => a !== 'single' && a !== 'oracle',
    );
    const score = (a: string) =>
      meanStd(scaled.map(r => scalingMetric(r, `${a}@k${kmax}`)).filter((v): v is number => v !== undefined)).mean ??
      -1;
    const best = aggs.sort((a, b) => score(b) - score(a))[0];
    names.push('single@k1', ...(best ? [`${best}@k${kmax}`] : []), `oracle@k${kmax}`);
  }
  if (runs.some(r => r.aas)) names.push('aas_y', 'aas_z', 'pred_match');
  return names;
}

/** The table: one row per variant (spec order), one column per metric, over the runs given. */
export function buildResults(runs: RunData[], metrics: string[], specFile = ''): Results {
  const rows = runs.map(r => ({
    variant: r.variant,
    seed: r.seed,
    dir: r.dir,
    step: r.step,
    total_steps: r.totalSteps,
    metrics: runMetrics(r, metrics),
  }));
  const names = [...new Set(rows.map(r => r.variant))];
  const variants = names.map(v => {
    const mine = rows.filter(r => r.variant === v);
    const stats = Object.fromEntries(
      metrics.map(m => [m, meanStd(mine.map(r => r.metrics[m]).filter(x => x !== undefined))]),
    );
    return { variant: v, n: mine.length, metrics: stats };
  });
  // drop columns no run has (e.g. a default AAS column when AAS was never run)
  const used = metrics.filter(m => variants.some(v => v.metrics[m].n > 0));
  for (const v of variants) v.metrics = Object.fromEntries(used.map(m => [m, v.metrics[m]]));
  return { type: 'sweep-results', spec: specFile, metrics: used, variants, runs: rows };
}

/** Accuracy-like metrics print as percentages with 1 decimal; the rest with decimals by magnitude. */
const isFraction = (m: string) => /acc|@k|pred_match/.test(m);
export function formatStat(m: string, s: Stat, n: number): string {
  if (s.mean === null) return '–';
  const scale = isFraction(m) ? 100 : 1,
    a = Math.abs(s.mean * scale);
  const digits = isFraction(m) ? 1 : a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  const f = (x: number) => (x * scale).toFixed(digits);
  return `${f(s.mean)}${s.std !== null ? ` ± ${f(s.std)}` : ''}${s.n !== n ? ` (n=${s.n})` : ''}`;
}
export const metricHeader = (m: string) => (isFraction(m) ? `${m} %` : m);

export function resultsMarkdown(res: Results, title: string): string {
  const head = ['variant', 'n', ...res.metrics.map(metricHeader)];
  return [
    `# ${title}`,
    '',
    'Mean ± sample std (n − 1) over the n seeds of each variant; a cell computed from fewer runs says so.',
    '`AGG@kK`: test-time scaling exact accuracy of aggregator AGG with k samples at the largest N_sup evaluated.',
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...res.variants.map(
      v => `| ${[v.variant, v.n, ...res.metrics.map(m => formatStat(m, v.metrics[m], v.n))].join(' | ')} |`,
    ),
    '',
  ].join('\n');
}

export function resultsCsv(res: Results): string {
  const q = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const head = ['variant', 'n', ...res.metrics.flatMap(m => [`${m}_mean`, `${m}_std`, `${m}_n`])];
  const num = (x: number | null) => (x === null ? '' : String(x));
  return (
    [
      head.join(','),
      ...res.variants.map(v =>
        [
          q(v.variant),
          v.n,
          ...res.metrics.flatMap(m => [num(v.metrics[m].mean), num(v.metrics[m].std), v.metrics[m].n]),
        ].join(','),
      ),
    ].join('\n') + '\n'
  );
}

/** OUT/results.{json,csv,md} for a sweep's runs; run paths in the JSON are relative to OUT. */
export function writeResults(spec: SweepSpec, runs: RunData[]): { results: Results; files: string[] } {
  const res = buildResults(runs, spec.metrics ?? defaultMetrics(runs), spec.file);
  for (const r of res.runs) r.dir = relative(spec.out, r.dir);
  const files = ['json', 'csv', 'md'].map(e => join(spec.out, `results.${e}`));
  writeFileAtomic(files[0], JSON.stringify(res, null, 2) + '\n');
  writeFileAtomic(files[1], resultsCsv(res));
  writeFileAtomic(files[2], resultsMarkdown(res, `Sweep results: ${spec.file}`));
  return { results: res, files };
}
