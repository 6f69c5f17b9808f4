/**
 * bench/step-child.ts: the trm side of `trm bench step` in its own process, so its peak RSS is the
 * step's alone (the parent has run PyTorch and other presets). argv[2] is a JSON
 * {config, B, repeats, precision}; prints one JSON line {times, cpuTimes, actsMib, maxRssMib}. Not a user command.
 */
import { timeTrm } from './step.js';
import { type Precision, setGemmPrecision } from '../kernels/index.js';
import type { TrmConfig } from '../model/index.js';

const { config, B, repeats, precision } = JSON.parse(process.argv[2] ?? '{}') as {
  config: TrmConfig;
  B: number;
  repeats: number;
  precision?: Precision;
};
setGemmPrecision(precision ?? 'fp32');
const r = await timeTrm(config, B, repeats);
process.stdout.write(`${JSON.stringify({ ...r, maxRssMib: Math.round(process.resourceUsage().maxRSS / 1024) })}\n`);
