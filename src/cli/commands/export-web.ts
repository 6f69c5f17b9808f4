/**
 * `trm export-web`: the Solve page as a static site with a checkpoint's weights: the built front
 * end (dist/app) plus api/index.json, api/checkpoint/model/{config.json, model.safetensors} (the
 * paths `trm serve` answers), so any static file host serves it. Written to a temporary
 * directory, then renamed into place.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { intOption, type Command } from '../command.js';
import { TrmError, UsageError } from '../../errors.js';
import { loadModel } from '../../train/index.js';
import { readDatasetSplit } from '../../data/dataset.js';
import { decodeGrid } from '../../data/sudoku/tokens.js';
import { formatGrid, sizeForCells } from '../../data/sudoku/grid.js';
import { defaultAppDir } from '../../web/server.js';

export const exportWebCommand: Command = {
  name: 'export-web',
  summary: 'the Solve page as a static site with a checkpoint (no server needed)',
  usage: '--checkpoint PATH --out DIR [--data SPLIT_DIR] [--examples N] [--force]',
  options: {
    checkpoint: {
      type: 'string',
      argument: 'PATH',
      description: 'run directory, checkpoint directory or safetensors file',
    },
    out: { type: 'string', argument: 'DIR', description: 'site directory to write' },
    data: {
      type: 'string',
      argument: 'SPLIT_DIR',
      description: 'a dataset split (e.g. data/sudoku4/test) whose first puzzles the page offers',
    },
    examples: { type: 'string', argument: 'N', description: 'how many puzzles to take from --data', default: '20' },
    force: { type: 'boolean', description: 'replace DIR when it exists' },
  },
  details:
    'Example: trm export-web --checkpoint runs/s4 --data data/sudoku4/test --out site && python3 -m http.server -d site',
  async run(args) {
    const ck = args.values.checkpoint as string | undefined,
      outArg = args.values.out as string | undefined;
    if (!ck || !outArg)
      throw new UsageError("export-web: --checkpoint and --out are required (see 'trm export-web --help')");
    const out = resolve(outArg),
      app = defaultAppDir();
    if (!existsSync(join(app, 'index.html')))
      throw new TrmError('TRM_IO', `${app}: the front end is not built (run npm run build:web)`);
    if (existsSync(out) && readdirSync(out).length && !args.values.force)
      throw new UsageError(`export-web: ${outArg} exists and is not empty (pass --force to replace it)`);
    const m = loadModel(ck);
    const examples: string[] = [];
    if (args.values.data) {
      const split = await readDatasetSplit(args.values.data as string);
      const L = split.meta.seq_len,
        n = sizeForCells(L);
      if (L !== m.config.seq_len || !n)
        throw new UsageError(
          `export-web: ${args.values.data as string} has ${L}-cell puzzles, the model ${m.config.seq_len}`,
        );
      const count = Math.min(intOption(args, 'examples', 1, 10_000) ?? 20, split.inputs.length / L);
      for (let i = 0; i < count; i++)
        examples.push(formatGrid(decodeGrid(split.inputs.subarray(i * L, (i + 1) * L), n)));
    }
    const tmp = join(dirname(out), `.${basename(out)}.tmp-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    try {
      cpSync(app, tmp, { recursive: true });
      const ckDir = join(tmp, 'api', 'checkpoint', 'model');
      mkdirSync(ckDir, { recursive: true });
      const step = m.sidecar?.step ?? null;
      const title = `${basename(resolve(ck))}${step !== null ? ` (step ${step})` : ''}`;
      writeFileSync(
        join(tmp, 'api', 'index.json'),
        JSON.stringify({
          mode: 'static',
          checkpoints: [{ id: 'model', run: null, step, kind: 'checkpoint', label: title }],
          runs: [],
          splits: [],
          examples,
        }) + '\n',
      );
      writeFileSync(join(ckDir, 'config.json'), JSON.stringify({ id: 'model', step, config: m.config }) + '\n');
      copyFileSync(m.file, join(ckDir, 'model.safetensors'));
      rmSync(out, { recursive: true, force: true });
      renameSync(tmp, out);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
    console.log(
      `export-web: wrote ${outArg} (the Solve page with ${basename(resolve(ck))}${examples.length ? ` and ${examples.length} example puzzles` : ''}; serve it with any static file server)`,
    );
    return 0;
  },
};
