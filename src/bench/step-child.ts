/**
 * bench/step-child.ts: the trm side of `trm bench step` in its own process, so its peak RSS is the
 * step's alone (the parent has run PyTorch and other presets). argv[2] is a JSON
 * {config, B, repeats, precision, serve}. Without serve: one warm-up step, `repeats` timed ones,
 * then one JSON line {times, cpuTimes, actsMib, maxRssMib}. With serve: the warm-up, then the line
 * protocol of step-server.ts (one timed step per "step" line on stdin; "end" prints {actsMib,
 * maxRssMib}). Not a user command.
 */
import { createInterface } from 'node:readline';
import { prepareTrmStep, timeTrm } from './step.js';
import { type Precision, setGemmPrecision } from '../kernels/index.js';
import type { TrmConfig } from '../model/index.js';

const { config, B, repeats, precision, serve } = JSON.parse(process.argv[2] ?? '{}') as {
  config: TrmConfig;
  B: number;
  repeats: number;
  precision?: Precision;
  serve?: boolean;
};
setGemmPrecision(precision ?? 'fp32');
const maxRssMib = () => Math.round(process.resourceUsage().maxRSS / 1024);
const say = (x: unknown) => process.stdout.write(`${JSON.stringify(x)}\n`);

if (serve) {
  const { step, actsMib } = prepareTrmStep(config, B);
  await step(); // warm-up
  say({ ready: true });
  for await (const line of createInterface({ input: process.stdin })) {
    const cmd = line.trim();
    if (cmd === 'end') break;
    if (cmd !== 'step') {
      process.stderr.write(`step-child: expected 'step' or 'end' on stdin, got '${cmd.slice(0, 40)}'\n`);
      process.exit(2);
    }
    say(await step());
  }
  // exit once the line is out: stdin may still be open (the parent ended it with "end")
  process.stdout.write(`${JSON.stringify({ actsMib, maxRssMib: maxRssMib() })}\n`, () => process.exit(0));
} else {
  const r = await timeTrm(config, B, repeats);
  say({ ...r, maxRssMib: maxRssMib() });
}
