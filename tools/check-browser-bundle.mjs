#!/usr/bin/env node
// check-browser-bundle.mjs: the device-free core must run in a web page. Bundles the model, the
// layers, the training step, the experiments' scoring and the Sudoku codecs for the browser
// (esbuild, platform browser) and fails, naming the import chain, on any Node import. File I/O,
// the addon loader and threads belong in Node-only modules at the edge (kernels/select.ts,
// kernels/native.ts, io/, train/checkpoint.ts, the CLI).
import { build } from 'esbuild';
import { builtinModules } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DEVICE_FREE = [
  'src/kernels/core.ts',
  'src/kernels/cases.ts',
  'src/model/index.ts',
  'src/model/memory.ts',
  'src/nn/attention.ts',
  'src/nn/embedding.ts',
  'src/nn/heads.ts',
  'src/nn/linear.ts',
  'src/nn/mlp.ts',
  'src/nn/token-mixer.ts',
  'src/train/loop.ts',
  'src/train/carry.ts',
  'src/train/optim.ts',
  'src/train/recursion.ts',
  'src/train/schedule.ts',
  'src/train/metrics.ts',
  'src/train/evaluate.ts',
  'src/train/solve.ts',
  'src/train/state.ts',
  'src/train/config.ts',
  'src/train/data.ts',
  'src/experiments/aggregate.ts',
  'src/experiments/scaling.ts',
  'src/experiments/aas.ts',
  'src/experiments/table.ts',
  'src/data/rng.ts',
  'src/data/sudoku/grid.ts',
  'src/data/sudoku/tokens.ts',
  'src/data/sudoku/solver.ts',
  'src/data/sudoku/solver9.ts',
  'src/data/sudoku/augment.ts',
  'src/data/sudoku/generate.ts',
];

const node = new Set([...builtinModules, ...builtinModules.map(m => `node:${m}`)]);
const problems = [];
const guard = {
  name: 'no-node',
  setup(b) {
    b.onResolve({ filter: /.*/ }, args => {
      if (node.has(args.path) || args.path.startsWith('node:'))
        problems.push(`${relative(root, args.importer)} imports '${args.path}'`);
      return undefined;
    });
  },
};

try {
  await build({
    entryPoints: DEVICE_FREE.map(f => join(root, f)),
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    outdir: join(root, 'dist-browser-check'),
    logLevel: 'silent',
    plugins: [guard],
  });
} catch (e) {
  if (!problems.length) {
    console.error(`browser bundle check: esbuild failed: ${e.message.split('\n')[0]}`);
    process.exit(1);
  }
}
if (problems.length) {
  console.error(`browser bundle check: ${problems.length} Node import(s) in the device-free core:`);
  for (const p of [...new Set(problems)]) console.error(`  ${p}`);
  process.exit(1);
}
console.log(
  `browser bundle check: ${DEVICE_FREE.length} device-free entry points bundle for the browser with no Node import`,
);
