/**
 * plots.ts: the report's figures as Vega-Lite specs (a grammar of graphics: data + marks +
 * encodings, so a figure is a few lines of data, not hand-placed SVG), rendered in Node with
 * Vega's headless View (renderer 'none', then toSVG) and to PNG with resvg (Rust, no cairo or
 * canvas). SVGs carry no fonts (font-family names only) and are ~480x300, small enough to commit.
 * Figures: learning curves (eval exact accuracy, train lm loss), test-time scaling per variant
 * (exact vs N_sup, colour = aggregator, one panel per k), accuracy against compute per variant
 * (exact vs supervision steps per puzzle, k x N_sup: a line per aggregator and noise std through
 * the best (k, N_sup) at each cost, a point per (k, N_sup)), AAS scatter (one point per run).
 */
import { join } from 'node:path';
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from '../io/files.js';
import { evalsByTime, type RunData, type ScalingRow } from './runs.js';

export interface Figure {
  /** file stem: <name>.svg / <name>.png */
  name: string;
  title: string;
  spec: TopLevelSpec;
}

const W = 480,
  H = 300;
// aria: false drops the per-mark ARIA labels, which are most of the bytes of a plain SVG
const config = { aria: false, font: 'sans-serif', legend: { labelLimit: 220 }, view: { stroke: '#ddd' } };
const series = { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 3 } } as const;

/** A line per series (mean over its runs), with a +-1 std band where a series has several runs. */
function curve(
  name: string,
  title: string,
  yTitle: string,
  rows: { series: string; step: number; value: number }[],
  band: boolean,
  zero: boolean,
  xTitle = 'training step',
): Figure {
  const x = { field: 'step', type: 'quantitative', title: xTitle } as const;
  const y = { field: 'value', type: 'quantitative', title: yTitle, scale: { zero } } as const;
  return {
    name,
    title,
    spec: {
      title,
      width: W,
      height: H,
      config,
      data: { values: rows },
      // the band's legend is off; independent legends keep the line's (a shared one would take the band's null)
      resolve: { legend: { color: 'independent' } },
      layer: [
        ...(band
          ? [
              {
                mark: { type: 'errorband', extent: 'stdev', opacity: 0.2 },
                encoding: { x, y, color: { ...series, legend: null } },
              } as const,
            ]
          : []),
        {
          mark: { type: 'line', point: rows.length <= 200 },
          encoding: { x, y: { ...y, aggregate: 'mean' }, color: series },
        },
      ],
    } as TopLevelSpec,
  };
}

/**
 * Learning curves, one line per variant (mean over seeds): eval exact accuracy and train lm loss vs
 * step, and eval exact accuracy vs training minutes (time to accuracy; runs.ts evalsByTime) when
 * the runs logged step times.
 */
export function learningFigures(runs: RunData[]): Figure[] {
  const band = runs.some(r => runs.filter(q => q.variant === r.variant).length > 1);
  const evals = runs.flatMap(r => r.evals.map(e => ({ series: r.variant, step: e.step, value: e.exact_acc })));
  const loss = runs.flatMap(r => r.train.map(t => ({ series: r.variant, step: t.step, value: t.lm_loss })));
  // the time axis goes in the 'step' field so curve() serves both; seeds of a variant differ in
  // their minutes, so a band (mean over runs at one x) would be meaningless there
  const timed = runs.flatMap(r =>
    r.train.length
      ? evalsByTime(r.train, r.evals).map(e => ({ series: r.variant, step: e.minutes, value: e.exact }))
      : [],
  );
  const out: Figure[] = [];
  if (evals.length) out.push(curve('learning-exact', 'Held-out exact accuracy', 'exact accuracy', evals, band, true));
  if (loss.length) out.push(curve('learning-loss', 'Training lm loss', 'lm loss', loss, band, false));
  if (timed.length)
    out.push(
      curve('learning-time', 'Time to accuracy', 'exact accuracy', timed, false, true, 'training time (minutes)'),
    );
  return out;
}

const byAggregator = {
  field: 'series',
  type: 'nominal',
  title: 'aggregator',
  legend: { orient: 'bottom', columns: 3 },
} as const;

/** Test-time scaling of one variant: exact accuracy vs N_sup (log2), colour = aggregator, a panel per k. */
export function scalingFigure(variant: string, rows: ScalingRow[]): Figure {
  const nsup = [...new Set(rows.map(r => r.nsup))].sort((a, b) => a - b);
  const ks = new Set(rows.map(r => r.k)).size,
    cols = Math.min(2, ks);
  const title = `Test-time scaling: ${variant}`;
  return {
    name: `scaling-${variant.replace(/[^A-Za-z0-9._=+-]/g, '_')}`,
    title,
    spec: {
      title,
      config,
      // one line per aggregator and noise std (series), so noise levels are not averaged together
      data: { values: rows.map(r => ({ ...r, series: computeSeries(r) })) },
      columns: cols,
      facet: { field: 'k', type: 'ordinal', title: null, header: { labelExpr: "'k = ' + (datum.label)" } }, // parentheses: Vega-Lite inlines datum.label as an unbracketed a ? b : c
      spec: {
        width: Math.round(W / cols) - 20,
        height: Math.round(H / Math.ceil(ks / cols)) - (ks > 2 ? 20 : 0),
        // aggregators often coincide (k = 1, or all chains agreeing): dashes and point shapes keep every line visible
        mark: { type: 'line', point: true, opacity: 0.85 },
        encoding: {
          x: {
            field: 'nsup',
            type: 'quantitative',
            title: 'N_sup',
            scale: { type: 'log', base: 2 },
            axis: { values: nsup, format: 'd' },
          },
          y: {
            field: 'exact_acc',
            type: 'quantitative',
            aggregate: 'mean',
            title: 'exact accuracy',
            scale: { domain: [0, 1] },
          },
          color: byAggregator,
          strokeDash: byAggregator,
          shape: byAggregator,
        },
      },
    } as TopLevelSpec,
  };
}

/** A scaling row's series in the compute figure: the aggregator, and the noise std when there is one. */
export function computeSeries(r: ScalingRow): string {
  return r.noise ? `${r.aggregator} σ=${r.noise}` : r.aggregator;
}

/**
 * Accuracy against compute of one variant: exact accuracy vs supervision steps per puzzle
 * (k x N_sup, log2), colour = aggregator (and noise std); a point per (k, N_sup), shape = k, and a
 * line per series through the best point at each compute, so width (k) and depth (N_sup) compare
 * at equal cost. Seeds are averaged per point first. Rows of files written before the compute
 * column take k x N_sup and noise 0.
 */
export function computeFigure(variant: string, rows: ScalingRow[]): Figure {
  const data = rows.map(r => ({
    series: computeSeries(r),
    k: r.k,
    nsup: r.nsup,
    compute: r.compute ?? r.k * r.nsup,
    exact_acc: r.exact_acc,
  }));
  const computes = [...new Set(data.map(r => r.compute))].sort((a, b) => a - b);
  const title = `Accuracy vs compute: ${variant}`;
  const x = {
    field: 'compute',
    type: 'quantitative',
    title: 'supervision steps per puzzle (k × N_sup)',
    scale: { type: 'log', base: 2 },
    axis: { values: computes.length <= 12 ? computes : undefined, format: 'd' },
  } as const;
  const color = {
    field: 'series',
    type: 'nominal',
    title: 'aggregator',
    legend: { orient: 'bottom', columns: 3 },
  } as const;
  return {
    name: `compute-${variant.replace(/[^A-Za-z0-9._=+-]/g, '_')}`,
    title,
    spec: {
      title,
      width: W,
      height: H,
      config,
      data: { values: data },
      // the points' colour legend is off; independent legends keep the lines' (colour and dash), as curve() does
      resolve: { legend: { color: 'independent', strokeDash: 'independent' } },
      transform: [
        {
          aggregate: [{ op: 'mean', field: 'exact_acc', as: 'acc' }],
          groupby: ['series', 'k', 'nsup', 'compute'],
        },
      ],
      layer: [
        {
          mark: { type: 'line', opacity: 0.85 },
          encoding: {
            x,
            y: {
              field: 'acc',
              type: 'quantitative',
              aggregate: 'max',
              title: 'exact accuracy',
              scale: { domain: [0, 1] },
            },
            color,
            strokeDash: color,
          },
        },
        {
          mark: { type: 'point', filled: true, opacity: 0.7 },
          encoding: {
            x,
            y: { field: 'acc', type: 'quantitative' },
            color: { ...color, legend: null },
            shape: { field: 'k', type: 'nominal', title: 'k', legend: { orient: 'right' } },
          },
        },
      ],
    } as TopLevelSpec,
  };
}

/** One accuracy-vs-compute figure per variant with scaling results. */
export function computeFigures(runs: RunData[]): Figure[] {
  const variants = [...new Set(runs.filter(r => r.scaling).map(r => r.variant))];
  return variants.map(v =>
    computeFigure(
      v,
      runs.filter(r => r.variant === v && r.scaling).flatMap(r => r.scaling!.rows),
    ),
  );
}

/** One scaling figure per variant (seeds averaged: the y encoding takes the mean). */
export function scalingFigures(runs: RunData[]): Figure[] {
  const variants = [...new Set(runs.filter(r => r.scaling).map(r => r.variant))];
  return variants.map(v =>
    scalingFigure(
      v,
      runs.filter(r => r.variant === v && r.scaling).flatMap(r => r.scaling!.rows),
    ),
  );
}

/** AAS scatter: exact accuracy against aas_z and against pred_match, one point per run, colour = variant. */
export function aasFigure(runs: RunData[]): Figure | null {
  const rows = runs
    .filter(r => r.aas)
    .map(r => ({
      run: r.name,
      series: r.variant,
      aas_z: r.aas!.aas_z,
      pred_match: r.aas!.pred_match,
      exact_acc: r.aas!.exact_acc,
    }));
  if (!rows.length) return null;
  const title = 'AAS vs exact accuracy (one point per run)';
  return {
    name: 'aas',
    title,
    spec: {
      title,
      config,
      data: { values: rows },
      repeat: { column: ['aas_z', 'pred_match'] },
      spec: {
        width: Math.round(W / 2) - 20,
        height: H - 60,
        mark: { type: 'point', filled: true, size: 60 },
        encoding: {
          x: { field: { repeat: 'column' }, type: 'quantitative', scale: { zero: false } },
          y: { field: 'exact_acc', type: 'quantitative', title: 'exact accuracy', scale: { zero: false } },
          color: series,
          tooltip: [{ field: 'run' }],
        },
      },
    } as TopLevelSpec,
  };
}

/** The AAS curve: cells agreeing with pass 1's final answer after each step of the foreign-start pass 2, mean per variant. */
export function aasCurveFigure(runs: RunData[]): Figure | null {
  const rows = runs
    .filter(r => r.aas?.curve)
    .flatMap(r => r.aas!.curve!.map(p => ({ series: r.variant, step: p.step, value: p.pred_match })));
  if (!rows.length) return null;
  const title = 'Path independence: a foreign start converging (cells agreeing with pass 1)';
  return {
    name: 'aas-curve',
    title,
    spec: {
      title,
      width: W,
      height: H,
      config,
      data: { values: rows },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'step', type: 'quantitative', title: 'pass-2 supervision step', scale: { type: 'log', base: 2 } },
        y: { field: 'value', type: 'quantitative', aggregate: 'mean', title: 'cells agreeing', scale: { zero: false } },
        color: series,
      },
    } as TopLevelSpec,
  };
}

/** Every figure the runs have data for, in page order. */
export function reportFigures(runs: RunData[]): Figure[] {
  const aas = aasFigure(runs),
    curve = aasCurveFigure(runs);
  return [
    ...learningFigures(runs),
    ...scalingFigures(runs),
    ...computeFigures(runs),
    ...(aas ? [aas] : []),
    ...(curve ? [curve] : []),
  ];
}

/** Vega-Lite spec -> SVG text, headless. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * SVG -> PNG at 2x, or the reason PNGs cannot be made here (resvg ships a prebuilt binary per
 * platform). resvg-js resolves the generic 'sans-serif' through its default family (a missing
 * family falls back to any installed font).
 */
export async function pngRenderer(): Promise<((svg: string) => Buffer) | string> {
  try {
    const { Resvg } = await import('@resvg/resvg-js');
    return svg =>
      new Resvg(svg, {
        fitTo: { mode: 'zoom', value: 2 },
        font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
      })
        .render()
        .asPng();
  } catch (e) {
    return `PNG output is off: @resvg/resvg-js did not load (${(e as Error).message.split('\n')[0]}); writing SVG only`;
  }
}

/**
 * Render one figure to DIR/<name>.svg, and .png when `png` is a renderer (pngRenderer(); its
 * string form, the reason PNG is off, means SVG only). Atomic writes; returns the SVG text and files.
 */
export async function writeFigure(
  f: Figure,
  dir: string,
  png: ((svg: string) => Buffer) | string,
): Promise<{ svg: string; files: string[] }> {
  const svg = await renderSvg(f.spec),
    files = [join(dir, `${f.name}.svg`)];
  writeFileAtomic(files[0], svg);
  if (typeof png !== 'string') {
    files.push(join(dir, `${f.name}.png`));
    writeFileAtomic(files[1], png(svg));
  }
  return { svg, files };
}
