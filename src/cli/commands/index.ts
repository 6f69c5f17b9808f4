/** The `trm` subcommands, in the order `trm --help` lists them. */
import type { Command } from '../command.js';
import { benchCommand } from './bench.js';
import { dataCommand } from './data.js';
import { demoCommand } from './demo.js';
import { infoCommand } from './info.js';
import { selfcheckCommand } from './selfcheck.js';
import { trainCommand } from './train.js';
import { evalCommand } from './eval.js';
import { solveCommand } from './solve.js';
import { sweepCommand } from './sweep.js';
import { reportCommand } from './report.js';
import { workerCommand } from './worker.js';
import { serveCommand } from './serve.js';
import { exportWebCommand } from './export-web.js';

export const commands: Command[] = [
  demoCommand,
  dataCommand,
  infoCommand,
  selfcheckCommand,
  benchCommand,
  trainCommand,
  evalCommand,
  solveCommand,
  sweepCommand,
  workerCommand,
  reportCommand,
  serveCommand,
  exportWebCommand,
];
