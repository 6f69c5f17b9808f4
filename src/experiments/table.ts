/**
 * table.ts: the test-time scaling grid as files: Markdown (one row per aggregator and k, one
 * column per N_sup, exact accuracy in %), CSV (long form, one line per cell of the grid) and JSON
 * (the whole result with its provenance). Written atomically by the caller.
 */
import type { ScalingResult } from './scaling.js';

export interface ScalingMeta {
  checkpoint: string;
  step: number | null;
  data: string;
  split: string;
  init: string;
  seed: number;
}

export function scalingJson(r: ScalingResult, m: ScalingMeta): string {
  return (
    JSON.stringify(
      {
        type: 'scaling',
        ...m,
        examples: r.examples,
        nsup: r.nsup,
        k: r.k,
        aggregators: r.aggregators,
        rows: r.rows,
        seconds: r.seconds,
      },
      null,
      2,
    ) + '\n'
  );
}

export function scalingCsv(r: ScalingResult): string {
  return (
    [
      'aggregator,k,nsup,exact_acc,token_acc',
      ...r.rows.map(x => `${x.aggregator},${x.k},${x.nsup},${x.exact_acc},${x.token_acc}`),
    ].join('\n') + '\n'
  );
}

export function scalingMarkdown(r: ScalingResult, m: ScalingMeta): string {
  const keys: string[] = [];
  const cell = new Map<string, number>();
  for (const x of r.rows) {
    const key = `${x.aggregator}|${x.k}`;
    if (!keys.includes(key)) keys.push(key);
    cell.set(`${key}|${x.nsup}`, x.exact_acc);
  }
  const lines = [
    `Exact accuracy (%) on ${r.examples} ${m.split} puzzles by test-time N_sup; ${m.init} init, seed ${m.seed}; ${m.checkpoint}${m.step !== null ? ` (step ${m.step})` : ''}.`,
    '',
    `| aggregator | k | ${r.nsup.map(n => `N=${n}`).join(' | ')} |`,
    `|---|---|${r.nsup.map(() => '---').join('|')}|`,
    ...keys.map(key => {
      const [agg, k] = key.split('|');
      return `| ${agg} | ${k} | ${r.nsup.map(n => (100 * cell.get(`${key}|${n}`)!).toFixed(1)).join(' | ')} |`;
    }),
  ];
  return lines.join('\n') + '\n';
}
