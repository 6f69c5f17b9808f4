/** Reading runs, the figures (Vega-Lite -> SVG -> PNG) and the self-contained HTML report. */
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeReport } from '../../src/report/html.js';
import {
  aasCurveFigure,
  aasFigure,
  computeFigures,
  learningFigures,
  pngRenderer,
  renderSvg,
  scalingFigures,
} from '../../src/report/plots.js';
import { writeResults } from '../../src/report/results.js';
import { evalsByTime, findRunDirs, readMetrics, readRun } from '../../src/report/runs.js';
import { parseSweepSpec } from '../../src/report/spec.js';
import { writeFakeRun } from './fixture.js';

const aggs = ['single', 'cell-vote', 'vote-confidence', 'oracle'];
function sweep(): string {
  const root = mkdtempSync(join(tmpdir(), 'trm-report-'));
  for (const [v, b] of [
    ['baseline', 0.3],
    ['deep-n4', 0.6],
  ] as const)
    for (const seed of [1, 2])
      writeFakeRun(join(root, 'study', v, `seed-${seed}`), {
        seed,
        step: 30,
        total: 30,
        exact: [0.1, b, b + 0.05 * seed],
        scaling: {
          step: 30,
          nsup: [1, 2, 4, 8],
          k: [1, 4],
          aggregators: aggs,
          acc: (a, k, n, noise) => (b * n) / 8 + 0.01 * k + noise / 10,
          // deep-n4 as written now (noise axis, compute column); baseline as files from before them
          ...(v === 'deep-n4' ? { noise: [0, 0.3] } : {}),
        },
        aas: { step: 30, aas_y: 0.2, aas_z: 0.3 + 0.1 * seed, pred_match: 0.7, exact_acc: b },
      });
  return root;
}
const runs = (root: string) => findRunDirs([join(root, 'study')]).map(f => readRun(f.dir, f.name));

describe('reading runs', () => {
  it('finds the runs of a sweep, named by their path under it (and under its name when several paths are given)', () => {
    const root = sweep();
    expect(findRunDirs([join(root, 'study')]).map(f => f.name)).toEqual([
      'baseline/seed-1',
      'baseline/seed-2',
      'deep-n4/seed-1',
      'deep-n4/seed-2',
    ]);
    const two = findRunDirs([join(root, 'study', 'baseline'), join(root, 'study', 'deep-n4', 'seed-1')]);
    expect(two.map(f => f.name)).toEqual(['baseline/seed-1', 'baseline/seed-2', 'seed-1']);
    expect(readRun(two[1].dir, two[1].name).variant).toBe('baseline');
    expect(() => findRunDirs([join(root, 'nothing')])).toThrow(/nothing: no such directory/);
    expect(() => findRunDirs([mkdtempSync(join(tmpdir(), 'trm-empty-'))])).toThrow(/no run directories/);
  });

  it('takes an evaluation directory of its own (trm eval --out DIR: scaling.json, no metrics.jsonl) as a run', () => {
    const root = sweep();
    const evalDir = join(root, 'b0-on-b3-randinit');
    mkdirSync(evalDir);
    copyFileSync(join(root, 'study', 'deep-n4', 'seed-1', 'eval', 'scaling.json'), join(evalDir, 'scaling.json'));
    const found = findRunDirs([evalDir, join(root, 'study', 'baseline', 'seed-1')]);
    expect(found.map(f => f.name)).toEqual(['b0-on-b3-randinit', 'seed-1']);
    const r = readRun(found[0].dir, found[0].name);
    expect(r.train).toEqual([]);
    expect(r.scaling?.rows.length).toBeGreaterThan(0);
    expect(computeFigures([r]).map(f => f.name)).toEqual(['compute-b0-on-b3-randinit']);
    expect(learningFigures([r])).toEqual([]);
  });

  it('ignores an unfinished last metrics line but not a damaged one in the middle', () => {
    const file = join(sweep(), 'study', 'baseline', 'seed-1', 'metrics.jsonl');
    appendFileSync(file, '{"type":"train","st');
    expect(readMetrics(file).evals).toHaveLength(3);
    writeFileSync(
      file,
      '{"type":"eval","step":1,"exact_acc":0,"token_acc":0}\nnot json\n{"type":"eval","step":2,"exact_acc":0,"token_acc":0}\n',
    );
    expect(() => readMetrics(file)).toThrow(/metrics\.jsonl:2: not a JSON line/);
  });
});

describe('figures', () => {
  it('learning curves: one line per variant, SVG with no embedded fonts', async () => {
    const figs = learningFigures(runs(sweep()));
    expect(figs.map(f => f.name)).toEqual(['learning-exact', 'learning-loss', 'learning-time']);
    const svg = await renderSvg(figs[0].spec);
    expect(svg).toMatch(/^<svg [^>]*width="\d+" height="\d+"/);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    for (const s of ['baseline', 'deep-n4', 'Held-out exact accuracy', 'training step'])
      expect(svg).toContain(`>${s}<`);
    expect(svg).not.toMatch(/@font-face|<script|<image/);
    expect(svg.length).toBeLessThan(40_000);
  });

  it('time to accuracy: evaluations against the logged step times plus evaluation seconds, gaps left out', async () => {
    const train = [10, 20, 40].map(step => ({ type: 'train' as const, step, lm_loss: 1, step_time: 0.5 }));
    // an evaluation at step 20 that took 30 s, one at 40 with no seconds field (older files)
    const evals = [
      { type: 'eval' as const, step: 20, exact_acc: 0.25, token_acc: 0.5, seconds: 30 },
      { type: 'eval' as const, step: 40, exact_acc: 0.5, token_acc: 0.7 },
    ];
    // 20 steps x 0.5 s = 10 s, +30 s of evaluation = 40 s; then 20 more steps = 10 s -> 50 s
    expect(evalsByTime(train, evals)).toEqual([
      { step: 20, minutes: 40 / 60, exact: 0.25 },
      { step: 40, minutes: 50 / 60, exact: 0.5 },
    ]);
    const svg = await renderSvg(learningFigures(runs(sweep()))[2].spec);
    for (const s of ['Time to accuracy', 'training time (minutes)', 'exact accuracy', 'baseline', 'deep-n4'])
      expect(svg).toContain(`>${s}<`);
  });

  it('test-time scaling: one figure per variant, a panel per k, a line per aggregator on a log2 N_sup axis', async () => {
    const figs = scalingFigures(runs(sweep()));
    expect(figs.map(f => f.name)).toEqual(['scaling-baseline', 'scaling-deep-n4']);
    const svg = await renderSvg(figs[1].spec);
    for (const s of ['Test-time scaling: deep-n4', 'k = 1', 'k = 4', 'N_sup', ...aggs]) expect(svg).toContain(`>${s}<`);
    for (const tick of ['1', '2', '4', '8']) expect(svg).toContain(`>${tick}</text>`);
    expect(svg).not.toContain('>3</text>'); // log2 axis: ticks at the evaluated N_sup only
  });

  it('accuracy vs compute: one figure per variant, a line per aggregator (and noise std) on a log2 k x N_sup axis', async () => {
    const figs = computeFigures(runs(sweep()));
    expect(figs.map(f => f.name)).toEqual(['compute-baseline', 'compute-deep-n4']);
    const deep = await renderSvg(figs[1].spec);
    for (const s of [
      'Accuracy vs compute: deep-n4',
      'supervision steps per puzzle (k × N_sup)',
      'exact accuracy',
      ...aggs,
      'oracle σ=0.3',
      'single σ=0.3',
    ])
      expect(deep).toContain(`>${s}<`);
    // compute ticks: k x N_sup for k in {1, 4}, N_sup in {1, 2, 4, 8}
    for (const tick of ['1', '2', '4', '8', '16', '32']) expect(deep).toContain(`>${tick}</text>`);
    // files from before the compute column: compute is k x N_sup, no noise series
    const base = await renderSvg(figs[0].spec);
    expect(base).toContain('>32</text>');
    expect(base).not.toContain('σ=');
    const data = (figs[0].spec as { data: { values: { series: string; k: number; nsup: number; compute: number }[] } })
      .data.values;
    expect(data.every(x => x.compute === x.k * x.nsup)).toBe(true);
  });

  it('AAS scatter: aas_z and pred_match against exact accuracy, one point per run', async () => {
    const fig = aasFigure(runs(sweep()))!;
    const svg = await renderSvg(fig.spec);
    for (const s of ['aas_z', 'pred_match', 'exact accuracy', 'baseline', 'deep-n4']) expect(svg).toContain(`>${s}<`);
    expect(aasFigure(runs(sweep()).map(r => ({ ...r, aas: null })))).toBeNull();
  });

  it('AAS curve: cells agreeing after each pass-2 step, one line per variant', async () => {
    const fig = aasCurveFigure(runs(sweep()))!;
    expect(fig.name).toBe('aas-curve');
    const svg = await renderSvg(fig.spec);
    for (const s of ['pass-2 supervision step', 'cells agreeing', 'baseline', 'deep-n4'])
      expect(svg).toContain(`>${s}<`);
    expect(aasCurveFigure(runs(sweep()).map(r => ({ ...r, aas: null })))).toBeNull();
  });

  it('renders PNG from the SVG with resvg', async () => {
    const png = await pngRenderer();
    expect(typeof png).toBe('function');
    const bytes = (png as (s: string) => Buffer)(await renderSvg(learningFigures(runs(sweep()))[1].spec));
    expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(bytes.readUInt32BE(16)).toBeGreaterThan(900); // 2x the ~480 px plot width
  });
});

describe('writeReport', () => {
  it('writes SVG + PNG per figure and one page with inline SVG, the runs and the sweep results', async () => {
    const root = sweep(),
      study = join(root, 'study');
    writeResults(parseSweepSpec(`data: d\npreset: p\nout: ${study}\n`, join(root, 'spec.yaml')), runs(root));
    const out = join(root, 'report');
    const r = await writeReport({ paths: [study], out, title: 'Depth <study>' });
    expect(r.runs).toBe(4);
    expect(r.warning).toBeNull();
    expect(r.files.map(f => f.slice(out.length + 1))).toEqual(
      [
        'learning-exact',
        'learning-loss',
        'learning-time',
        'scaling-baseline',
        'scaling-deep-n4',
        'compute-baseline',
        'compute-deep-n4',
        'aas',
        'aas-curve',
      ].flatMap(n => [`${n}.svg`, `${n}.png`]),
    );
    const html = readFileSync(r.index, 'utf8');
    expect(html).toContain('<title>Depth &lt;study&gt;</title>');
    expect((html.match(/<figure><svg /g) ?? []).length).toBe(9);
    expect(html).not.toMatch(/<script|<link|src="http/);
    for (const name of ['baseline/seed-1', 'baseline/seed-2', 'deep-n4/seed-1', 'deep-n4/seed-2'])
      expect(html).toContain(`<td>${name}</td>`);
    expect(html).toContain(`Sweep results: ${study}`);
    expect(html).toContain('<td>deep-n4</td><td>2</td><td>67.5 ± 3.5</td>'); // final exact_acc: 65% and 70%
    expect(html).toContain(readFileSync(join(out, 'learning-loss.svg'), 'utf8').slice(0, 1000));
  });
});
