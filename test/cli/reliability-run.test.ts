/**
 * Reliability of `trm train` (issue 13, the training run's part), through the CLI with spawned
 * processes and real files: every write error is one line `trm: cannot write PATH: reason`
 * (ENOTDIR, EEXIST, EACCES, EROFS, ENOSPC); a damaged metrics.jsonl does not block resume; a run
 * directory has one writer (lock with the pid, a dead owner's lock taken over); empty or mismatched
 * splits are refused before step 1 naming the file; the weak messages (NaN advice, SIGTERM named,
 * another dataset on resume, negative values) say what happened and what to do.
 * Root-only cases (a read-only or a tiny tmpfs) are skipped with a visible line elsewhere.
 */
import { spawn, spawnSync } from 'node:child_process';
import { trm as spawnTrm } from '../reliability/helpers.js';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDatasetSplit, type DatasetSplit } from '../../src/data/dataset.js';
import { packageRoot } from '../../src/kernels/index.js';
import { makeSudoku4, type Sudoku4 } from '../train/fixture.js';

const main = join(packageRoot, 'dist', 'cli', 'main.js');
const root = mkdtempSync(join(tmpdir(), 'trm-rel-run-'));
chmodSync(root, 0o755); // readable by the unprivileged user of the EACCES case
const tiny = [
  '--preset',
  'cpu-sudoku4',
  '--set',
  'hidden_size=16',
  '--set',
  'puzzle_emb_ndim=16',
  '--set',
  'batch_size=4',
  '--set',
  'eval_limit=8',
  '--set',
  'eval_batch_size=8',
  '--set',
  'log_interval=2',
];
const isRoot = process.getuid?.() === 0;
const mounts: string[] = [];

/** trm run in `root` with a 60 s limit, as `uid` when given (the reliability tests' asynchronous spawn) */
const trm = (args: string[], o: { uid?: number } = {}) => spawnTrm(args, { cwd: root, uid: o.uid, timeout: 60_000 });
function oneLineError(r: { code: number | null; err: string }, re: RegExp, code = 1) {
  expect(r.err, r.err).toMatch(/^trm: /);
  expect(r.err.trim().split('\n'), r.err).toHaveLength(1);
  expect(r.err.trimEnd()).toMatch(re);
  expect(r.code).toBe(code);
}
/** A long training in the background; resolves once it has logged `step N:`. */
function background(args: string[], untilStep = 2) {
  const child = spawn(process.execPath, [main, ...args], { cwd: root });
  let out = '',
    err = '';
  child.stdout.on('data', b => {
    out += b;
  });
  child.stderr.on('data', b => {
    err += b;
  });
  const closed = new Promise<number | null>(res => child.on('close', c => res(c)));
  const ready = new Promise<void>((res, rej) => {
    const t = setInterval(() => {
      if (new RegExp(`step ${untilStep}:`).test(out)) {
        clearInterval(t);
        res();
      }
      if (child.exitCode !== null) {
        clearInterval(t);
        rej(new Error(`exited early: ${err}`));
      }
    }, 10);
  });
  return { child, ready, closed, out: () => out, err: () => err };
}
/** A tmpfs (root only): read-only, or of `size` bytes. */
function tmpfs(dir: string, opts: string): boolean {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', dir]);
  if (r.status === 0) mounts.push(dir);
  return r.status === 0;
}
const lines = (f: string) =>
  readFileSync(f, 'utf8')
    .trim()
    .split('\n')
    .map(l => JSON.parse(l) as Record<string, unknown>);

let d: Sudoku4;
beforeAll(async () => {
  d = await makeSudoku4(20, 6, 1, root);
});
afterAll(() => {
  for (const m of mounts.reverse()) spawnSync('umount', ['-l', m]);
});

describe.runIf(existsSync(main))('trm train: writes fail in one line', () => {
  it('ENOTDIR and EEXIST: --out under a file, or a file where the run directory would go', async () => {
    const file = join(root, 'a-file');
    writeFileSync(file, 'x');
    oneLineError(
      await trm(['train', '--data', d.dir, ...tiny, '--out', join(file, 'run')]),
      /^trm: cannot write .*a-file\/run: a part of the path is a file, not a directory \(ENOTDIR\)$/,
    );
    oneLineError(
      await trm(['train', '--data', d.dir, ...tiny, '--out', file]),
      /^trm: cannot write .*a-file: a file is in the way .*\(EEXIST\)$/,
    );
  });

  it('ENOTDIR at a checkpoint save names the checkpoint; stale temporary files of a dead writer are removed', async () => {
    const run = join(root, 'ckpt');
    expect((await trm(['train', '--data', d.dir, ...tiny, '--set', 'steps=2', '--out', run])).code).toBe(0);
    // a run directory whose checkpoints/ is a file: the first save fails, in one line naming it
    const other = join(root, 'ckpt-file');
    mkdirSync(other);
    writeFileSync(join(other, 'checkpoints'), '');
    oneLineError(
      await trm([
        'train',
        '--data',
        d.dir,
        '--resume',
        join(run, 'checkpoints', 'step_0000002'),
        '--out',
        other,
        '--set',
        'steps=4',
      ]),
      /^trm: cannot write .*ckpt-file\/checkpoints\/step_0000004: a part of the path is a file, not a directory \(ENOTDIR\); no checkpoint was saved yet$/,
    );
    // what a writer killed inside a save leaves (a temporary checkpoint directory, a temporary latest) goes on the next run
    mkdirSync(join(run, 'checkpoints', 'step_0000004.tmp-999999'));
    writeFileSync(join(run, 'latest.tmp-999999'), 'step_0000004');
    const r = await trm(['train', '--data', d.dir, '--resume', run, '--set', 'steps=4']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(
      /warning: .*removed 2 temporary files of an interrupted write \((latest\.tmp-999999, checkpoints\/step_0000004\.tmp-999999)\)/,
    );
    expect(readdirSync(join(run, 'checkpoints'))).toEqual(['step_0000002', 'step_0000004']);
  });

  it('EACCES: a run directory without write permission', async () => {
    // root passes permission checks: run the child as nobody (65534), if nobody can run trm from here
    const as = isRoot ? { uid: 65534, gid: 65534 } : {};
    if (isRoot && (await trm(['--help'], as)).code !== 0) {
      console.log('SKIP EACCES: user nobody cannot run trm from this checkout');
      return;
    }
    const dir = join(root, 'locked-dir');
    mkdirSync(dir);
    chmodSync(dir, 0o555);
    const r = await trm(['train', '--data', d.dir, ...tiny, '--out', join(dir, 'run')], as);
    oneLineError(r, /^trm: cannot write .*locked-dir\/run: permission denied \(EACCES\)$/);
  });

  it.runIf(isRoot)('EROFS: a read-only file system (root: a read-only tmpfs)', async () => {
    const ro = join(root, 'ro');
    if (!tmpfs(ro, 'ro,size=1m')) {
      console.log('SKIP EROFS: cannot mount a tmpfs here');
      return;
    }
    oneLineError(
      await trm(['train', '--data', d.dir, ...tiny, '--out', join(ro, 'run')]),
      /^trm: cannot write .*ro\/run: read-only file system \(EROFS\)$/,
    );
  });
  if (!isRoot) it.skip('EROFS needs root (a read-only tmpfs): SKIPPED', () => {});

  it.runIf(isRoot)('ENOSPC at a checkpoint (root: a 128 KiB tmpfs) leaves no partial checkpoint', async () => {
    const small = join(root, 'small');
    if (!tmpfs(small, 'size=128k')) {
      console.log('SKIP ENOSPC tmpfs: cannot mount a tmpfs here');
      return;
    }
    const r = await trm([
      'train',
      '--data',
      d.dir,
      ...tiny,
      '--set',
      'hidden_size=64',
      '--set',
      'puzzle_emb_ndim=64',
      '--set',
      'steps=2',
      '--out',
      join(small, 'run'),
    ]);
    oneLineError(r, /^trm: cannot write .*small\/run\/checkpoints\/step_0000002.*: no space left on device \(ENOSPC\)/);
    expect(readdirSync(join(small, 'run', 'checkpoints'))).toEqual([]); // the temporary directory went too
    expect(existsSync(join(small, 'run', 'latest'))).toBe(false);
  });
  if (!isRoot) it.skip('ENOSPC on a tiny tmpfs needs root: SKIPPED', () => {});
  if (!existsSync('/dev/full')) it.skip('ENOSPC during an append needs /dev/full: SKIPPED', () => {});

  it.runIf(existsSync('/dev/full'))(
    'ENOSPC during a metrics append (/dev/full) is one line, naming what can continue',
    async () => {
      const run = join(root, 'full');
      const bg = background([
        'train',
        '--data',
        d.dir,
        ...tiny,
        '--set',
        'steps=400',
        '--set',
        'checkpoint_interval=2',
        '--out',
        run,
      ]);
      await bg.ready;
      symlinkSync('/dev/full', join(run, 'metrics.link'));
      renameSync(join(run, 'metrics.link'), join(run, 'metrics.jsonl')); // the next append goes to a full device
      const code = await bg.closed;
      expect(code, bg.err()).toBe(1);
      expect(
        bg
          .err()
          .trim()
          .split('\n')
          .filter(l => l.startsWith('trm: ')),
      ).toHaveLength(1);
      expect(bg.err()).toMatch(
        /trm: cannot write .*full\/metrics\.jsonl: no space left on device \(ENOSPC\); the run can continue from its last checkpoint once this is fixed: --resume /,
      );
    },
  );
});

describe.runIf(existsSync(main))('trm train: a damaged metrics.jsonl does not block resume', () => {
  it('drops a cut-off last line with a warning and resumes', async () => {
    const run = join(root, 'torn');
    expect(
      (await trm(['train', '--data', d.dir, ...tiny, '--set', 'steps=4', '--set', 'eval_interval=2', '--out', run]))
        .code,
    ).toBe(0);
    const file = join(run, 'metrics.jsonl');
    writeFileSync(file, readFileSync(file, 'utf8') + '{"type":"train","step":6,"lm_lo');
    const r = await trm(['train', '--data', d.dir, '--resume', run, '--set', 'steps=6']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(
      /trm: warning: .*metrics\.jsonl:5: dropped a damaged last line \(cut off: .*\), left by an interrupted write/,
    );
    expect(lines(file).map(l => `${l.type}@${l.step}`)).toEqual([
      'train@2',
      'eval@2',
      'train@4',
      'eval@4',
      'train@6',
      'eval@6',
    ]);
  });

  it('a damaged line in the middle is one line naming file:line', async () => {
    const run = join(root, 'torn-mid');
    expect((await trm(['train', '--data', d.dir, ...tiny, '--set', 'steps=4', '--out', run])).code).toBe(0);
    const file = join(run, 'metrics.jsonl');
    const ls = readFileSync(file, 'utf8').split('\n');
    ls[0] = ls[0].slice(0, 10);
    writeFileSync(file, ls.join('\n'));
    oneLineError(
      await trm(['train', '--data', d.dir, '--resume', run, '--set', 'steps=6']),
      /metrics\.jsonl:1: not a metrics record \(not valid JSON\); the file is damaged in the middle: delete that line to resume/,
    );
  });
});

describe.runIf(existsSync(main))('trm train: one writer per run directory', () => {
  it('refuses a second writer naming the pid; takes over the lock of a killed one', async () => {
    const run = join(root, 'locked');
    const bg = background([
      'train',
      '--data',
      d.dir,
      ...tiny,
      '--set',
      'steps=100000',
      '--set',
      'checkpoint_interval=2',
      '--out',
      run,
    ]);
    await bg.ready;
    const pid = bg.child.pid!;
    expect(JSON.parse(readFileSync(join(run, '.lock'), 'utf8'))).toMatchObject({ pid, what: 'trm train' });
    oneLineError(
      await trm(['train', '--data', d.dir, ...tiny, '--out', run]),
      new RegExp(
        `is in use by pid ${pid} \\(trm train\\) since .*; wait for it to finish or stop it \\(kill ${pid}\\)`,
      ),
    );
    oneLineError(
      await trm(['train', '--data', d.dir, '--resume', run]),
      new RegExp(`is in use by pid ${pid} \\(trm train\\)`),
    );
    bg.child.kill('SIGKILL');
    await bg.closed;
    const step = Number(readFileSync(join(run, 'latest'), 'utf8').trim().slice(5));
    const r = await trm(['train', '--data', d.dir, '--resume', run, '--set', `steps=${step + 2}`]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(
      new RegExp(`trm: warning: .*locked: took over the lock of pid ${pid}, which is no longer running`),
    );
    expect(existsSync(join(run, '.lock'))).toBe(false); // released at the end
  }, 60_000);
});

/** A copy of the 4x4 dataset with its test split replaced by `test` (or its train split, with `which`). */
async function variant(
  name: string,
  edit: (s: DatasetSplit) => DatasetSplit,
  which: 'train' | 'test' = 'test',
): Promise<string> {
  const dir = join(root, name);
  cpSync(d.dir, dir, { recursive: true });
  await writeDatasetSplit(join(dir, which), edit(which === 'test' ? d.test : d.train));
  return dir;
}

describe.runIf(existsSync(main))('trm train: the data is checked before step 1', () => {
  it('an empty training split is refused at once, naming it (it used to hang)', async () => {
    const dir = await variant(
      'empty-train',
      s => ({
        ...s,
        meta: { ...s.meta, total_groups: 0 },
        inputs: new Uint8Array(0),
        labels: new Uint8Array(0),
        puzzleIdentifiers: new Int32Array(0),
        puzzleIndices: Int32Array.of(0),
        groupIndices: Int32Array.of(0),
      }),
      'train',
    );
    const r = await trm(['train', '--data', dir, ...tiny, '--out', join(root, 'empty-run')]);
    expect(r.signal).toBeNull(); // not killed by the timeout
    oneLineError(
      r,
      /^trm: .*empty-train\/train: the training split holds no examples \(0 rows, 0 groups\); rebuild it with 'trm data build'$/,
    );
    expect(existsSync(join(root, 'empty-run'))).toBe(false); // nothing left behind
  });

  it('sizes that cannot fit in memory (vocab_size 2e9, num_puzzle_identifiers 1e9) are refused before any allocation', async () => {
    for (const [name, meta] of [
      ['huge-vocab', { vocab_size: 2e9 }],
      ['huge-ids', { num_puzzle_identifiers: 1e9 }],
    ] as const) {
      const dir = await variant(name, s => ({ ...s, meta: { ...s.meta, ...meta } }), 'train');
      await writeDatasetSplit(join(dir, 'test'), { ...d.test, meta: { ...d.test.meta, ...meta } });
      // vocab_size above 256 is refused when dataset.json is read (tokens are uint8); a model too large for memory before allocating it
      oneLineError(
        await trm(['train', '--data', dir, ...tiny, '--out', join(root, `${name}-run`)]),
        name === 'huge-vocab'
          ? new RegExp(
              `^trm: .*${name}/train/dataset\\.json: field 'vocab_size': expected at most 256 \\(tokens are stored as uint8\\), got 2000000000$`,
            )
          : new RegExp(
              `^trm: .*${name}/train/dataset\\.json: vocab_size \\d+, seq_len 16, num_puzzle_identifiers \\d+ make a model of [\\d,]+ weights: its training state and logits need about [\\d.]+ GiB, this machine has [\\d.]+ GiB; check these sizes in the dataset$`,
            ),
      );
      expect(existsSync(join(root, `${name}-run`))).toBe(false);
    }
  });

  it('a test split of another seq_len or vocabulary, or with puzzle ids outside the model, names the file', async () => {
    const n = d.test.inputs.length / 16;
    const seq = await variant('test-seq', s => ({
      ...s,
      meta: { ...s.meta, seq_len: 20 },
      inputs: new Uint8Array(n * 20).fill(1),
      labels: new Uint8Array(n * 20).fill(1),
    }));
    oneLineError(
      await trm(['train', '--data', seq, ...tiny, '--out', join(root, 'x1')]),
      /^trm: .*test-seq\/test\/dataset\.json: seq_len 20, but the training split .*test-seq\/train has seq_len 16; both splits must come from one 'trm data build'$/,
    );
    const voc = await variant('test-vocab', s => ({ ...s, meta: { ...s.meta, vocab_size: 12 } }));
    oneLineError(
      await trm(['train', '--data', voc, ...tiny, '--out', join(root, 'x2')]),
      /test-vocab\/test\/dataset\.json: vocab_size 12, but the training split .* has vocab_size 6;/,
    );
    const ids = await variant('test-ids', s => ({ ...s, puzzleIdentifiers: s.puzzleIdentifiers.map(() => 3) }));
    // ids outside the split's own num_puzzle_identifiers are refused when the split is read
    oneLineError(
      await trm(['train', '--data', ids, ...tiny, '--out', join(root, 'x3')]),
      /test-ids\/test\/all__puzzle_identifiers\.npy: id 3 at index 0 is outside \[0, 1\) \(num_puzzle_identifiers in .*test-ids\/test\/dataset\.json\)/,
    );
    for (const x of ['x1', 'x2', 'x3']) expect(existsSync(join(root, x))).toBe(false);
    // and on resume, against the checkpoint's model
    const run = join(root, 'resume-ids');
    expect((await trm(['train', '--data', d.dir, ...tiny, '--set', 'steps=2', '--out', run])).code).toBe(0);
    oneLineError(
      await trm(['train', '--data', ids, '--resume', run, '--set', 'steps=4']),
      /test-ids\/test\/all__puzzle_identifiers\.npy: id 3 at index 0 is outside \[0, 1\)/,
    );
  });
});

describe.runIf(existsSync(main))('trm train: messages that say what to do', () => {
  it('a NaN before any checkpoint says nothing is lost and how to start again', async () => {
    const r = await trm([
      'train',
      '--data',
      d.dir,
      ...tiny,
      '--set',
      'lr=1e30',
      '--set',
      'lr_warmup_steps=0',
      '--set',
      'steps=10',
      '--out',
      join(root, 'nan0'),
    ]);
    oneLineError(
      r,
      /^trm: step 2: loss is NaN .*stopped before updating the weights\. No checkpoint was saved yet, so nothing is lost by starting over: start the run again with a lower learning rate \(--set lr=1e\+29; lr is 1e\+30\) or a longer warm-up \(--set lr_warmup_steps=10; it is 0\)$/,
    );
  });

  it('a NaN after a checkpoint gives the command that continues from it with a lower lr', async () => {
    const run = join(root, 'nan1');
    const r = await trm([
      'train',
      '--data',
      d.dir,
      ...tiny,
      '--set',
      'lr=1e30',
      '--set',
      'lr_warmup_steps=0',
      '--set',
      'checkpoint_interval=1',
      '--set',
      'steps=10',
      '--out',
      run,
    ]);
    oneLineError(
      r,
      new RegExp(
        `Last good checkpoint: .*step_0000001; continue from it with a lower learning rate \\(lr is 1e\\+30\\): trm train --data ${d.dir} --resume ${run} --set lr=1e\\+29$`,
      ),
    );
  });

  it('SIGTERM is named as SIGTERM (not Ctrl-C), saves a checkpoint and exits 130', async () => {
    const run = join(root, 'sigterm');
    const bg = background(['train', '--data', d.dir, ...tiny, '--set', 'steps=100000', '--out', run]);
    await bg.ready;
    bg.child.kill('SIGTERM');
    expect(await bg.closed).toBe(130);
    expect(bg.err()).toMatch(
      /^trm: SIGTERM: finishing this step and saving a checkpoint \(SIGTERM again: exiting without a checkpoint\)$/m,
    );
    expect(bg.err()).not.toMatch(/Ctrl-C/);
    expect(bg.err()).toMatch(/trm: stopped at step \d+; checkpoint .*; continue with: trm train --data .* --resume /);
  });

  it('a resume on another dataset of the same shape warns, naming both paths', async () => {
    const run = join(root, 'moved');
    expect((await trm(['train', '--data', d.dir, ...tiny, '--set', 'steps=2', '--out', run])).code).toBe(0);
    const copy = join(root, 'sudoku4-copy');
    cpSync(d.dir, copy, { recursive: true });
    const r = await trm(['train', '--data', copy, '--resume', run, '--set', 'steps=4']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(
      new RegExp(`trm: warning: resuming on ${copy}, but .*step_0000002 was trained on ${d.dir}; the shapes agree`),
    );
    expect(JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')).data).toBe(copy);
    expect((await trm(['train', '--data', copy, '--resume', run, '--set', 'steps=6'])).err).not.toMatch(/warning/);
  });

  it('resuming a run that stopped before its first checkpoint says to start it again', async () => {
    const run = join(root, 'no-ckpt');
    mkdirSync(run);
    writeFileSync(join(run, 'config.json'), '{}');
    oneLineError(
      await trm(['train', '--data', d.dir, '--resume', run]),
      /no-ckpt: this run has no checkpoint yet \(it stopped before its first save\); start it again: trm train --data DIR --preset NAME --out /,
    );
  });

  it('negative values name the key, for a new run and a resume', async () => {
    oneLineError(
      await trm(['train', '--data', d.dir, ...tiny, '--set', 'steps=-1', '--out', join(root, 'neg')]),
      /^trm: train config: steps must be an integer >= 0, got -1$/,
    );
    oneLineError(
      await trm(['train', '--data', d.dir, ...tiny, '--set', 'eval_interval=-5', '--out', join(root, 'neg')]),
      /eval_interval must be an integer >= 0, got -5/,
    );
    const run = join(root, 'neg-resume');
    expect((await trm(['train', '--data', d.dir, ...tiny, '--set', 'steps=2', '--out', run])).code).toBe(0);
    oneLineError(
      await trm(['train', '--data', d.dir, '--resume', run, '--set', 'steps=-1']),
      /steps must be an integer >= 0, got -1/,
    );
    oneLineError(
      await trm(['train', '--data', d.dir, '--resume', run, '--set', 'lr=-1']),
      /lr must be a non-negative number, got -1/,
    );
  });
});

describe.runIf(existsSync(main))('trm train --resume: a damaged checkpoint.json names the file and the field', () => {
  it('null, a missing field, a negative step, a model config that cannot be, a bad stored value', async () => {
    const run = join(root, 'sidecar');
    expect((await trm(['train', '--data', d.dir, ...tiny, '--set', 'steps=2', '--out', run])).code).toBe(0);
    const file = join(run, 'checkpoints', 'step_0000002', 'checkpoint.json'),
      good = readFileSync(file, 'utf8');
    const edit = (f: (j: Record<string, any>) => unknown) => {
      const j = JSON.parse(good),
        r = f(j);
      writeFileSync(file, r === 'null' ? 'null' : JSON.stringify(j));
    };
    const cases: [(j: Record<string, any>) => unknown, RegExp][] = [
      [() => 'null', /checkpoint\.json: \(the whole file\): .*expected object/],
      [
        j => {
          delete j.cursor;
        },
        /checkpoint\.json: cursor: .*expected object/,
      ],
      [
        j => {
          j.cursor.pos = 'a';
        },
        /checkpoint\.json: cursor\.pos: .*expected number/,
      ],
      [
        j => {
          j.step = -5;
        },
        /checkpoint\.json: step: .*>=0/,
      ],
      [
        j => {
          j.model_config.hidden_size = 8;
        },
        /checkpoint\.json: model_config: puzzle_emb_ndim 16 exceeds puzzle_emb_len \* hidden_size = 8/,
      ],
      [
        j => {
          j.train_config.lr = 'x';
        },
        /checkpoint\.json: train_config: lr must be a non-negative number, got "x"; the checkpoint is damaged/,
      ],
    ];
    for (const [f, re] of cases) {
      edit(f);
      oneLineError(
        await trm(['train', '--data', d.dir, '--resume', join(run, 'checkpoints', 'step_0000002'), '--set', 'steps=4']),
        re,
      );
    }
  });
});
