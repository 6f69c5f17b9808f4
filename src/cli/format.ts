/**
 * format.ts: the CLI's shared progress and number formatting: percentages, durations, a progress
 * bar, the one-line status display, and the lines `trm train` prints for the events of a
 * training run (used by `trm train`, `trm demo` and the in-process runs of `trm sweep`).
 */
import { appendLine } from '../io/files.js';
import type { EvalResult, LogRecord, RunCallbacks, RunResult, RunStart } from '../train/index.js';

/**
 * 0.1234 -> "12.3%" (digits after the point: 1 unless told). `digits` is a literal type so that
 * `.map(pct)` (which would pass the index as digits) does not compile: write `.map(v => pct(v))`.
 */
export const pct = (v: number, digits: 0 | 1 | 2 | 3 = 1) => `${(100 * v).toFixed(digits)}%`;

/** A 20-character progress bar for a fraction in [0, 1]. */
export const bar = (f: number) => '#'.repeat(Math.round(20 * Math.min(1, Math.max(0, f)))).padEnd(20, '.');

/** Seconds as "1h02m" or "3m07s" ("?" when not finite). */
export function duration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600),
    m = Math.floor((s % 3600) / 60),
    sec = Math.floor(s % 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(sec).padStart(2, '0')}s`;
}

/** A one-line status display: rewritten in place on a TTY, silent otherwise; log() prints above it. */
export class StatusLine {
  private last = '';
  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}
  get tty(): boolean {
    return !!this.stream.isTTY;
  }
  show(text: string): void {
    if (!this.tty) return;
    const cols = this.stream.columns || 120;
    this.last = text.length > cols - 1 ? text.slice(0, cols - 1) : text;
    this.stream.write(`\r\x1b[K${this.last}`);
  }
  log(line: string, out: NodeJS.WriteStream = process.stdout): void {
    if (this.tty && this.last) this.stream.write('\r\x1b[K');
    out.write(line + '\n');
    if (this.tty && this.last) this.stream.write(this.last);
  }
  clear(): void {
    if (this.tty && this.last) this.stream.write('\r\x1b[K');
    this.last = '';
  }
}

/** Where progress goes: a StatusLine (terminal) or a LogFile (e.g. a sweep's RUN/train.log). */
export interface Lines {
  readonly tty: boolean;
  show(text: string): void;
  /** a line; `out` = process.stderr for warnings and errors (a log file takes both) */
  log(line: string, out?: NodeJS.WriteStream): void;
  clear(): void;
}

/** Lines appended to a file (no status line). */
export class LogFile implements Lines {
  readonly tty = false;
  constructor(readonly file: string) {}
  show(): void {}
  log(line: string): void {
    appendLine(this.file, line);
  }
  clear(): void {}
}

// ---- the lines of a training run ----------------------------------------------------------------

/** The first line of `trm train`: what runs, how big, where. */
export function startLine(s: RunStart): string {
  return (
    `trm train: ${s.resumed ? `resuming at step ${s.step}` : `preset ${s.preset ?? '(none)'}`}, ${s.parameters.toLocaleString('en-US')} parameters, ` +
    `batch ${s.config.batch_size}, ${s.totalSteps} steps, ${s.trainExamples} training examples -> ${s.runDir}`
  );
}

/** The expected-compute line of a run with randomised recursion or a curriculum (null otherwise). */
export function recursionLine(s: RunStart): string | null {
  const cfg = s.config,
    c = s.compute;
  if (!(cfg.rand_n_width || cfg.rand_T_width || cfg.rand_nsup_width || cfg.curriculum !== 'none')) return null;
  return (
    `recursion: ${c.net_calls.toFixed(2)} net calls per sample per step (${c.net_calls_ratio.toFixed(2)}x the fixed n ${s.model.L_cycles}, T ${s.model.H_cycles}), ` +
    `${c.grad_calls.toFixed(2)} with gradient (${c.grad_calls_ratio.toFixed(2)}x), mean N_sup cap ${c.nsup_cap.toFixed(2)}`
  );
}

/** A metrics line (printed when not on a terminal). */
export function logLine(rec: LogRecord): string {
  return (
    `step ${rec.step}: loss ${(rec.lm_loss + 0.5 * rec.q_halt_loss).toFixed(4)}, token ${pct(rec.token_acc)}, exact ${pct(rec.exact_acc)}, ` +
    `mean steps ${rec.mean_steps.toFixed(2)}, lr ${rec.lr.toExponential(2)}, ${(1 / Math.max(1e-9, rec.step_time)).toFixed(2)} steps/s`
  );
}

/** The line after an evaluation. */
export function evalLine(step: number, e: EvalResult, weights: 'ema' | 'raw'): string {
  return (
    `eval @ ${step}: exact ${pct(e.exact_acc)}, token ${pct(e.token_acc)} on ${e.examples} test puzzles (${weights === 'ema' ? 'EMA' : 'raw'} weights, ` +
    `${e.nsup} steps; with q-halting ${pct(e.exact_acc_halting)} at ${e.mean_halt_steps.toFixed(2)} steps)`
  );
}

/** The status-line text while training (a TTY only). */
export function progressText(step: number, total: number, m: LogRecord | null, rate: number): string {
  return (
    `train [${bar(step / total)}] ${step}/${total} | loss ${m ? (m.lm_loss + 0.5 * m.q_halt_loss).toFixed(3) : '-'} | tok ${m ? pct(m.token_acc) : '-'} ` +
    `| exact ${m ? pct(m.exact_acc) : '-'} | steps ${m ? m.mean_steps.toFixed(2) : '-'} | ${rate.toFixed(2)} it/s | ETA ${duration((total - step) / rate)}`
  );
}

export interface TrainPrinterOptions {
  /** the dataset path, for the "continue with" hint */
  data?: string;
  /** no metrics lines off a terminal (the demo) */
  quiet?: boolean;
  /** the line after each evaluation (default: evalLine) */
  evalLine?: (step: number, e: EvalResult, weights: 'ema' | 'raw') => string;
}

/** train.run callbacks that print what `trm train` prints; `summary` is the closing line. */
export function trainPrinter(
  out: Lines,
  o: TrainPrinterOptions = {},
): Omit<RunCallbacks, 'signal'> & { summary(r: RunResult): string } {
  let last: LogRecord | null = null,
    t0 = 0,
    steps = 0,
    runDir = '';
  return {
    onStart: s => {
      runDir = s.runDir;
      t0 = performance.now();
      out.log(startLine(s));
      const rec = recursionLine(s);
      if (rec) out.log(rec);
    },
    onWarning: m => out.log(`trm: warning: ${m}`, process.stderr),
    onStep: s => {
      steps++;
      if (out.tty)
        out.show(progressText(s.step, s.totalSteps, last, steps / Math.max(1e-9, (performance.now() - t0) / 1000)));
    },
    onLog: rec => {
      last = rec;
      if (!out.tty && !o.quiet) out.log(logLine(rec));
    },
    onEval: (step, e, w) => out.log((o.evalLine ?? evalLine)(step, e, w)),
    onCheckpoint: (path, step, why) => {
      if (why === 'stop')
        out.log(
          `trm: stopped at step ${step}; checkpoint ${path}; continue with: trm train --data ${o.data ?? 'DATA'} --resume ${runDir}`,
          process.stderr,
        );
    },
    summary: r => {
      out.clear();
      return (
        `trained ${r.steps} steps in ${duration(r.seconds)} (${(r.steps / Math.max(1e-9, r.seconds)).toFixed(2)} steps/s, ` +
        `${(r.steps / Math.max(1e-9, r.stepSeconds)).toFixed(2)} in the step itself); checkpoint ${r.checkpoint}`
      );
    },
  };
}
