// Figures of docs/EXPERIMENTS.md "Hard Sudoku on a CPU" (run from the repository root after `npm run build:ts`):
//   node docs/figures/hard9/plot.mjs runs.json
// runs.json: { "prefix": "" (file name prefix), "title": "...", "curves": [{ "label": "band 0 (rating 0)", "dirs": ["RUN"] }],
//              "compute": [{ "label": "b0 model on band 3", "csv": "EVAL/scaling.csv" }] }
// curves: held-out exact accuracy (the runs' periodic evaluations) against training time (sum of the logged
// step times plus evaluation time, so the gaps of a stop and resume do not count) and against step.
// compute: exact accuracy against supervision steps per puzzle (k x N_sup) from `trm eval --out` grids; an entry
// { "label": panel, "csv": ..., "depth": true (one static chain), "aggregators": [...], "ks": [...] } filters rows.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const { pngRenderer, writeFigure } = await import(join(here, '..', '..', '..', 'dist', 'report', 'plots.js'));
const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const config = { aria: false, font: 'sans-serif', legend: { labelLimit: 260 }, view: { stroke: '#ddd' } };
const color = { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 2 } };

function curve(dir) {
  const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map(l => JSON.parse(l));
  let seconds = 0,
    last = 0;
  const out = [];
  for (const r of lines) {
    if (r.type === 'train') {
      seconds += r.step_time * (r.step - last);
      last = r.step;
    } else if (r.type === 'eval') {
      seconds += r.seconds ?? 0;
      out.push({ step: r.step, minutes: seconds / 60, exact: r.exact_acc, cells: r.token_acc });
    }
  }
  return out;
}

const rows = spec.curves.flatMap(c => c.dirs.flatMap(d => curve(d).map(p => ({ series: c.label, ...p }))));
const png = await pngRenderer();
const line = (x, xTitle, name, title) => ({
  name,
  title,
  spec: {
    title,
    width: 480,
    height: 300,
    config,
    data: { values: rows },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: x, type: 'quantitative', title: xTitle },
      y: { field: 'exact', type: 'quantitative', title: 'held-out exact accuracy', axis: { format: '%' } },
      color,
    },
  },
});
const pre = spec.prefix ?? '',
  what = spec.title ?? 'rating band';
await writeFigure(
  line('minutes', 'training time on one shared core (minutes)', `${pre}time-to-accuracy`, `Time to accuracy by ${what}`),
  here,
  png,
);
await writeFigure(line('step', 'training step (batch 32)', `${pre}step-to-accuracy`, `Accuracy by step and ${what}`), here, png);

if (spec.compute?.length) {
  const pts = [];
  for (const c of spec.compute) {
    const [head, ...body] = readFileSync(c.csv, 'utf8').trim().split('\n');
    const col = Object.fromEntries(head.split(',').map((h, i) => [h, i]));
    for (const l of body) {
      const f = l.split(',');
      const agg = f[col.aggregator],
        k = Number(f[col.k]),
        nsup = Number(f[col.nsup]);
      if (agg === 'oracle' || (agg !== 'single' && k === 1)) continue;
      const what = agg === 'single' ? `one chain${c.depth ? ' (depth only)' : ''}` : `${agg} k=${k}`;
      if (c.aggregators && !c.aggregators.includes(agg)) continue;
      if (c.ks && !c.ks.includes(k)) continue;
      pts.push({ panel: c.label, series: what, compute: k * nsup, exact: Number(f[col.exact_acc]) });
    }
  }
  await writeFigure(
    {
      name: 'compute',
      title: 'Exact accuracy vs supervision steps per puzzle',
      spec: {
        title: 'Exact accuracy vs supervision steps per puzzle (k x N_sup)',
        config,
        data: { values: pts },
        facet: { field: 'panel', type: 'nominal', title: null },
        columns: 2,
        spec: {
          width: 300,
          height: 200,
          mark: { type: 'line', point: true },
          encoding: {
            x: { field: 'compute', type: 'quantitative', scale: { type: 'log', base: 2 }, title: 'k x N_sup' },
            y: { field: 'exact', type: 'quantitative', title: 'exact accuracy', axis: { format: '%' } },
            color,
          },
        },
      },
    },
    here,
    png,
  );
}
console.log(`wrote ${here}/${pre}{time-to-accuracy,step-to-accuracy${spec.compute?.length ? ',compute' : ''}}.{svg,png}`);
