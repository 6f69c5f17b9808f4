/**
 * The same WebGPU backend in a browser: browser-entry.ts is bundled for the web (no Node code)
 * and run in headless Chromium on navigator.gpu (SwiftShader's Vulkan on a CPU-only machine);
 * every kernel case must match the reference there too. Skips with a visible line when no
 * chromium binary is installed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { kernelCases } from '../../src/kernels/cases.js';

const chromium = ['chromium', 'chromium-browser', 'google-chrome'].find(b => spawnSync('which', [b]).status === 0);
if (!chromium) console.warn('SKIPPED WebGPU browser test: no chromium binary (apt-get install chromium libvulkan1)');

/** Runs the page until it logs RESULT (or `ms` pass); returns the RESULT line's text. */
function runPage(html: string, ms: number): Promise<string> {
  return new Promise(resolve => {
    const profile = mkdtempSync(join(tmpdir(), 'trm-chromium-'));
    const p = spawn(
      chromium!,
      [
        '--headless=new',
        '--no-sandbox',
        '--enable-unsafe-webgpu',
        '--enable-features=Vulkan',
        '--use-vulkan=swiftshader',
        '--use-webgpu-adapter=swiftshader',
        '--use-angle=swiftshader',
        '--allow-file-access-from-files',
        '--enable-logging=stderr',
        '--v=0',
        '--remote-debugging-port=0',
        `--user-data-dir=${profile}`,
        `file://${html}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '',
      done = false;
    const exited = new Promise<void>(r => p.once('exit', () => r()));
    const finish = async (r: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // SIGTERM lets the browser take its GPU and renderer processes down with it.
      if (p.exitCode === null && p.signalCode === null) {
        const hard = setTimeout(() => p.kill('SIGKILL'), 5000);
        p.kill('SIGTERM');
        await exited;
        clearTimeout(hard);
      }
      // (the browser's helper processes can still be writing the profile: retry, and never throw
      // here, where a throw left the promise pending and the test failed as a 180 s timeout
      // instead of with the page's result)
      try {
        rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
      } catch (e) {
        console.warn(`could not remove ${profile}: ${(e as Error).message}`);
      }
      resolve(r);
    };
    const timer = setTimeout(() => void finish(`timeout after ${ms} ms; last output: ${log.slice(-400)}`), ms);
    p.stderr.on('data', (d: Buffer) => {
      log += d.toString();
      const m = /"RESULT: ([^"]*)"/.exec(log);
      if (m) void finish(m[1]);
    });
    p.on('exit', () => void finish(`chromium exited; last output: ${log.slice(-400)}`));
  });
}

describe.runIf(chromium)('webgpu in headless Chromium', () => {
  it('runs every kernel case on navigator.gpu and matches the reference', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trm-webgpu-page-'));
    try {
      buildSync({
        entryPoints: [fileURLToPath(new URL('./browser-entry.ts', import.meta.url))],
        bundle: true,
        platform: 'browser',
        format: 'iife',
        outfile: join(dir, 'bundle.js'),
        logLevel: 'silent',
      });
      writeFileSync(
        join(dir, 'index.html'),
        '<!doctype html><html><body><script src="bundle.js"></script></body></html>',
      );
      const result = await runPage(join(dir, 'index.html'), 120_000);
      const outs = kernelCases.reduce((n, c) => n + c.out.length, 0);
      expect(result).toMatch(new RegExp(`^pass ${outs} fail 0 adapter`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
