/**
 * The built web app end to end in headless Chromium (Debian's chromium through playwright-core;
 * skipped with a visible line when it is missing): a tiny trained 4x4 checkpoint served by `trm
 * serve`'s app, a puzzle typed on the keyboard grid, the model run in the page, and the grid after
 * every supervision step checked against `trm solve --json` on the same kernels (TRM_KERNELS=ref:
 * the page runs the same TypeScript kernels); k random chains and their aggregate checked
 * against the library run in Node; the static export served by a plain file server; the Training
 * page gaining a point when the run logs one.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../src/web/server.js';
import { loadModel } from '../../src/train/index.js';
import { allocActs } from '../../src/model/acts.js';
import { chainRng, runChain } from '../../src/model/chain.js';
import { IGNORE_LABEL } from '../../src/model/step.js';
import { read, upload } from '../../src/kernels/index.js';
import { decodeGrid, encodeGrid } from '../../src/data/sudoku/tokens.js';
import { formatGrid, geometry, parseGrid } from '../../src/data/sudoku/grid.js';
import { aggregate } from '../../src/experiments/aggregate.js';
import { chromiumPath, launch, skipLine } from './browser.js';
import { CLI, tinyRun, trm, type Fixture } from './fixture.js';

const chrome = chromiumPath();
if (!chrome) skipLine('web end-to-end tests (test/web/e2e.test.ts)');
const APP_BUILT = existsSync(join(import.meta.dirname, '..', '..', 'dist', 'app', 'index.html'));
if (chrome && !APP_BUILT) console.log('SKIP web end-to-end tests: the front end is not built (npm run build:web)');

const PUZZLE = '.......23...4..1';

interface SolveJson {
  puzzle: string;
  steps: { step: number; answer: string; q_halt: number; changed: number[] }[];
}

function solveJson(ck: string, puzzle: string, cwd: string): SolveJson {
  const r = spawnSync(process.execPath, [CLI, 'solve', '--checkpoint', ck, puzzle, '--json'], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, TRM_KERNELS: 'ref', TRM_THREADS: '1' },
  });
  expect(r.stderr).not.toMatch(/Error/);
  return JSON.parse(r.stdout) as SolveJson;
}

/** The answer the page shows, read from the cells themselves ('.' for an empty cell). */
async function shownAnswer(page: Page, sel = '#main-board figure'): Promise<string> {
  const cells = await page.locator(`${sel} .grid .cell`).allTextContents();
  return cells.map(t => (t.trim() === '' ? '.' : t.trim())).join('');
}

describe.skipIf(!chrome || !APP_BUILT)('web app in headless Chromium', () => {
  let f: Fixture, server: RunningServer, browser: Browser, page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    f = tinyRun(30);
    server = await startServer({ host: '127.0.0.1', port: 0, runs: f.runs, data: f.data, pollMs: 100 });
    browser = await launch();
    page = await browser.newPage();
    page.on('pageerror', e => errors.push(e.message));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('solves a typed 4x4 puzzle in the page, step by step as trm solve --json', async () => {
    await page.goto(`${server.url}#solve`);
    await page.waitForSelector('#model-info[data-ready]');
    await expect(page.locator('#device').textContent()).resolves.toMatch(/portable kernels/);
    // keyboard entry on the labelled grid: focus row 1 column 1 and type the puzzle
    await page.getByLabel('row 1, column 1', { exact: true }).focus();
    await page.keyboard.type(PUZZLE);
    expect(await page.inputValue('#puzzle-text')).toBe(PUZZLE);
    await expect(page.getByLabel('row 2, column 4', { exact: true }).inputValue()).resolves.toBe('2');
    await page.getByLabel('row 2, column 4', { exact: true }).focus();
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Backspace'); // clears row 3 column 4 (blank already) and moves back
    await page.keyboard.press('ArrowLeft');
    expect(await page.inputValue('#puzzle-text')).toBe(PUZZLE);
    await page.click('#solve');
    await page.waitForSelector('#status[data-done]');
    const want = solveJson(join(f.run), PUZZLE, f.root);
    expect(want.steps.length).toBe(4);
    for (const s of want.steps) {
      await page.locator('#step').fill(String(s.step));
      await expect(page.locator('#status').getAttribute('data-step')).resolves.toBe(String(s.step));
      expect([s.step, await shownAnswer(page)]).toEqual([s.step, s.answer]);
      expect(await page.getAttribute('#main-board figure', 'data-answer')).toBe(s.answer);
      const status = (await page.textContent('#status'))!;
      expect(status).toContain(`q_halt ${s.q_halt.toFixed(2)}`);
      expect(status).toContain(`${s.changed.length} cell${s.changed.length === 1 ? '' : 's'} changed`);
      expect(await page.locator('#main-board .cell.changed').count()).toBe(s.changed.length);
    }
    // confidence shading: a softmax maximum per predicted cell, in (1/V, 1]
    const conf = await page
      .locator('#main-board .cell:not(.given)')
      .evaluateAll(els =>
        els.map(e =>
          Number((e as unknown as { style: { getPropertyValue(k: string): string } }).style.getPropertyValue('--conf')),
        ),
      );
    expect(conf.length).toBe(PUZZLE.replace(/[^.]/g, '').length);
    for (const c of conf) expect(c > 1 / 6 - 1e-3 && c <= 1).toBe(true);
    expect(Number(await page.getAttribute('#timing', 'data-ms'))).toBeGreaterThan(0);
    await expect(page.locator('#chart-q svg').count()).resolves.toBe(1);
    await expect(page.locator('#chart-pca svg').count()).resolves.toBe(1);
    expect(errors).toEqual([]);
  });

  it('runs k random chains and shows the aggregate trm eval would compute', async () => {
    await page.fill('#k', '3');
    await page.selectOption('#init', 'random');
    await page.fill('#seed', '5');
    await page.selectOption('#aggregator', 'cell-vote');
    await page.locator('#status').evaluate(e => e.removeAttribute('data-done'));
    await page.click('#solve');
    await page.waitForSelector('#status[data-done]');
    expect(await page.locator('#chains figure').count()).toBe(3);
    // the same chains in Node: chain r starts from chainRng(seed, 0, r), as trm eval --init random
    const m = loadModel(join(f.run)),
      c = m.config,
      L = c.seq_len,
      a = allocActs(c, 1);
    const geo = geometry(4),
      puzzle = parseGrid(PUZZLE, geo);
    const batch = {
      inputs: upload(encodeGrid(puzzle)),
      labels: upload(new Int32Array(L).fill(IGNORE_LABEL)),
      puzzleIds: upload(new Int32Array(1)),
    };
    const boards: Uint8Array[] = [],
      q: number[] = [];
    for (let r = 0; r < 3; r++) {
      let last: Uint8Array = new Uint8Array(L),
        lastQ = 0;
      await runChain(c, m.weights, a, batch, {
        nsup: c.halt_max_steps,
        init: { mode: 'random', scale: 1, training: false },
        rng: chainRng(5, 0, r),
        onStep: async (_s, res) => {
          last = decodeGrid((await read(res.preds)).slice(0, L), 4);
          lastQ = (await read(res.q))[0];
        },
      });
      boards.push(last);
      q.push(lastQ);
    }
    const shown = await page.locator('#chains figure').evaluateAll(els => els.map(e => e.getAttribute('data-answer')));
    expect(shown).toEqual(boards.map(b => formatGrid(b)));
    const agg = formatGrid(Uint8Array.from(aggregate('cell-vote', { boards, q }, new Int32Array(L))));
    expect(await page.getAttribute('#main-board figure', 'data-answer')).toBe(agg);
    expect(await shownAnswer(page)).toBe(agg);
    expect(errors).toEqual([]);
  });

  it('loads a puzzle from a dataset split', async () => {
    await page.selectOption('#split', 's4/test');
    await page.fill('#puzzle-index', '3');
    await page.click('#load-puzzle');
    const r = await fetch(`${server.url}api/data/s4/test/puzzles.json?offset=3&limit=1`);
    const p = ((await r.json()) as { puzzles: { puzzle: string }[] }).puzzles[0].puzzle;
    await expect.poll(() => page.inputValue('#puzzle-text')).toBe(p);
  });

  it('the Training page gains a point when the run logs one', async () => {
    await page.goto(`${server.url}#training`);
    const n = readFileSync(join(f.run, 'metrics.jsonl'), 'utf8').trim().split('\n').length;
    await expect.poll(() => page.getAttribute('#train-status', 'data-points'), { timeout: 20_000 }).toBe(String(n));
    appendFileSync(
      join(f.run, 'metrics.jsonl'),
      JSON.stringify({
        type: 'train',
        step: 31,
        lr: 0.001,
        lm_loss: 1.2,
        q_halt_loss: 0.01,
        token_acc: 0.4,
        exact_acc: 0,
        mean_steps: 4,
      }) + '\n',
    );
    await expect.poll(() => page.getAttribute('#train-status', 'data-points'), { timeout: 20_000 }).toBe(String(n + 1));
    expect(await page.textContent('#train-status')).toMatch(/last step 31/);
    expect(await page.locator('.chart svg').count()).toBe(4);
  });

  it('starts a small training from the Training page, shows its points, and stops another', async () => {
    await page.goto(`${server.url}#training`);
    await page.waitForSelector('#train-start');
    await page.selectOption('#train-data', 's4');
    await page.fill('#train-steps', '20');
    await page.fill('#train-name', 'from-page');
    await page.click('#train-start');
    await expect.poll(() => page.getAttribute('#job-status', 'data-state'), { timeout: 90_000 }).toBe('exited');
    expect(await page.textContent('#job-status')).toContain('exit 0');
    expect(existsSync(join(f.runs, 'from-page', 'checkpoints', 'step_0000020', 'model.safetensors'))).toBe(true);
    const lines = readFileSync(join(f.runs, 'from-page', 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n').length;
    expect(await page.inputValue('#run')).toBe('from-page');
    await expect.poll(() => page.getAttribute('#train-status', 'data-points'), { timeout: 20_000 }).toBe(String(lines));
    // a long one, stopped: trm train saves a checkpoint on SIGTERM
    await page.fill('#train-steps', '5000');
    await page.fill('#train-name', 'stopped');
    await page.click('#train-start');
    await expect.poll(() => existsSync(join(f.runs, 'stopped', 'metrics.jsonl')), { timeout: 60_000 }).toBe(true);
    await page.click('#train-stop');
    await expect.poll(() => page.getAttribute('#job-status', 'data-state'), { timeout: 60_000 }).toBe('exited');
    expect(existsSync(join(f.runs, 'stopped', 'latest'))).toBe(true);
    expect(existsSync(join(f.runs, 'stopped', 'checkpoints', 'step_0005000'))).toBe(false);
    expect(errors).toEqual([]);
  });

  it('the Compare page shows the results table and figures, filtered by variant', async () => {
    cpSync(f.run, join(f.runs, 'copy'), { recursive: true });
    await page.goto(`${server.url}#compare`);
    await page.waitForSelector('#compare-status[data-figures]');
    const variants = async () => page.locator('#results tbody th').allTextContents();
    expect(await variants()).toEqual(['copy', 'from-page', 's4', 'stopped']); // the two trainings of the test above too
    // a cell of the table is the run's held-out exact accuracy (both runs are the same run)
    const last = readFileSync(join(f.run, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map(l => JSON.parse(l) as { type: string; exact_acc: number })
      .filter(l => l.type === 'eval')
      .pop()!;
    expect(await page.locator('#results tbody tr').first().locator('td').nth(1).textContent()).toBe(
      last.exact_acc.toPrecision(3),
    );
    const figures = Number(await page.getAttribute('#compare-status', 'data-figures'));
    expect(figures).toBeGreaterThanOrEqual(2);
    const legend = async () => page.locator('figure[data-figure="learning-loss"] svg').textContent();
    expect(await legend()).toContain('copy');
    await page.getByLabel('copy', { exact: true }).uncheck();
    await expect.poll(variants).toEqual(['from-page', 's4', 'stopped']);
    await expect.poll(legend).not.toContain('copy');
    expect(errors).toEqual([]);
  });

  it('the exported static site solves from a plain file server', async () => {
    const site = join(f.root, 'site');
    const r = trm(
      ['export-web', '--checkpoint', 'runs/s4', '--data', 'data/s4/test', '--examples', '3', '--out', 'site'],
      f.root,
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const again = trm(['export-web', '--checkpoint', 'runs/s4', '--out', 'site'], f.root);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/exists and is not empty/);
    const files: Server = createServer((req, res) => {
      const p = join(
        site,
        normalize(decodeURIComponent(new URL(req.url!, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, ''),
      );
      if (!existsSync(p) || statSync(p).isDirectory()) {
        if (existsSync(join(p, 'index.html'))) {
          res.writeHead(200, { 'content-type': 'text/html' });
          res.end(readFileSync(join(p, 'index.html')));
          return;
        }
        res.writeHead(404);
        res.end();
        return;
      }
      res.writeHead(200, {
        'content-type':
          { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html' }[extname(p)] ??
          'application/octet-stream',
      });
      res.end(readFileSync(p));
    });
    await new Promise<void>(ok => files.listen(0, '127.0.0.1', ok));
    try {
      const port = (files.address() as { port: number }).port;
      await page.goto(`http://127.0.0.1:${port}/sub/../`);
      await page.waitForSelector('#model-info[data-ready]');
      const ex = await page.locator('#examples option').allTextContents();
      expect(ex.length).toBe(3);
      const first = await page.inputValue('#puzzle-text');
      expect(ex[0]).toContain(first);
      await page.click('#solve');
      await page.waitForSelector('#status[data-done]');
      const want = solveJson('runs/s4', first, f.root);
      expect(await shownAnswer(page)).toBe(want.steps[want.steps.length - 1].answer);
      expect(errors).toEqual([]);
    } finally {
      await new Promise(ok => files.close(ok));
    }
  });
});

describe.skipIf(!chrome || !APP_BUILT)('web app on WebGPU (SwiftShader) in headless Chromium', () => {
  let f: Fixture, server: RunningServer, browser: Browser;
  beforeAll(async () => {
    f = tinyRun(30);
    server = await startServer({ host: '127.0.0.1', port: 0, runs: f.runs, data: f.data });
    browser = await launch(true);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('runs the model on the WebGPU device when the browser has one, matching trm solve', async ctx => {
    const page = await browser.newPage(),
      errors: string[] = [];
    page.on('pageerror', e => errors.push(e.message));
    await page.goto(`${server.url}#solve`);
    await page.waitForSelector('#model-info[data-ready]');
    const device = (await page.textContent('#device'))!;
    if (!/WebGPU \(/.test(device)) {
      console.log(`SKIP WebGPU page test: the browser offers no WebGPU adapter here (${device})`);
      ctx.skip();
    }
    await page.fill('#puzzle-text', PUZZLE);
    await page.dispatchEvent('#puzzle-text', 'input');
    await page.click('#solve');
    await page.waitForSelector('#status[data-done]');
    expect(await page.textContent('#timing')).toMatch(/ms \(WebGPU\)/);
    const want = solveJson(join(f.run), PUZZLE, f.root);
    for (const s of want.steps) {
      await page.locator('#step').fill(String(s.step));
      // float32 GPU sums differ from the reference in the last bits: the answer is the same, q_halt to 1e-2
      expect([s.step, await shownAnswer(page)]).toEqual([s.step, s.answer]);
      const q = Number(/q_halt (-?[\d.]+)/.exec((await page.textContent('#status'))!)![1]);
      expect(Math.abs(q - s.q_halt)).toBeLessThan(1e-2 + 0.005);
    }
    expect(errors).toEqual([]);
  });
});
