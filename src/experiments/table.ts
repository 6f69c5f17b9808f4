/**
 * table.ts: the test-time scaling grid as files: Markdown (one row per aggregator, k and noise
 * std, one column per N_sup, exact accuracy in %, and the row's compute k x N_sup), CSV (long
 * form, one line per cell of the grid, with its compute in supervision steps per puzzle) and JSON
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
        noise: r.noise,
        noise_on: r.noise_on,
        aggregators: r.aggregators,
        rows: r.rows,
        row_steps: r.row_steps,
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
      'aggregator,k,noise,nsup,compute,exact_acc,token_acc',
      ...r.rows.map(x => `${x.aggregator},${x.k},${x.noise},${x.nsup},${x.compute},${x.exact_acc},${x.token_acc}`),
    ].join('\n') + '\n'
  );
}

export function scalingMarkdown(r: ScalingResult, m: ScalingMeta): string {
  const keys: string[] = [];
  const cell = new Map<string, number>();
  for (const x of r.rows) {
    const key = `${x.aggregator}|${x.k}|${x.noise}`;
    if (!keys.includes(key)) keys.push(key);
    cell.set(`${key}|${x.nsup}`, x.exact_acc);
  }
  // the noise column only when some chains were perturbed (a plain grid reads as before)
  const noisy = r.noise.some(s => s > 0);
  const lines = [
    `Exact accuracy (%) on ${r.examples} ${m.split} puzzles by test-time N_sup; ${m.init} init, seed ${m.seed}${noisy ? `, noise on ${r.noise_on}` : ''}; ${m.checkpoint}${m.step !== null ? ` (step ${m.step})` : ''}. Compute: supervision steps per puzzle.`,
    '',
    `| aggregator | k |${noisy ? ' noise |' : ''} compute | ${r.nsup.map(n => `N=${n}`).join(' | ')} |`,
    `|---|---|${noisy ? '---|' : ''}---|${r.nsup.map(() => '---').join('|')}|`,
    ...keys.map(key => {
      const [agg, k, noise] = key.split('|');
      return `| ${agg} | ${k} |${noisy ? ` ${noise} |` : ''} ${k} × N | ${r.nsup.map(n => (100 * cell.get(`${key}|${n}`)!).toFixed(1)).join(' | ')} |`;
    }),
  ];
  return lines.join('\n') + '\n';
}
