/**
 * `trm eval`: accuracy of a checkpoint on a dataset split (all N_sup steps, as the official
 * evaluation), streamed in batches with a progress display; also accuracy after each supervision
 * step and with q-based halting. The experiments (src/experiments/) hang off the same command:
 *  - `--nsup 1,2,4,...` and/or `--k 1,2,4,8 --aggregate ... --noise 0,0.3`: the test-time scaling
 *    grid in one pass (k chains from random latent inits, optionally perturbed every step (PTRM),
 *    read at every N_sup and by every aggregator), written as Markdown, CSV and JSON (and plots:
 *    accuracy vs N_sup, accuracy vs compute) with `--out DIR`;
 *  - `--aas`: path independence (Asymptotic Alignment Score) at the largest N_sup.
 */
import { backendOption, useBackendChoice } from '../backend.js';
import { accessSync, constants, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { intList, intOption, defineCommand } from '../command.js';
import { TrmError, UsageError } from '../../errors.js';
import { checkActsFit, evaluate, loadModel, parseSets } from '../../train/index.js';
import { mkdirp, withWrite, writeFileAtomic } from '../../io/files.js';
import { INIT_MODES, type InitSpec, isRandomInit, parseInitMode } from '../../model/init.js';
import { MAX_CHAINS } from '../../model/chain.js';
import {
  AGGREGATORS,
  type Aggregator,
  isAggregator,
  NOISE_TARGETS,
  type NoiseOn,
  pathIndependence,
  scalingCsv,
  scalingJson,
  scalingMarkdown,
  testTimeScaling,
  type ScalingMeta,
} from '../../experiments/index.js';
import { computeFigure, pngRenderer, scalingFigure, writeFigure } from '../../report/plots.js';
import { bar, pct, StatusLine } from '../format.js';
import { readDatasetSplit } from '../../data/dataset.js';
import { checkCheckpoint, checkFiniteWeights } from '../checks.js';
import { csvSplit, SHIPPED_MODELS, shippedModel } from '../models.js';
import { setGemmPrecision } from '../../kernels/index.js';

/** DATA/SPLIT, or DATA itself when it is one split directory; a missing split names what exists. */
function splitDir(data: string, split: string): string {
  if (existsSync(join(data, split, 'dataset.json'))) return join(data, split);
  if (existsSync(join(data, 'dataset.json'))) return data;
  if (!existsSync(data)) throw new TrmError('TRM_NO_FILE', `${data}: no such dataset directory`);
  const have = statSync(data).isDirectory()
    ? readdirSync(data).filter(n => existsSync(join(data, n, 'dataset.json')))
    : [];
  throw new TrmError(
    'TRM_NO_FILE',
    `${join(data, split)}: no such split (no ${join(data, split, 'dataset.json')}); ` +
      (have.length
        ? `splits in ${data}: ${have.join(', ')} (--split)`
        : `${data} holds no dataset split; make one with 'trm data build'`),
  );
}

/** `--noise 0,0.1,0.3`: finite non-negative stds, sorted, duplicates dropped. */
function noiseList(v: unknown): number[] | undefined {
  if (v === undefined) return undefined;
  const parts = String(v)
    .split(',')
    .map(s => s.trim());
  const bad = parts.find(s => !/^(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i.test(s) || !Number.isFinite(Number(s)));
  if (bad !== undefined)
    throw new UsageError(
      `--noise: expected non-negative numbers separated by commas (a std per supervision step, e.g. 0,0.1,0.3), got '${bad}'`,
    );
  return [...new Set(parts.map(Number))].sort((a, b) => a - b);
}

function progress(status: StatusLine, what: string) {
  const t0 = performance.now();
  return (done: number, total: number) => {
    const rate = done / ((performance.now() - t0) / 1000);
    status.show(
      `${what} [${bar(done / total)}] ${done}/${total} | ${rate.toFixed(1)} puzzles/s | ETA ${((total - done) / rate).toFixed(0)} s`,
    );
  };
}

export const evalCommand = defineCommand({
  name: 'eval',
  summary: 'accuracy of a checkpoint on a dataset split; test-time scaling (N_sup x best-of-k) and path independence',
  usage:
    '--checkpoint PATH --data DIR [--nsup N[,N...]] [--k K[,K...]] [--aggregate A[,A...]] [--noise SIGMA[,SIGMA...]] [--init MODE] [--aas] [--out DIR] [--json]',
  options: {
    ...backendOption,
    checkpoint: {
      type: 'string',
      argument: 'PATH',
      description: 'run directory, checkpoint directory or safetensors file (e.g. a converted official checkpoint)',
    },
    model: {
      type: 'string',
      argument: 'NAME',
      description: `a shipped model instead of --checkpoint: ${Object.values(SHIPPED_MODELS).join(', ')} (without --data: on its shipped held-out set, models/NAME.test.csv)`,
    },
    data: {
      type: 'string',
      argument: 'DIR',
      description: 'dataset directory (or one split directory, or a Sudoku CSV scored as it stands)',
    },
    split: { type: 'string', argument: 'NAME', description: 'split to score', default: 'test' },
    nsup: {
      type: 'string',
      argument: 'N[,N...]',
      description:
        "supervision steps; a list (1,2,4,...,64) gives the test-time depth grid in one pass (default: the checkpoint's halt_max_steps)",
    },
    k: {
      type: 'string',
      argument: 'K[,K...]',
      description: `best-of-k: chains from independent latent inits, each k read off the first k of the largest (<= ${MAX_CHAINS})`,
    },
    aggregate: {
      type: 'string',
      argument: 'A[,A...]',
      description: `how k chains make one answer: ${AGGREGATORS.join(', ')} (default: all)`,
    },
    noise: {
      type: 'string',
      argument: 'SIGMA[,SIGMA...]',
      description:
        'test-time noise (PTRM): add N(0, SIGMA^2) to the latent before every supervision step; a list is a grid axis (0 = none)',
    },
    'noise-on': {
      type: 'string',
      argument: 'z|y|both',
      description: 'the latent the noise perturbs: z (the reasoning latent, PTRM), y (the answer state) or both',
      default: 'z',
    },
    init: {
      type: 'string',
      argument: 'MODE',
      description: `latent init of each chain: ${INIT_MODES.join(', ')} (default: the run's train_init; mixed -> zeros at test; static is the same for every chain)`,
    },
    'init-scale': {
      type: 'string',
      argument: 'X',
      description: "std of the random init modes (default: the run's init_scale, else 1)",
    },
    seed: { type: 'string', argument: 'S', description: "seed of the chains' init draws", default: '0' },
    aas: {
      type: 'boolean',
      description: "path independence: second pass from the batch-rolled partner's final (y, z), at the largest N_sup",
    },
    'aas-all-pairs': {
      type: 'boolean',
      description: "also Anil et al.'s all-pairs score (n passes per batch: use a small --batch)",
    },
    out: { type: 'string', argument: 'DIR', description: 'write scaling.{md,csv,json} (grid) and aas.json here' },
    limit: { type: 'string', argument: 'N', description: 'score the first N examples only (default: all)' },
    batch: {
      type: 'string',
      argument: 'N',
      description:
        'examples per batch (the random inits are drawn per batch); the grid computes at most N rows (puzzle x chain x noise) at once, only real ones',
      default: '128',
    },
    set: {
      type: 'string',
      argument: 'KEY=VALUE',
      multiple: true,
      description: 'model loop counts for a bare safetensors file, e.g. --set L_cycles=4',
    },
    json: { type: 'boolean', description: 'print the result as JSON' },
  },
  details: [
    'Examples:',
    '  trm eval --checkpoint runs/s6 --data data/sudoku6',
    '  trm eval --checkpoint runs/s6 --data data/sudoku6 --nsup 1,2,4,8,16 --k 1,2,4,8 --init random --out runs/s6/eval',
    '  trm eval --checkpoint runs/s6 --data data/sudoku6 --nsup 16,64 --k 1,8 --noise 0,0.3 --aggregate best-q-any,convergence,first-halt --out runs/s6/eval',
    '  trm eval --checkpoint runs/s6 --data data/sudoku6 --aas --nsup 16 --out runs/s6/eval',
  ].join('\n'),
  async run(args) {
    const backend = await useBackendChoice(args.values.backend);
    if (backend !== 'native') process.stderr.write(`trm: computing on ${backend}\n`);
    if (args.values.model !== undefined && args.values.checkpoint !== undefined)
      throw new UsageError('eval: give --model or --checkpoint, not both');
    const shipped = args.values.model !== undefined ? shippedModel(String(args.values.model)) : undefined;
    const ck = shipped?.weights ?? args.values.checkpoint,
      data = args.values.data ?? shipped?.testSet;
    if (!ck || !data)
      throw new UsageError("eval: --checkpoint and --data are required, or --model NAME (see 'trm eval --help')");
    if (args.positionals.length) throw new UsageError(`eval: unexpected argument '${args.positionals[0]}'`);
    const nsups = intList(args, 'nsup', 1, 4096),
      ks = intList(args, 'k', 1, MAX_CHAINS);
    const limit = intOption(args, 'limit', 1),
      batch = intOption(args, 'batch', 1, 65536)!,
      seed = intOption(args, 'seed', 0, 2 ** 32 - 1)!;
    const aggNames =
      args.values.aggregate === undefined
        ? [...AGGREGATORS]
        : String(args.values.aggregate)
            .split(',')
            .map(s => s.trim());
    for (const a of aggNames)
      if (!isAggregator(a))
        throw new UsageError(`--aggregate: unknown aggregator '${a}' (choose from ${AGGREGATORS.join(', ')})`);
    const aggs = aggNames as Aggregator[];
    const noise = noiseList(args.values.noise);
    const noiseOn = String(args.values['noise-on'] ?? 'z');
    if (!(NOISE_TARGETS as readonly string[]).includes(noiseOn))
      throw new UsageError(`--noise-on: expected one of ${NOISE_TARGETS.join(', ')}, got '${noiseOn}'`);
    // a Sudoku CSV (a shipped model's held-out set, or any generated file) is scored as one test split
    const split = data.endsWith('.csv')
      ? await csvSplit(data)
      : await readDatasetSplit(splitDir(data, args.values.split));
    const over = parseSets(args.values.set ?? []).model;
    checkCheckpoint(ck, over);
    const m = loadModel(ck, over, split.meta.seq_len);
    await checkFiniteWeights(m.weights, m.file);
    if (m.config.seq_len !== split.meta.seq_len || m.config.vocab_size !== split.meta.vocab_size)
      throw new UsageError(
        `eval: the checkpoint expects seq_len ${m.config.seq_len} / vocab ${m.config.vocab_size}, the data has ${split.meta.seq_len} / ${split.meta.vocab_size}`,
      );
    checkActsFit(m.config, batch, 'batch');
    const tc = m.sidecar?.train_config;
    // a bf16 run is evaluated as it trained: bf16 GEMM operands (precision, docs/TRAINING.md)
    if ((tc as { precision?: unknown } | undefined)?.precision === 'bf16') setGemmPrecision('bf16');
    const initScaleRaw = args.values['init-scale'];
    const initScale = initScaleRaw !== undefined ? Number(initScaleRaw) : (tc?.init_scale ?? 1);
    if (!(initScale > 0))
      throw new UsageError(`--init-scale: expected a positive number, got '${String(initScaleRaw)}'`);
    let init: InitSpec;
    try {
      init = {
        mode:
          args.values.init !== undefined
            ? parseInitMode(String(args.values.init), '--init')
            : (tc?.train_init ?? 'static'),
        scale: initScale,
        training: false,
      };
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    // a plain evaluation or AAS pass computes its batch whole: no larger than the work (the same
    // results: with every puzzle in batch 0, the init draws do not change)
    const work = Math.max(
      1,
      Math.min(batch, limit ?? Number.POSITIVE_INFINITY, split.inputs.length / split.meta.seq_len),
    );
    const outDir = args.values.out,
      status = new StatusLine();
    const grid =
      ks !== undefined ||
      (nsups !== undefined && nsups.length > 1) ||
      args.values.aggregate !== undefined ||
      noise !== undefined;
    const meta: ScalingMeta = {
      checkpoint: m.file,
      step: m.sidecar?.step ?? null,
      data,
      split: args.values.split,
      init: init.mode,
      seed,
    };
    if (outDir) {
      mkdirp(outDir);
      withWrite(outDir, () => accessSync(outDir, constants.W_OK));
    } // fail before the work, not after
    const results: Record<string, unknown> = {};

    if (grid) {
      const k = ks ?? [1];
      if (k[k.length - 1] > 1 && !isRandomInit(init) && !(noise ?? [0]).some(s => s > 0))
        status.log(
          `eval: note: init '${init.mode}' starts every chain from the same latents, so the k chains are identical (use --init random for best-of-k)`,
          process.stderr,
        );
      const r = await testTimeScaling(m.config, m.weights, split, {
        nsup: nsups ?? [m.config.halt_max_steps],
        k,
        aggregators: aggs,
        init,
        seed,
        batchSize: batch,
        noise,
        noiseOn: noiseOn as NoiseOn,
        limit,
        onProgress: progress(status, 'scaling'),
      });
      status.clear();
      results.scaling = { type: 'scaling', ...meta, ...r };
      if (outDir) {
        writeFileAtomic(join(outDir, 'scaling.json'), scalingJson(r, meta));
        writeFileAtomic(join(outDir, 'scaling.csv'), scalingCsv(r));
        writeFileAtomic(join(outDir, 'scaling.md'), scalingMarkdown(r, meta));
        const png = await pngRenderer();
        if (typeof png === 'string') status.log(`trm: warning: ${png}`, process.stderr);
        const label = m.sidecar ? `step ${m.sidecar.step}, ${init.mode} init` : `${init.mode} init`;
        await writeFigure({ ...scalingFigure(label, r.rows), name: 'scaling' }, outDir, png);
        await writeFigure({ ...computeFigure(label, r.rows), name: 'scaling-compute' }, outDir, png);
      }
      if (!args.values.json) {
        process.stdout.write(scalingMarkdown(r, meta));
        console.log(
          `  ${r.seconds.toFixed(1)} s, ${r.row_steps} row-steps computed${outDir ? `; wrote ${join(outDir, 'scaling.{md,csv,json,svg,png}')} and scaling-compute.{svg,png}` : ''}`,
        );
      }
    }
    if (args.values.aas) {
      const nsup = nsups ? nsups[nsups.length - 1] : m.config.halt_max_steps;
      const r = await pathIndependence(m.config, m.weights, split, {
        nsup,
        init,
        seed,
        batchSize: work,
        allPairs: !!args.values['aas-all-pairs'],
        limit,
        onProgress: progress(status, 'aas'),
      });
      status.clear();
      const doc = { type: 'aas', checkpoint: m.file, step: m.sidecar?.step ?? null, init: init.mode, seed, ...r };
      results.aas = doc;
      if (outDir) writeFileAtomic(join(outDir, 'aas.json'), JSON.stringify(doc, null, 2) + '\n');
      if (!args.values.json) {
        console.log(
          `path independence on ${r.examples} puzzles, ${nsup} supervision steps per pass (second pass from the batch-rolled partner's final y, z):`,
        );
        console.log(
          `  AAS y ${r.aas_y.toFixed(4)}   AAS z ${r.aas_z.toFixed(4)}   cells agreeing ${pct(r.pred_match, 2)}   pass-1 exact ${pct(r.exact_acc, 2)}`,
        );
        if (r.all_pairs)
          console.log(
            `  all pairs: AAS y ${r.all_pairs.aas_y.toFixed(4)}   AAS z ${r.all_pairs.aas_z.toFixed(4)}   cells agreeing ${pct(r.all_pairs.pred_match, 2)}`,
          );
        console.log(`  cells agreeing by pass-2 step: ${r.curve.map(p => (100 * p.pred_match).toFixed(1)).join(' ')}`);
        console.log(`  ${r.seconds.toFixed(1)} s${outDir ? `; wrote ${join(outDir, 'aas.json')}` : ''}`);
      }
    }
    if (!grid && !args.values.aas) {
      const nsup = nsups?.[0];
      const e = await evaluate(m.config, m.weights, split, {
        batchSize: work,
        nsup,
        limit,
        init,
        seed,
        onProgress: progress(status, 'eval'),
      });
      status.clear();
      results.eval = {
        checkpoint: m.file,
        step: m.sidecar?.step ?? null,
        weights: m.sidecar?.weights ?? null,
        split: args.values.split,
        init: init.mode,
        ...e,
      };
      if (outDir) writeFileAtomic(join(outDir, 'eval.json'), JSON.stringify(results.eval, null, 2) + '\n');
      if (!args.values.json) {
        console.log(
          `${m.file}${m.sidecar ? ` (step ${m.sidecar.step}, ${m.sidecar.weights} weights)` : ''} on ${e.examples} ${args.values.split} examples, ${e.nsup} supervision steps:`,
        );
        console.log(`  exact accuracy  ${pct(e.exact_acc, 2)}`);
        console.log(`  token accuracy  ${pct(e.token_acc, 2)}`);
        console.log(
          `  with q-halting  ${pct(e.exact_acc_halting, 2)} exact at ${e.mean_halt_steps.toFixed(2)} steps on average`,
        );
        console.log(`  exact by step   ${e.exact_by_step.map(v => (100 * v).toFixed(1)).join(' ')}`);
        console.log(`  ${e.seconds.toFixed(1)} s, ${(e.examples / e.seconds).toFixed(1)} puzzles/s`);
      }
      if (args.values.json) console.log(JSON.stringify(results.eval, null, 2));
      return 0;
    }
    if (args.values.json) console.log(JSON.stringify(results, null, 2));
    return 0;
  },
});
