/** Learning within CI's budget: the cpu-sudoku4 preset on generated 4x4 Sudoku, judged on held-out puzzles. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { resolveTrainConfig } from '../../src/train/config.js';
import { evaluate } from '../../src/train/evaluate.js';
import { createWorkspace, evalWeights, train } from '../../src/train/loop.js';
import { createTrainState } from '../../src/train/state.js';
import { makeSudoku4 } from './fixture.js';

it('cpu-sudoku4 reaches >= 95% exact accuracy on held-out 4x4 puzzles', async () => {
  const d = await makeSudoku4(400, 200, 20, mkdtempSync(join(tmpdir(), 'trm-learn-')));
  const cfg = resolveTrainConfig('cpu-sudoku4', { eval_interval: 0 });
  const st = createTrainState(cfg, d.train.meta);
  const before = await evaluate(st.model, evalWeights(st), d.test, { batchSize: 100 });
  const t0 = performance.now();
  await train(st, createWorkspace(st, d.train));
  const after = await evaluate(st.model, evalWeights(st), d.test, { batchSize: 100 });
  console.log(
    `cpu-sudoku4: ${cfg.steps} steps in ${((performance.now() - t0) / 1000).toFixed(0)} s; held-out exact ${before.exact_acc} -> ${after.exact_acc}, token ${after.token_acc.toFixed(3)}, by step ${after.exact_by_step.map(v => v.toFixed(2))}`,
  );
  expect(before.exact_acc).toBeLessThan(0.05);
  expect(after.exact_acc).toBeGreaterThanOrEqual(0.95);
}, 600_000);
