/**
 * Root causes 6 and 7 (issue 13): every JSON file trm reads is checked against a schema
 * (src/io/schema.ts) and a bad one is one line naming the file and the field; sizes that cannot
 * fit in memory (vocab_size 2e9, num_puzzle_identifiers 1e9) are refused before allocating.
 */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/model/config.js';
import { checkModelFits, modelMemory } from '../../src/model/memory.js';
import { weightsView } from '../../src/model/params.js';
import { sizeOf } from '../../src/kernels/core.js';
import { expectCleanError, fixture, type Fixture, trm } from './helpers.js';

let fx: Fixture,
  ck = '';
beforeAll(async () => {
  fx = await fixture();
  ck = join(fx.run, 'checkpoints', 'step_0000002');
});

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A copy of the dataset whose test/dataset.json is `edit`ed (text in, text out). */
function datasetWith(name: string, edit: (text: string) => string): string {
  const dir = join(fx.root, name);
  cpSync(fx.data, dir, { recursive: true });
  const f = join(dir, 'test', 'dataset.json');
  writeFileSync(f, edit(readFileSync(f, 'utf8')));
  return dir;
}
/** A copy of the checkpoint whose checkpoint.json is `edit`ed (object in place). */
function checkpointWith(name: string, edit: (j: Record<string, any>) => void): string {
  const dir = join(fx.root, name);
  cpSync(ck, dir, { recursive: true });
  const f = join(dir, 'checkpoint.json'),
    j = JSON.parse(readFileSync(f, 'utf8'));
  edit(j);
  writeFileSync(f, JSON.stringify(j));
  return dir;
}
/** A bare copy of model.safetensors whose header metadata `trm_model_config` is `value`. */
function safetensorsWith(name: string, value: string): string {
  const b = readFileSync(join(ck, 'model.safetensors'));
  const n = Number(b.readBigUInt64LE(0)),
    header = JSON.parse(b.subarray(8, 8 + n).toString());
  header.__metadata__.trm_model_config = value;
  let text = JSON.stringify(header);
  text += ' '.repeat((8 - (text.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(text.length));
  mkdirSync(join(fx.root, name));
  const f = join(fx.root, name, 'weights.safetensors');
  writeFileSync(f, Buffer.concat([len, Buffer.from(text), b.subarray(8 + n)]));
  return f;
}

describe('dataset.json', () => {
  for (const [name, edit, re] of [
    ['null', () => 'null', /test\/dataset\.json: top level: expected object, got null$/],
    ['not JSON', (t: string) => t.slice(0, 20), /test\/dataset\.json: not valid JSON \(/],
    [
      'a null field',
      (t: string) => t.replace(/"vocab_size": \d+/, '"vocab_size": null'),
      /test\/dataset\.json: field 'vocab_size': expected number, got null$/,
    ],
    [
      'a missing field',
      (t: string) => t.replace(/"seq_len": \d+, /, ''),
      /test\/dataset\.json: field 'seq_len': missing \(expected number\)$/,
    ],
    [
      'a string for a number',
      (t: string) => t.replace(/"total_groups": \d+/, '"total_groups": "6"'),
      /test\/dataset\.json: field 'total_groups': expected number, got "6"$/,
    ],
    [
      'empty sets',
      (t: string) => t.replace(/"sets": \[[^\]]*\]/, '"sets": []'),
      /test\/dataset\.json: field 'sets': expected array to have >=1 items, got \[\]$/,
    ],
    [
      'vocab_size 2e9',
      (t: string) => t.replace(/"vocab_size": \d+/, '"vocab_size": 2000000000'),
      /test\/dataset\.json: field 'vocab_size': expected at most 256 \(tokens are stored as uint8\), got 2000000000$/,
    ],
  ] as const) {
    it(`${name}: one line naming the file and field (inspect, eval)`, async () => {
      const dir = datasetWith(`ds-${name.replace(/\W+/g, '-')}`, edit);
      expectCleanError(await trm(['data', 'inspect', dir]), new RegExp(`^trm: ${esc(dir)}/${re.source}`));
      expectCleanError(await trm(['eval', '--checkpoint', fx.run, '--data', dir]), re);
    });
  }
  it('puzzle identifiers outside num_puzzle_identifiers', async () => {
    const dir = datasetWith('ds-ids', t => t);
    const f = join(dir, 'test', 'all__puzzle_identifiers.npy'),
      b = readFileSync(f);
    b.writeInt32LE(7, b.length - 4);
    writeFileSync(f, b);
    expectCleanError(
      await trm(['data', 'inspect', dir]),
      /all__puzzle_identifiers\.npy: id 7 at index 5 is outside \[0, 1\) \(num_puzzle_identifiers in .*test\/dataset\.json\)$/,
    );
  });
});

describe('checkpoint.json and trm_model_config', () => {
  for (const [name, edit, re] of [
    [
      'model_config missing',
      (j: any) => {
        delete j.model_config;
      },
      /checkpoint\.json: field 'model_config': missing \(expected object\)$/,
    ],
    [
      'hidden_size null',
      (j: any) => {
        j.model_config.hidden_size = null;
      },
      /checkpoint\.json: field 'model_config\.hidden_size': expected number, got null$/,
    ],
    [
      'a negative step',
      (j: any) => {
        j.step = -1;
      },
      /checkpoint\.json: field 'step': expected number to be >=0, got -1$/,
    ],
    [
      'weights bogus',
      (j: any) => {
        j.weights = 'bogus';
      },
      /checkpoint\.json: field 'weights': expected one of "ema"\|"raw", got "bogus"$/,
    ],
    [
      'an unknown model field',
      (j: any) => {
        j.model_config.width = 3;
      },
      /checkpoint\.json: model_config: unknown field 'width' \(known: hidden_size, /,
    ],
  ] as const) {
    it(`${name}: one line naming checkpoint.json and the field (eval, solve)`, async () => {
      const dir = checkpointWith(`ck-${name.replace(/\W+/g, '-')}`, edit);
      expectCleanError(
        await trm(['eval', '--checkpoint', dir, '--data', fx.data]),
        new RegExp(`^trm: ${esc(dir)}/${re.source}`),
      );
      expectCleanError(await trm(['solve', '--checkpoint', dir, '1...............']), re);
    });
  }
  it('checkpoint.json that is not JSON', async () => {
    const dir = join(fx.root, 'ck-notjson');
    cpSync(ck, dir, { recursive: true });
    writeFileSync(join(dir, 'checkpoint.json'), '{"format": "trm-checkpoint/1", "step"');
    expectCleanError(
      await trm(['eval', '--checkpoint', dir, '--data', fx.data]),
      /checkpoint\.json: not valid JSON \(/,
    );
  });
  for (const [name, value, re] of [
    ['not JSON', '{hidden_size: 16', /weights\.safetensors: metadata trm_model_config: not valid JSON \(/],
    [
      'a string size',
      '{"hidden_size": "16"}',
      /weights\.safetensors: metadata trm_model_config: field 'hidden_size': expected number, got "16"$/,
    ],
    ['an array', '[1, 2]', /weights\.safetensors: metadata trm_model_config: top level: expected object, got \[1,2\]$/],
  ] as const) {
    it(`a safetensors trm_model_config that is ${name}`, async () => {
      expectCleanError(
        await trm([
          'eval',
          '--checkpoint',
          safetensorsWith(`st-${name.replace(/\W+/g, '-')}`, value),
          '--data',
          fx.data,
        ]),
        re,
      );
    });
  }
});

describe('run files and results.json read by trm report', () => {
  function sweepWith(name: string, file: string, text: string): string {
    const dir = join(fx.root, name);
    cpSync(fx.run, join(dir, 'base', 'run-a'), { recursive: true });
    writeFileSync(join(dir, file), text);
    return dir;
  }
  for (const [name, file, text, re] of [
    ['results.json not JSON', 'results.json', '{"type": "sweep-results", "spec"', /results\.json: not valid JSON \(/],
    [
      'results.json with a wrong field',
      'results.json',
      JSON.stringify({ type: 'sweep-results', spec: 's.yaml', metrics: [], variants: 3, runs: [] }),
      /results\.json: field 'variants': expected array, got 3$/,
    ],
    [
      'a run config.json with a string seed',
      'base/run-a/config.json',
      JSON.stringify({ train: { seed: 'one' } }),
      /config\.json: field 'train\.seed': expected number, got "one"$/,
    ],
    [
      'eval/scaling.json with rows missing',
      'base/run-a/eval/scaling.json',
      JSON.stringify({ type: 'scaling', step: 2, nsup: [1], k: [1], aggregators: [] }),
      /scaling\.json: field 'rows': missing \(expected array\)$/,
    ],
  ] as const) {
    it(`${name}: one line naming the file and field`, async () => {
      mkdirSync(join(fx.root, `sw-${name.replace(/\W+/g, '-')}`, 'base', 'run-a', 'eval'), { recursive: true });
      const dir = sweepWith(`sw-${name.replace(/\W+/g, '-')}`, file, text);
      expectCleanError(await trm(['report', dir, '--out', join(dir, 'report')]), re);
    });
  }
});

describe('sizes that cannot fit in memory (root cause 7)', () => {
  it('a checkpoint declaring 1e9 puzzle identifiers is refused before allocating, naming the tensor', async () => {
    const dir = checkpointWith('ck-huge', j => {
      j.model_config.num_puzzle_identifiers = 1e9;
    });
    const r = await trm(['eval', '--checkpoint', dir, '--data', fx.data]);
    expectCleanError(
      r,
      new RegExp(
        `^trm: ${esc(dir)}/checkpoint\\.json: this model needs about [\\d.]+ GiB for its parameters .* the largest tensor is inner\\.puzzle_emb\\.weights \\[1000000000, 16\\]`,
      ),
    );
  });
  it('trm train on a dataset declaring 1e9 puzzle identifiers: one line, no stack', async () => {
    const dir = join(fx.root, 'ds-huge-ids');
    cpSync(fx.data, dir, { recursive: true });
    for (const s of ['train', 'test']) {
      const f = join(dir, s, 'dataset.json');
      writeFileSync(
        f,
        readFileSync(f, 'utf8').replace(/"num_puzzle_identifiers": \d+/, '"num_puzzle_identifiers": 1000000000'),
      );
    }
    const r = await trm(['train', '--data', dir, '--preset', 'cpu-sudoku4', '--out', join(fx.root, 'run-huge')]);
    expectCleanError(r, /memory|GiB/);
  });
  it('the estimate is the parameter block the model allocates, times the copies training keeps', async () => {
    const c = resolveConfig({
      hidden_size: 16,
      puzzle_emb_ndim: 16,
      puzzle_emb_len: 1,
      num_puzzle_identifiers: 7,
      vocab_size: 6,
      seq_len: 16,
      mlp_t: true,
      pos_encodings: 'none',
      num_heads: 2,
    });
    const n = sizeOf(weightsView(c).data);
    expect(modelMemory(c, 'inference')).toMatchObject({ elements: n, bytes: n * 4 * 2 });
    expect(modelMemory(c, 'training').bytes).toBe(n * 4 * 5);
    expect(modelMemory(c, 'training', false).bytes).toBe(n * 4 * 4);
    const huge = resolveConfig({ ...c, num_puzzle_identifiers: 1e9 });
    expect(() => checkModelFits(huge, 'training', 'data/train/dataset.json', { ram: 64 * 2 ** 30 })).toThrow(
      /^data\/train\/dataset\.json: this model needs about 298\.0 GiB for its parameters, gradients, Adam moments and EMA/,
    );
    expect(checkModelFits(c, 'training', 'x', { ram: 2 ** 30 }).bytes).toBe(n * 20);
  });
});
