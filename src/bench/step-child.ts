/**
 * bench/step-child.ts: the trm side of `trm bench step` in its own process, so its peak RSS is the
 * step's alone (the parent has run PyTorch and other presets). argv[2] is a JSON
 * {config, B, repeats}; prints one JSON line {times, cpuTimes, actsMib, maxRssMib}. Not a user command.
 */
import { timeTrm } from './step.js';
import type { TrmConfig } from '../model/index.js';

const { config, B, repeats } = JSON.parse(process.argv[2] ?? '{}') as { config: TrmConfig; B: number; repeats: number };
const r = await timeTrm(config, B, repeats);
process.stdout.write(`${JSON.stringify({ ...r, maxRssMib: Math.round(process.resourceUsage().maxRSS / 1024) })}\n`);
