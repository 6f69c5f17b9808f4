#!/usr/bin/env node
// shots.mjs: screenshots of the web app's pages for docs/figures/web/ and the time the Solve page
// takes to compute and draw the first supervision step of a 9x9-sized model (cpu-sudoku9
// config, random weights). Uses the built app (npm run build:web), Debian's chromium and
// playwright-core. Usage: node web/tools/shots.mjs [--runs DIR --data DIR] [--out docs/figures/web] [--repeats N] [--webgpu]
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { startServer } from '../../dist/web/server.js';
import { resolveTrainConfig, modelConfigFor } from '../../dist/train/index.js';
import { createParams } from '../../dist/model/index.js';
import { saveWeights } from '../../dist/io/weights.js';
import '../../dist/kernels/select.js';

const { values: o } = parseArgs({ options: { runs: { type: 'string' }, data: { type: 'string' }, out: { type: 'string', default: 'docs/figures/web' }, site: { type: 'string' }, repeats: { type: 'string', default: '5' }, webgpu: { type: 'boolean' } } });
const out = resolve(o.out);
mkdirSync(out, { recursive: true });

// a 9x9 model with the cpu-sudoku9 configuration and random (seeded) weights
const random = mkdtempSync(join(tmpdir(), 'trm-shots-'));
const cfg = modelConfigFor(resolveTrainConfig('cpu-sudoku9'), { vocab_size: 11, seq_len: 81, num_puzzle_identifiers: 1 });
saveWeights(join(random, 'sudoku9-random.safetensors'), createParams(cfg, 1), { trm_model_config: JSON.stringify(cfg) });

// --webgpu: WebGPU on SwiftShader (Vulkan on the CPU), else the GPU is off and the page runs the portable kernels
const gpuFlags = o.webgpu ? ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader', '--use-angle=swiftshader'] : ['--disable-gpu'];
const browser = await chromium.launch({ executablePath: process.env.TRM_CHROMIUM ?? '/usr/bin/chromium', args: ['--headless=new', '--no-sandbox', ...gpuFlags, '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
page.on('pageerror', e => console.error('page error:', e.message));

// 1. timing: first supervision step of the 9x9 model, from the Solve click to the painted grid
const s9 = await startServer({ host: '127.0.0.1', port: 0, runs: random, data: null });
const P9 = '..3.2.6..9..3.5..1..18.64....81.29..7.......8..67.82....26.95..8..2.3..9..5.1.3..';
const times = [], warm = [];
for (let i = 0; i < Number(o.repeats); i++) {
  await page.goto('about:blank');   // a fresh page each time (a goto differing only by hash would not reload)
  await page.goto(`${s9.url}#solve`);
  await page.waitForSelector('#model-info[data-ready]');
  await page.fill('#puzzle-text', P9);
  await page.dispatchEvent('#puzzle-text', 'input');
  await page.click('#solve');
  await page.waitForSelector('#timing[data-ms]', { timeout: 120_000 });
  times.push(Number(await page.getAttribute('#timing', 'data-ms')));
  await page.waitForSelector('#status[data-done]', { timeout: 300_000 });
  // again in the same page: the code is compiled and the weights are loaded
  await page.locator('#status').evaluate(e => e.removeAttribute('data-done'));
  await page.click('#solve');
  await page.waitForSelector('#status[data-done]', { timeout: 300_000 });
  warm.push(Number(await page.getAttribute('#timing', 'data-ms')));
}
const median = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)].toFixed(0);
console.log(`9x9 (cpu-sudoku9 config, D ${cfg.hidden_size}, T ${cfg.H_cycles}, n ${cfg.L_cycles}) first step computed and drawn: median ${median(times)} ms in a fresh page (${times.map(t => t.toFixed(0)).join(', ')} ms), median ${median(warm)} ms on a second solve (${warm.map(t => t.toFixed(0)).join(', ')} ms); ${await page.textContent('#device')}`);
await page.screenshot({ path: join(out, 'solve-9x9.png'), fullPage: true });
await s9.close();

// 2. the pages with a trained run
if (o.runs) {
  const s = await startServer({ host: '127.0.0.1', port: 0, runs: resolve(o.runs), data: o.data ? resolve(o.data) : null });
  await page.goto(`${s.url}#solve`);
  await page.waitForSelector('#model-info[data-ready]');
  if (o.data) { await page.selectOption('#split', { index: 1 }); await page.fill('#puzzle-index', '7'); await page.click('#load-puzzle'); await page.waitForTimeout(300); }
  await page.fill('#k', '4');
  await page.selectOption('#init', 'random');
  await page.click('#solve');
  await page.waitForSelector('#status[data-done]');
  await page.waitForTimeout(800);
  await page.locator('#step').fill('2');
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(out, 'solve.png'), fullPage: true });
  await page.goto(`${s.url}#training`);
  await page.waitForSelector('#train-status[data-points]');
  await page.waitForTimeout(1500);
  await page.screenshot({ path: join(out, 'training.png'), fullPage: true });
  await page.goto(`${s.url}#compare`);
  await page.waitForSelector('#compare-status[data-figures]');
  await page.waitForTimeout(1000);
  await page.screenshot({ path: join(out, 'compare.png'), fullPage: true });
  await s.close();
}
await browser.close();
console.log(`wrote screenshots to ${out}`);
