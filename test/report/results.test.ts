/** The results table: mean and sample std, each run's metrics from its files, default columns, the written files. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildResults,
  defaultMetrics,
  formatStat,
  meanStd,
  runMetrics,
  writeResults,
} from '../../src/report/results.js';
import { readRun } from '../../src/report/runs.js';
import { parseSweepSpec } from '../../src/report/spec.js';
import { writeFakeRun } from './fixture.js';

const aggs = ['single', 'cell-vote', 'puzzle-vote', 'oracle'];
// puzzle-vote beats cell-vote at every k; accuracy rises with nsup and k
const acc = (base: number) => (agg: string, k: number, nsup: number) =>
  base + 0.01 * nsup + (agg === 'puzzle-vote' ? 0.02 * k : agg === 'oracle' ? 0.05 * k : 0.01 * k);

function sweepDir() {
  const root = mkdtempSync(join(tmpdir(), 'trm-results-'));
  for (const [v, base] of [
    ['a', 0.2],
    ['b', 0.5],
  ] as const)
    for (const seed of [1, 2, 3])
      writeFakeRun(join(root, v, `seed-${seed}`), {
        seed,
        step: 30,
        total: 30,
        exact: [0.1, base + 0.1 * seed, base],
        scaling: { step: 30, nsup: [1, 4], k: [1, 2], aggregators: aggs, acc: acc(base + 0.01 * seed) },
        ...(v === 'b' && seed < 3
          ? { aas: { step: 30, aas_y: 0.1 * seed, aas_z: 0.2 * seed, pred_match: 0.5, exact_acc: base } }
          : {}),
      });
  return root;
}
const runsOf = (root: string) =>
  ['a', 'b'].flatMap(v => [1, 2, 3].map(s => readRun(join(root, v, `seed-${s}`), `${v}/seed-${s}`)));

describe('meanStd', () => {
  it('is the mean and the n - 1 standard deviation', () => {
    const s = meanStd([1, 2, 3, 4]);
    expect(s.mean).toBe(2.5);
    expect(s.std).toBeCloseTo(Math.sqrt(5 / 3), 12);
    expect(s.n).toBe(4);
  });
  it('has no std for one value and nothing for none', () => {
    expect(meanStd([0.7])).toEqual({ mean: 0.7, std: null, n: 1 });
    expect(meanStd([])).toEqual({ mean: null, std: null, n: 0 });
  });
  it('formats fractions as percent and says when fewer runs have a metric', () => {
    expect(formatStat('exact_acc', { mean: 0.5, std: 0.025, n: 3 }, 3)).toBe('50.0 ± 2.5');
    expect(formatStat('train_s', { mean: 123.4, std: 5.6, n: 2 }, 3)).toBe('123 ± 6 (n=2)');
    expect(formatStat('aas_z', { mean: 0.25, std: null, n: 1 }, 1)).toBe('0.250');
    expect(formatStat('aas_z', { mean: null, std: null, n: 0 }, 3)).toBe('–');
  });
});

describe('run metrics and the table', () => {
  it('takes final and best eval, speed from step_time, scaling at the largest nsup, AAS', () => {
    const root = sweepDir();
    const r = readRun(join(root, 'b', 'seed-2'), 'b/seed-2');
    expect(r.variant).toBe('b');
    expect(r.seed).toBe(2);
    expect([r.step, r.totalSteps]).toEqual([30, 30]);
    const m = runMetrics(r, [
      'exact_acc',
      'best_exact_acc',
      'token_acc',
      'train_s',
      'steps_per_s',
      'lm_loss',
      'single@k1',
      'puzzle-vote@k2',
      'puzzle-vote@k2@nsup1',
      'oracle@k8',
      'aas_z',
    ]);
    expect(m.exact_acc).toBe(0.5);
    expect(m.best_exact_acc).toBeCloseTo(0.7, 12);
    expect(m.token_acc).toBe(0.75);
    expect(m.train_s).toBe(15); // 3 log lines, 10 steps each at 0.5 s
    expect(m.steps_per_s).toBe(2);
    expect(m.lm_loss).toBeCloseTo(2 / 3, 12);
    expect(m['single@k1']).toBeCloseTo(0.52 + 0.04 + 0.01, 12);
    expect(m['puzzle-vote@k2']).toBeCloseTo(0.52 + 0.04 + 0.04, 12);
    expect(m['puzzle-vote@k2@nsup1']).toBeCloseTo(0.52 + 0.01 + 0.04, 12);
    expect(m).not.toHaveProperty('oracle@k8'); // not evaluated: missing, not zero
    expect(m.aas_z).toBeCloseTo(0.4, 12);
  });

  it('defaults to single@k1, the best deployable aggregator at max k and oracle, plus AAS when present', () => {
    const runs = runsOf(sweepDir());
    expect(defaultMetrics(runs)).toEqual([
      'exact_acc',
      'token_acc',
      'best_exact_acc',
      'steps_per_s',
      'train_s',
      'single@k1',
      'puzzle-vote@k2',
      'oracle@k2',
      'aas_y',
      'aas_z',
      'pred_match',
    ]);
    expect(defaultMetrics(runs.filter(r => !r.aas).map(r => ({ ...r, scaling: null })))).toEqual([
      'exact_acc',
      'token_acc',
      'best_exact_acc',
      'steps_per_s',
      'train_s',
    ]);
  });

  it('aggregates per variant over seeds, with n per metric, and drops columns no run has', () => {
    const res = buildResults(runsOf(sweepDir()), ['exact_acc', 'best_exact_acc', 'aas_y', 'oracle@k8']);
    expect(res.metrics).toEqual(['exact_acc', 'best_exact_acc', 'aas_y']);
    expect(res.variants.map(v => [v.variant, v.n])).toEqual([
      ['a', 3],
      ['b', 3],
    ]);
    const a = res.variants[0].metrics,
      b = res.variants[1].metrics;
    expect(a.best_exact_acc.mean).toBeCloseTo(0.4, 12);
    expect(a.best_exact_acc.std).toBeCloseTo(0.1, 12);
    expect([a.exact_acc.mean!, a.exact_acc.std!, a.exact_acc.n]).toEqual([
      expect.closeTo(0.2, 12),
      expect.closeTo(0, 12),
      3,
    ]);
    expect(a.aas_y.n).toBe(0);
    expect(b.aas_y.n).toBe(2);
    expect(b.aas_y.mean).toBeCloseTo(0.15, 12);
    expect(b.aas_y.std).toBeCloseTo(Math.sqrt(0.005), 12);
  });

  it('writes results.json, .csv and .md into OUT', () => {
    const root = sweepDir();
    const spec = parseSweepSpec(
      `data: d\npreset: p\nout: ${root}\nmetrics: [exact_acc, aas_z]\n`,
      join(root, 'spec.yaml'),
    );
    const { files } = writeResults(spec, runsOf(root));
    expect(files.map(f => f.slice(root.length + 1))).toEqual(['results.json', 'results.csv', 'results.md']);
    const json = JSON.parse(readFileSync(files[0], 'utf8'));
    expect(json.type).toBe('sweep-results');
    expect(json.runs.map((r: { dir: string }) => r.dir)).toContain(join('b', 'seed-2'));
    const csv = readFileSync(files[1], 'utf8').trim().split('\n');
    expect(csv[0]).toBe('variant,n,exact_acc_mean,exact_acc_std,exact_acc_n,aas_z_mean,aas_z_std,aas_z_n');
    const b = csv[2].split(',');
    expect(b.slice(0, 5)).toEqual(['b', '3', '0.5', '0', '3']);
    expect(Number(b[5])).toBeCloseTo(0.3, 12);
    expect(Number(b[6])).toBeCloseTo(Math.sqrt(0.02), 12);
    expect(b[7]).toBe('2');
    const md = readFileSync(files[2], 'utf8');
    expect(md).toContain('| variant | n | exact_acc % | aas_z |');
    expect(md).toContain('| b | 3 | 50.0 ± 0.0 | 0.300 ± 0.141 (n=2) |');
    expect(md).toContain('| a | 3 | 20.0 ± 0.0 | – |');
  });
});
