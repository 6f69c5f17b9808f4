// study_depth_figure.mjs: the test-time depth figure of docs/EXPERIMENTS.md (a) from runs/*/seed-*/eval-own/scaling.json.
// Usage: cd <dir holding runs/> && node <repo>/tools/study_depth_figure.mjs OUT_DIR   (needs the built dist/)
import { readFileSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { renderSvg, pngRenderer } from '../dist/report/plots.js';
const rows = [];
for (const v of readdirSync('runs'))
  for (const s of ['seed-1', 'seed-2', 'seed-3']) {
    const f = `runs/${v}/${s}/eval-own/scaling.json`;
    if (!existsSync(f)) continue;
    for (const r of JSON.parse(readFileSync(f, 'utf8')).rows)
      rows.push({ variant: v, nsup: r.nsup, exact_acc: r.exact_acc });
  }
const x = {
  field: 'nsup',
  type: 'quantitative',
  title: 'test-time N_sup (trained with 4)',
  scale: { type: 'log', base: 2 },
  axis: { values: [1, 2, 4, 8, 16, 32, 64], format: 'd' },
};
const y = { field: 'exact_acc', type: 'quantitative', title: 'held-out exact accuracy', scale: { domain: [0.3, 1] } };
const spec = {
  title: '6x6: exact accuracy vs test-time depth (own init, one chain; mean of 3 seeds)',
  width: 480,
  height: 300,
  config: { aria: false, font: 'sans-serif', view: { stroke: '#ddd' } },
  data: { values: rows },
  mark: { type: 'line', point: true },
  encoding: {
    x,
    y: { ...y, aggregate: 'mean' },
    color: { field: 'variant', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 4 } },
  },
};
const svg = await renderSvg(spec);
writeFileSync(process.argv[2] + '/depth-own-init.svg', svg);
const png = await pngRenderer();
if (typeof png !== 'string') writeFileSync(process.argv[2] + '/depth-own-init.png', png(svg));
console.log('ok', rows.length);
