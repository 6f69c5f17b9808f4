/**
 * The WebGPU backend must bundle for the browser: src/webgpu/index.ts and everything it imports
 * are free of Node imports (only node.ts and bench.ts, outside the index, load Dawn). esbuild
 * with platform 'browser' fails on any node: import. Needs no adapter.
 */
import { buildSync } from 'esbuild';
import { describe, expect, it } from 'vitest';

describe('webgpu browser bundle', () => {
  it('src/webgpu/index.ts bundles for the browser with no Node import', () => {
    const r = buildSync({
      entryPoints: ['src/webgpu/index.ts'],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
    });
    const code = r.outputFiles[0].text;
    expect(code).toContain('createWebGpuDevice');
    expect(code).not.toMatch(/from ["']node:|require\(["']node:/);
  });
});
