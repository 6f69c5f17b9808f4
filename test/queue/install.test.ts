/**
 * The npm package installs and runs its native kernels on a machine without a C++ compiler: the
 * prebuilt addon (tools/prebuild.mjs, prebuildify) is packed by `npm pack`, the tarball is installed
 * into a clean directory with a PATH holding only node, npm and sh (and CC/CXX = false), and there
 * `trm info` reports the native backend and `trm selfcheck` gives the same verdicts as this
 * checkout's source build. The package's install script (tools/install.cjs) picks the prebuild
 * without compiling, and with --build-from-source tries the compiler and fails in one clear line.
 * Skips, with the reason, where g++ or npm is missing. About 30-60 s on 2 cores (one compile).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/kernels/native.js';

const onPath = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim();
const npm = onPath('npm'),
  gxx = onPath('g++');
const main = join(packageRoot, 'dist', 'cli', 'main.js');
const why = !npm
  ? 'npm is not on PATH'
  : !gxx
    ? 'g++ is not on PATH (the prebuild needs it)'
    : !existsSync(main)
      ? 'dist/ is not built'
      : '';
if (why) console.log(`test/queue/install.test.ts: SKIPPED the npm pack + install test: ${why}`);

/** spawnSync's result, without blocking the test worker (a long spawnSync starves vitest's RPC). */
function exec(
  cmd: string,
  args: string[],
  o: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise(res => {
    const p = spawn(cmd, args, { cwd: o.cwd, env: o.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '',
      stderr = '';
    p.stdout.on('data', d => {
      stdout += d;
    });
    p.stderr.on('data', d => {
      stderr += d;
    });
    const t = o.timeout ? setTimeout(() => p.kill('SIGKILL'), o.timeout) : undefined;
    p.on('error', e => {
      stderr += e.message;
    });
    p.on('close', status => {
      clearTimeout(t);
      res({ status, stdout, stderr });
    });
  });
}

const verdicts = (out: string) =>
  out
    .split('\n')
    .filter(l => /^\s+(ok|FAIL)\s/.test(l))
    .map(l => l.trim().split(/\s+/).slice(0, 2).join(' '));

describe.skipIf(!!why)('npm package with prebuilt binaries', () => {
  it('installs from the packed tarball and loads the prebuilt native addon with no compiler on PATH', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'trm-pack-'));
    try {
      // what `npm pack` runs as prepack (the host's prebuild only, to keep this quick), then pack without scripts
      // (dist/ is already built by `npm test`; a second tsc here would rewrite files other tests are reading)
      let r = await exec(process.execPath, [join(packageRoot, 'tools', 'prebuild.mjs'), '--arch', process.arch], {
        cwd: packageRoot,
      });
      expect(r.status, r.stderr + r.stdout).toBe(0);
      expect(readdirSync(join(packageRoot, 'prebuilds', `linux-${process.arch}`))).toContain('trm.glibc.node');
      r = await exec(npm, ['pack', '--ignore-scripts', '--pack-destination', tmp], { cwd: packageRoot });
      expect(r.status, r.stderr).toBe(0);
      const tgz = join(tmp, r.stdout.trim().split('\n').pop()!);
      const list = spawnSync('tar', ['tzf', tgz], { encoding: 'utf8' }).stdout.split('\n');
      expect(list).toEqual(
        expect.arrayContaining([
          `package/prebuilds/linux-${process.arch}/trm.glibc.node`,
          'package/tools/install.cjs',
          'package/dist/cli/main.js',
          'package/binding.gyp',
        ]),
      );
      expect(list.some(f => f.startsWith('package/build/'))).toBe(false);

      // a PATH with node, npm and sh only: no g++, cc, make or python
      const bin = join(tmp, 'bin'),
        app = join(tmp, 'app');
      mkdirSync(bin);
      mkdirSync(app);
      symlinkSync(process.execPath, join(bin, 'node'));
      symlinkSync(npm, join(bin, 'npm'));
      symlinkSync(onPath('sh'), join(bin, 'sh'));
      const env = {
        HOME: process.env.HOME ?? tmp,
        PATH: bin,
        CC: 'false',
        CXX: 'false',
        npm_config_cache: process.env.npm_config_cache ?? '',
      };
      if (!env.npm_config_cache) delete (env as Record<string, string>).npm_config_cache;
      expect(spawnSync('sh', ['-c', 'command -v g++ cc gcc make'], { env, encoding: 'utf8' }).stdout.trim()).toBe('');
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }));
      r = await exec(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', tgz], {
        cwd: app,
        env,
        timeout: 300_000,
      });
      expect(r.status, r.stderr).toBe(0);
      const pkg = join(app, 'node_modules', 'trm');
      expect(existsSync(join(pkg, 'build'))).toBe(false); // nothing was compiled: only the prebuild can load

      const trm = (args: string[]) =>
        exec(process.execPath, [join(pkg, 'dist', 'cli', 'main.js'), ...args], {
          cwd: app,
          env: { ...env, TRM_THREADS: '1' },
          timeout: 120_000,
        });
      r = await trm(['info']);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toBe(''); // no fallback warning
      expect(r.stdout).toMatch(/^backend\s+native$/m);
      expect(r.stdout).toMatch(/^isa\s+(avx512|avx2|portable)$/m);
      const installed = await trm(['selfcheck']);
      expect(installed.stdout).toMatch(/^native kernels: /m);
      const here = await exec(process.execPath, [main, 'selfcheck'], {
        env: { ...process.env, TRM_THREADS: '1' },
        timeout: 120_000,
      });
      expect(verdicts(installed.stdout).length).toBeGreaterThan(20);
      expect(verdicts(installed.stdout)).toEqual(verdicts(here.stdout)); // the prebuild behaves as the source build
      expect(installed.status).toBe(here.status);

      // the install script (npm runs it where scripts are allowed): takes the prebuild, compiles nothing
      r = await exec(process.execPath, [join(pkg, 'tools', 'install.cjs')], { cwd: pkg, env });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(
        new RegExp(`trm: using the prebuilt native addon prebuilds/linux-${process.arch}/trm\\.glibc\\.node`),
      );
      // forced source build without a compiler: a clear failure, not a silent success
      r = await exec(process.execPath, [join(pkg, 'tools', 'install.cjs')], {
        cwd: pkg,
        env: { ...env, npm_config_build_from_source: 'true' },
      });
      expect(r.status).not.toBe(0);
      expect(r.stdout).toContain('trm: building the native addon from source');
      expect(r.stderr).toMatch(/trm: the native addon build failed/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 600_000);
});
