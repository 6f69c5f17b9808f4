/**
 * `trm report RUN_OR_SWEEP_DIR... --out DIR`: learning curves, test-time scaling and AAS figures
 * (SVG and PNG) and one self-contained HTML page (inline SVG, no scripts) with the runs and any
 * sweep results table. The work is in src/report/html.ts.
 */
import { relative } from 'node:path';
import { defineCommand } from '../command.js';
import { UsageError } from '../../errors.js';
import { writeReport } from '../../report/html.js';

export const reportCommand = defineCommand({
  name: 'report',
  summary: 'figures (SVG/PNG) and one HTML page from run or sweep directories',
  usage: 'RUN_OR_SWEEP_DIR... --out DIR [--title TEXT]',
  options: {
    out: { type: 'string', argument: 'DIR', description: 'where index.html and the figures go (created)' },
    title: { type: 'string', argument: 'TEXT', description: 'page title', default: 'trm report' },
  },
  details: [
    'A directory holding metrics.jsonl is a run (learning curves, time to accuracy, and its eval/ results);',
    'one holding scaling.json or aas.json is an evaluation (`trm eval --out DIR`), shown like a run;',
    "any other is searched two levels down for runs (a sweep's OUT/<variant>/seed-<s>/), and its",
    'results.json, if any, becomes the results table.',
    'Examples:',
    '  trm report runs/study --out runs/study/report',
    '  trm report runs/s4 runs/s4-deep --out report --title "4x4: depth"',
    '  trm report evals/b0-randinit evals/b0-noise --out report --title "breadth at equal compute"',
  ].join('\n'),
  async run(args) {
    const out = args.values.out;
    if (!args.positionals.length || !out)
      throw new UsageError("report: give run or sweep directories and --out DIR (see 'trm report --help')");
    const r = await writeReport({ paths: args.positionals, out, title: args.values.title });
    if (r.warning) console.error(`trm: warning: ${r.warning}`);
    const rel = (f: string) => relative(process.cwd(), f);
    console.log(
      `trm report: ${r.runs} run${r.runs === 1 ? '' : 's'}, ${r.files.length} figure files (${r.files.map(f => rel(f).split('/').pop()).join(', ')}) -> ${rel(out) || '.'}/`,
    );
    console.log(`open ${rel(r.index)}`);
    return 0;
  },
});
