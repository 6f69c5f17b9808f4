/**
 * Weak messages of issue 13 outside training: each is now one line that names the file or value
 * at fault and says what to do, through the CLI.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectCleanError, fixture, type Fixture, trm } from './helpers.js';

let fx: Fixture,
  ck = '';
beforeAll(async () => {
  fx = await fixture();
  ck = join(fx.run, 'checkpoints', 'step_0000002');
});
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('weak messages, made specific', () => {
  it('a sidecar whose hidden size does not match the weights names both files', async () => {
    const dir = join(fx.root, 'ck-hidden');
    cpSync(ck, dir, { recursive: true });
    const f = join(dir, 'checkpoint.json'),
      j = JSON.parse(readFileSync(f, 'utf8'));
    j.model_config.hidden_size = 32;
    writeFileSync(f, JSON.stringify(j));
    const re = new RegExp(
      `^trm: ${esc(f)} does not match ${esc(join(dir, 'model.safetensors'))}: its config \\(hidden_size 32, .*\\) needs 'inner\\.H_init' of shape \\[32\\], the file holds \\[16\\]$`,
    );
    expectCleanError(await trm(['eval', '--checkpoint', dir, '--data', fx.data]), re);
    expectCleanError(await trm(['solve', '--checkpoint', dir, '1...............']), re);
  });

  it('--split nope names the split directory it looked for and the splits that exist', async () => {
    expectCleanError(
      await trm(['eval', '--checkpoint', fx.run, '--data', fx.data, '--split', 'nope']),
      new RegExp(
        `^trm: ${esc(join(fx.data, 'nope'))}: no such split \\(no ${esc(join(fx.data, 'nope', 'dataset.json'))}\\); splits in ${esc(fx.data)}: test, train \\(--split\\)$`,
      ),
    );
    expectCleanError(
      await trm(['eval', '--checkpoint', fx.run, '--data', join(fx.root, 'nowhere')]),
      /nowhere: no such dataset directory$/,
    );
  });

  it('a checkpoint with NaN weights is refused by eval and solve, not scored as 0%', async () => {
    const dir = join(fx.root, 'ck-nan');
    cpSync(ck, dir, { recursive: true });
    const f = join(dir, 'model.safetensors'),
      b = readFileSync(f);
    const n = Number(b.readBigUInt64LE(0)),
      header = JSON.parse(b.subarray(8, 8 + n).toString());
    const t = header['inner.lm_head.weight'];
    expect(t.dtype).toBe('F32');
    for (let i = 0; i < 3; i++) b.writeFloatLE(NaN, 8 + n + t.data_offsets[0] + 4 * i);
    writeFileSync(f, b);
    const re = new RegExp(
      `^trm: ${esc(f)}: the checkpoint holds 3 non-finite weights \\(NaN or infinity; first in 'inner\\.lm_head\\.weight'\\): the run diverged`,
    );
    expectCleanError(await trm(['eval', '--checkpoint', dir, '--data', fx.data]), re);
    expectCleanError(await trm(['solve', '--checkpoint', dir, '1...............']), re);
  });

  it('--nsup -1 says the range, not "ambiguous" (usage error, exit 2)', async () => {
    for (const args of [
      ['eval', '--checkpoint', fx.run, '--data', fx.data, '--nsup', '-1'],
      ['solve', '--checkpoint', fx.run, '--nsup', '-1', '1...............'],
    ]) {
      const r = await trm(args);
      expectCleanError(r, /^trm: --nsup: expected (an )?integers? in \[1, \d+\].*got '-1'$/, 2);
      expect(r.err).not.toMatch(/ambiguous/);
    }
  });

  it('TRM_THREADS=abc and TRM_ISA=bogus each give one warning line saying what is used instead', async () => {
    const r = await trm(['info', '--json'], { env: { TRM_THREADS: 'abc', TRM_ISA: 'bogus' } });
    expect(r.code, r.err).toBe(0);
    expect(r.err.trim().split('\n')).toEqual([
      `trm: warning: TRM_THREADS="abc" is not an integer in [1, 256]; ignored (using ${availableParallelism()} threads, one per core)`,
      'trm: warning: TRM_ISA="bogus" is not one of portable, avx2, avx512; ignored (using the best path this CPU supports)',
    ]);
    const info = JSON.parse(r.out);
    if (info.backend === 'native') expect(info.threads).toBe(availableParallelism());
    const ok = await trm(['info'], { env: { TRM_THREADS: '1', TRM_ISA: 'portable' } });
    expect(ok.err).toBe('');
  });

  it('binary bytes in an error message are escaped, never sent raw to the terminal', async () => {
    const f = join(fx.root, 'binary.csv');
    writeFileSync(f, Buffer.from([0x1b, 0x5b, 0x32, 0x4a, 0x00, 0x07, 0xff, 0x0a, 0x61]));
    const r = await trm(['data', 'inspect', f]);
    expectCleanError(r, /header: expected 'source,question,answer,rating', got '\\x1b\[2J\\x00\\x07\\u\{fffd\}'$/);
    expect(r.err).not.toMatch(/[\x00-\x08\x1b\x7f]/);
    const s = await trm(['solve', '--checkpoint', fx.run, `\x1b[2J${'.'.repeat(12)}`]);
    expectCleanError(s, /bad character '\\x1b' at r1c1$/);
    expect(s.err).not.toMatch(/\x1b/);
  });

  it('a contradictory puzzle is flagged before the model is loaded or run', async () => {
    const r = await trm(['solve', '--checkpoint', join(fx.root, 'no-such-checkpoint'), '1..1............']);
    expectCleanError(r, /^trm: the puzzle has no solution: digit 1 twice in row 1 \(r1c1 and r1c4\)$/);
    expectCleanError(
      await trm(['solve', '--checkpoint', fx.run, '2...2...........']),
      /digit 2 twice in column 1 \(r1c1 and r2c1\)$/,
    );
    expectCleanError(
      await trm(['solve', '--checkpoint', fx.run, '3....3..........']),
      /digit 3 twice in box 1 \(r1c1 and r2c2\)$/,
    );
    const ok = await trm(['solve', '--checkpoint', fx.run, '1...............', '--json']);
    expect([0, 1]).toContain(ok.code); // a valid puzzle reaches the model (a 2-step model may not solve it)
    expect(JSON.parse(ok.out).steps.length).toBeGreaterThan(0);
  });

  it('a filesystem error or an impossible allocation that escapes a wrapper is still one line (main.ts)', async () => {
    const file = join(fx.root, 'in-the-way');
    writeFileSync(file, '');
    expectCleanError(
      await trm(['train', '--data', fx.data, '--preset', 'cpu-sudoku4', '--out', join(file, 'run')]),
      new RegExp(`^trm: cannot write ${esc(join(file, 'run'))}: .*\\((ENOTDIR|EEXIST)\\)$`),
    );
  });
});
