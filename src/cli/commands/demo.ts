/**
 * `trm demo` (npm run demo): the README's main command. Until the trainer lands it shows what
 * this machine's kernels are: the dispatch path, a self-check of every native kernel against the
 * TypeScript reference, the fp32 FMA peak and the GEMM at the TRM training shapes (B = 32).
 */
import type { Command } from '../command.js';
import { backendInfo } from '../../kernels/index.js';
import { selfCheck } from '../../kernels/selfcheck.js';
import { formatGemmRow, gemmTableHeader, measurePeak, runGemmBench } from '../../bench/gemm.js';
import { printSelfCheck } from './selfcheck.js';

export const demoCommand: Command = {
  name: 'demo',
  summary: 'show the kernels at work: dispatch, self-check, FMA peak and GEMM speed',
  usage: '',
  options: {},
  async run() {
    const info = backendInfo();
    console.log('trm demo: native CPU kernels for Tiny Recursive Models\n');
    console.log(`1. backend: ${info.backend}, ${info.gemmKernel} (${info.isa}), ${info.threads} threads`);
    if (info.backend !== 'native') {
      console.log(`   the native addon is not loaded (${info.reason}); everything still works on the reference kernels, slowly.`);
      return 0;
    }
    console.log('\n2. self-check: native kernels vs the TypeScript reference on random inputs');
    const ok = printSelfCheck(selfCheck());
    console.log(`\n3. fp32 FMA peak (register-only loop): ${measurePeak(1).toFixed(0)} GFLOP/s on 1 thread, ${measurePeak(info.threads).toFixed(0)} on ${info.threads}`);
    console.log(`\n4. GEMM at the TRM Sudoku training shapes, B = 32, ${info.threads} threads (full table: npm run bench -- gemm)`);
    console.log(gemmTableHeader.join('\n'));
    const rows = runGemmBench({ batches: [32], threads: [info.threads], reps: 1, onRow: r => console.log(formatGemmRow(r)) });
    const mean = rows.reduce((s, r) => s + r.ratio, 0) / rows.length;
    console.log(`   mean ${(100 * mean).toFixed(0)}% of the measured peak`);
    return ok ? 0 : 1;
  },
};
