/**
 * `trm eval`: exact and token accuracy of a checkpoint on a dataset split (all N_sup steps, as the
 * official evaluation), streamed in batches with a progress display; also accuracy after each
 * supervision step and with q-based halting. `--nsup` tries other depths (test-time scaling).
 */
import { intOption, type Command } from '../command.js';
import { UsageError } from '../../errors.js';
import { checkActsFit, evaluate, loadModel, parseSets } from '../../train/index.js';
import { bar, readSplit, StatusLine } from './train.js';

export const evalCommand: Command = {
  name: 'eval',
  summary: 'accuracy of a checkpoint on a dataset split',
  usage: '--checkpoint PATH --data DIR [--split test|train] [--nsup N] [--limit N] [--json]',
  options: {
    checkpoint: { type: 'string', argument: 'PATH', description: 'run directory, checkpoint directory or safetensors file (e.g. a converted official checkpoint)' },
    data: { type: 'string', argument: 'DIR', description: 'dataset directory (or one split directory)' },
    split: { type: 'string', argument: 'NAME', description: 'split to score', default: 'test' },
    nsup: { type: 'string', argument: 'N', description: 'supervision steps (default: the checkpoint\'s halt_max_steps)' },
    limit: { type: 'string', argument: 'N', description: 'score the first N examples only (default: all)' },
    batch: { type: 'string', argument: 'N', description: 'examples per batch', default: '128' },
    set: { type: 'string', argument: 'KEY=VALUE', multiple: true, description: 'model loop counts for a bare safetensors file, e.g. --set L_cycles=4' },
    json: { type: 'boolean', description: 'print the result as JSON' },
  },
  async run(args) {
    const ck = args.values.checkpoint as string | undefined, data = args.values.data as string | undefined;
    if (!ck || !data) throw new UsageError("eval: --checkpoint and --data are required (see 'trm eval --help')");
    const nsup = intOption(args, 'nsup', 1, 1024), limit = intOption(args, 'limit', 1), batch = intOption(args, 'batch', 1, 65536)!;
    const split = await readSplit(data, args.values.split as string);
    const m = loadModel(ck, parseSets((args.values.set as string[] | undefined) ?? []).model, split.meta.seq_len);
    if (m.config.seq_len !== split.meta.seq_len || m.config.vocab_size !== split.meta.vocab_size)
      throw new UsageError(`eval: the checkpoint expects seq_len ${m.config.seq_len} / vocab ${m.config.vocab_size}, the data has ${split.meta.seq_len} / ${split.meta.vocab_size}`);
    checkActsFit(m.config, batch, 'batch');
    const status = new StatusLine(), t0 = performance.now();
    const e = evaluate(m.config, m.weights, split, {
      batchSize: batch, nsup, limit,
      onProgress: (done, total) => {
        const rate = done / ((performance.now() - t0) / 1000);
        status.show(`eval [${bar(done / total)}] ${done}/${total} | ${rate.toFixed(1)} puzzles/s | ETA ${((total - done) / rate).toFixed(0)} s`);
      },
    });
    status.clear();
    if (args.values.json) {
      console.log(JSON.stringify({ checkpoint: m.file, step: m.sidecar?.step ?? null, weights: m.sidecar?.weights ?? null, split: args.values.split, ...e }, null, 2));
      return 0;
    }
    const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
    console.log(`${m.file}${m.sidecar ? ` (step ${m.sidecar.step}, ${m.sidecar.weights} weights)` : ''} on ${e.examples} ${args.values.split} examples, ${e.nsup} supervision steps:`);
    console.log(`  exact accuracy  ${pct(e.exact_acc)}`);
    console.log(`  token accuracy  ${pct(e.token_acc)}`);
    console.log(`  with q-halting  ${pct(e.exact_acc_halting)} exact at ${e.mean_halt_steps.toFixed(2)} steps on average`);
    console.log(`  exact by step   ${e.exact_by_step.map(v => (100 * v).toFixed(1)).join(' ')}`);
    console.log(`  ${e.seconds.toFixed(1)} s, ${(e.examples / e.seconds).toFixed(1)} puzzles/s`);
    return 0;
  },
};
