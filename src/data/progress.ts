/**
 * progress.ts: the progress bar of long data work (cli-progress on stderr). When stderr is not a
 * terminal the bar stays silent and only the final summary line is printed.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  /** Report `done` of `total` (in the bar's unit); total may change (downloads learn it late). */
  update(done: number, total?: number): void;
  /** Remove the bar and print `summary` (one line on stderr); no summary when stopped by an error. */
  stop(summary?: string): void;
}

export function progressBar(
  label: string,
  unit: string,
  total: number,
  stream: NodeJS.WriteStream = process.stderr,
): Progress {
  const t0 = performance.now();
  if (!stream.isTTY)
    return {
      update() {},
      stop(summary) {
        if (summary) stream.write(summary + '\n');
      },
    };
  const bar = new cliProgress.SingleBar(
    {
      stream,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
      format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {rate} ${unit}/s | ETA {eta_formatted}`,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { rate: '0' });
  return {
    update(done, newTotal) {
      if (newTotal !== undefined && newTotal !== bar.getTotal()) bar.setTotal(newTotal);
      const s = (performance.now() - t0) / 1000;
      bar.update(done, { rate: s > 0 ? (done / s).toFixed(done / s < 10 ? 2 : 0) : '0' });
    },
    stop(summary) {
      bar.stop();
      if (summary) stream.write(summary + '\n');
    },
  };
}
