/**
 * `trm sweep SPEC.yaml`: run a grid of training configs x seeds (variants, grid and seeds from a
 * YAML spec, docs/REPORTS.md), each run as a training (in this process through train.run when
 * one at a time, else `trm train` children, N at a time) then `trm eval` children; finished runs
 * are skipped and unfinished ones resumed on a rerun. Ends with
 * OUT/results.{md,csv,json}: mean +- std over seeds per variant. The work is in src/report/.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { defineCommand, intOption } from '../command.js';
import { UsageError } from '../../errors.js';
import { resultsMarkdown, writeResults } from '../../report/results.js';
import { readRun } from '../../report/runs.js';
import { expandRuns, readSweepSpec, type SweepRun } from '../../report/spec.js';
import { childLabel, planSweep, runSweep, type PlannedRun, type SweepOutcome } from '../../report/sweep.js';
import { bar, duration, LogFile, StatusLine, trainPrinter } from '../format.js';
import { abortOnSignals } from './train.js';
import { sweepOnQueue } from './worker.js';

const runName = (r: SweepRun) => `${r.variant}/seed-${r.seed}`;
function describe(r: PlannedRun): string {
  if (r.action === 'train') return 'train (new run)';
  if (r.action === 'resume') return `resume at step ${r.step} of ${r.target}`;
  if (r.action === 'eval') return `eval (trained to step ${r.step})`;
  return 'skip (finished)';
}

export const sweepCommand = defineCommand({
  name: 'sweep',
  summary: 'train a grid of configs x seeds from a YAML spec, then a results table (mean ± std)',
  usage:
    'SPEC.yaml [--parallel N] [--dry-run] [--only NAME] | SPEC.yaml --queue URL [--runs DIR] [--status | --cancel]',
  options: {
    parallel: {
      type: 'string',
      argument: 'N',
      description:
        'runs at a time: 1 trains in this process; N > 1 runs trm train children with TRM_THREADS = floor(cores / N) each',
      default: '1',
    },
    'dry-run': { type: 'boolean', description: 'print what each run still needs and its commands; run nothing' },
    only: {
      type: 'string',
      argument: 'NAME',
      multiple: true,
      description: 'run only these variants (repeatable or comma-separated); the table still covers all',
    },
    queue: {
      type: 'string',
      argument: 'URL',
      description: 'distributed: enqueue the runs on Redis (redis://HOST:PORT[/DB]) for `trm worker`s',
    },
    runs: {
      type: 'string',
      argument: 'DIR',
      description: "with --queue: the shared run root the jobs' paths are relative to (default: the spec's folder)",
    },
    status: {
      type: 'boolean',
      description: 'with --queue: each run queued / running (worker, step, ETA) / done / failed (error)',
    },
    cancel: {
      type: 'boolean',
      description: 'with --queue: remove queued runs, stop running ones (they save a checkpoint)',
    },
  },
  details: [
    'Example spec (paths relative to the spec file; docs/REPORTS.md has every key):',
    '  data: data/sudoku6',
    '  preset: cpu-sudoku6',
    '  out: runs/study',
    '  seeds: [1, 2, 3]',
    '  set: { steps: 1000 }',
    '  variants: [{ name: baseline }, { name: deep, set: { L_cycles: 4 } }]',
    '  eval: { nsup: [1, 2, 4, 8], k: [1, 4], aas: true }',
    'Runs go to OUT/<variant>/seed-<s>/ (train.log, eval.log, eval/); rerunning the same command skips',
    'finished runs and resumes unfinished ones. Ctrl-C lets running trainers save a checkpoint, then stops.',
    'Then: trm report OUT --out OUT/report',
  ].join('\n'),
  async run(args) {
    if (args.values.queue !== undefined || args.values.status || args.values.cancel || args.values.runs !== undefined)
      return sweepOnQueue(args);
    if (args.positionals.length !== 1) throw new UsageError("sweep: expected one SPEC.yaml (see 'trm sweep --help')");
    const spec = readSweepSpec(args.positionals[0]);
    const parallel = intOption(args, 'parallel', 1, 256)!;
    const all = expandRuns(spec),
      names = [...new Set(all.map(r => r.variant))];
    const only = (args.values.only ?? [])
      .flatMap(s => s.split(','))
      .map(s => s.trim())
      .filter(Boolean);
    for (const n of only)
      if (!names.includes(n))
        throw new UsageError(`sweep: --only ${n}: no such variant (variants: ${names.join(', ')})`);
    const plan = planSweep(spec, only.length ? all.filter(r => only.includes(r.variant)) : all);

    const count = (a: string) => plan.filter(r => r.action === a).length;
    const cores = Number(process.env.TRM_THREADS) || availableParallelism(),
      threads = Math.max(1, Math.floor(cores / parallel));
    console.log(
      `trm sweep: ${plan.length} runs (${count('train')} new, ${count('resume')} to resume, ${count('eval')} to evaluate, ${count('skip')} finished), ` +
        `${parallel} at a time with TRM_THREADS=${threads} each -> ${spec.out}`,
    );
    if (args.values['dry-run']) {
      for (const r of plan) {
        console.log(`${runName(r)}: ${describe(r)}`);
        for (const c of r.children) console.log(`    trm ${c.args.join(' ')} >> ${relative(process.cwd(), c.log)}`);
      }
      return 0;
    }

    const status = new StatusLine(),
      running = new Map<PlannedRun, { kind: string; t0: number }>();
    const todo = plan.filter(r => r.action !== 'skip').length;
    let done = 0;
    const show = () =>
      status.show(
        `sweep [${bar(done / Math.max(1, todo))}] ${done}/${todo} | ` +
          [...running]
            .map(([r, c]) => `${runName(r)} ${c.kind} ${duration((performance.now() - c.t0) / 1000)}`)
            .join(', '),
      );
    const timer = setInterval(show, 1000);
    // a second signal leaves at once: child trainers already have their signal and save on their own; an in-process one does not save
    const sig = abortOnSignals(
      status,
      'stopping: running trainers save a checkpoint; rerun the same command to continue',
      parallel > 1 ? 'exiting; running trainers still save their checkpoints' : 'exiting without a checkpoint',
    );
    let outcome: SweepOutcome;
    try {
      outcome = await runSweep(spec, plan, {
        parallel,
        cores,
        signal: sig.signal,
        trainOutput: log => {
          const file = new LogFile(log),
            p = trainPrinter(file, { data: spec.data });
          return { ...p, onDone: r => file.log(p.summary(r)) };
        },
        onEvent: e => {
          if (e.type === 'skip') status.log(`skip (finished) ${runName(e.run)}`);
          else if (e.type === 'start') {
            running.set(e.run, { kind: e.child.kind, t0: running.get(e.run)?.t0 ?? performance.now() });
            status.log(
              `${runName(e.run)}: ${e.child.kind === 'train' ? describe(e.run) : childLabel(e.child)} (log: ${relative(process.cwd(), e.child.log)})`,
            );
          } else {
            running.delete(e.run);
            if (e.type === 'done') {
              done++;
              status.log(`done ${runName(e.run)} in ${duration(e.seconds)}`);
            } else if (e.type === 'failed')
              status.log(
                `FAILED ${runName(e.run)}: trm ${childLabel(e.child)} ${e.message !== undefined ? `failed: ${e.message}` : `exited with code ${e.code}`} (log: ${e.child.log})`,
                process.stderr,
              );
            else status.log(`stopped ${runName(e.run)}`);
          }
          show();
        },
      });
    } finally {
      clearInterval(timer);
      status.clear();
      sig.dispose();
      // the table covers every run of the spec that has written metrics, also after a failure
      const have = all.filter(r => existsSync(join(r.dir, 'metrics.jsonl'))).map(r => readRun(r.dir, runName(r)));
      if (have.length) {
        const { results, files } = writeResults(spec, have);
        console.log(
          resultsMarkdown(results, '')
            .split('\n')
            .filter(l => l.startsWith('|'))
            .join('\n'),
        );
        console.log(
          `results of ${have.length} of ${all.length} runs: ${files.map(f => relative(process.cwd(), f)).join(', ')}`,
        );
      }
    }
    const report = `trm report ${relative(process.cwd(), spec.out) || '.'} --out ${relative(process.cwd(), join(spec.out, 'report'))}`;
    console.log(
      outcome.stopped
        ? `trm sweep: stopped (${outcome.ran} runs completed); run the same command again to resume`
        : `trm sweep: ran ${outcome.ran}, skipped ${outcome.skipped} (finished); figures: ${report}`,
    );
    return outcome.stopped ? 130 : 0;
  },
});
