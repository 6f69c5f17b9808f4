#!/usr/bin/env node
/**
 * tools/test-amx-emulated.mjs [--build-only]: the AMX-BF16 GEMM path under test on a CPU without AMX.
 *
 * Builds the native addon a second time with TRM_AMX_EMULATE (into a temporary directory): the AMX
 * kernel is selected for every bf16 product and its tile instructions are scalar code
 * (native/gemm/amx_emulate.h), while its packs, tile shapes, remainders and epilogue are the real
 * ones. Then runs the bf16 tests against that build (TRM_NATIVE_PATH): the GEMM against the
 * float64 reference, 1 vs 2 threads bit for bit, AMX vs VDPBF16PS, the fused epilogues, a bf16
 * training step and learning run, bf16 tensors (gemmBf16 on bf16 operands, the kept activations), the
 * bf16 item sums (gemmSumNTBf16: gemmBf16's batch sum while the AMX kernel is active). `npm
 * test` runs it last. It needs an x86-64 Linux CPU with
 * AVX-512 BF16 (the kernel's packs and epilogue are AVX-512 code); elsewhere it prints a SKIPPED
 * line. On a CPU with AMX the main test run has already exercised the real tiles.
 * --build-only: build and print the addon's path (for `TRM_NATIVE_PATH=... node tools/...`).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const buildOnly = process.argv.includes('--build-only');
const tests = [
  'test/kernels/gemm-bf16.test.ts',
  'test/kernels/gemm-sum-nt-bf16.test.ts',
  'test/kernels/gemm-swiglu.test.ts',
  'test/kernels/fused.test.ts',
  'test/model/linear-swiglu-path.test.ts',
  'test/train/precision.test.ts',
  'test/kernels/bf16-tensors.test.ts',
  'test/model/bf16-kept.test.ts',
];

let cpuinfo = '';
try {
  cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
} catch {}
const flags = new Set((/^flags\s*:(.*)$/m.exec(cpuinfo)?.[1] ?? '').trim().split(/\s+/));
if (process.arch !== 'x64' || !flags.has('avx512_bf16') || !flags.has('avx512bw')) {
  console.log('SKIPPED: AMX kernel tests on emulated tiles: they need an x86-64 Linux CPU with AVX-512 BF16');
  process.exit(0);
}

const out = mkdtempSync(join(tmpdir(), 'trm-amx-emulated-'));
cpSync(join(root, 'native'), join(out, 'native'), { recursive: true });
cpSync(join(root, 'binding.gyp'), join(out, 'binding.gyp'));
cpSync(join(root, 'package.json'), join(out, 'package.json'));
symlinkSync(join(root, 'node_modules'), join(out, 'node_modules')); // node-addon-api's headers
// npm sets npm_config_node_gyp (and npm_config_nodedir where configured) for scripts; outside npm,
// npm's own node-gyp next to this node, and the headers this node was installed with when present
const gyp =
  process.env.npm_config_node_gyp ??
  join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const prefix = join(dirname(process.execPath), '..');
const nodedir =
  process.env.npm_config_nodedir || (existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined);
const build = spawnSync(process.execPath, [gyp, 'rebuild', ...(nodedir ? [`--nodedir=${nodedir}`] : [])], {
  cwd: out,
  env: { ...process.env, CXXFLAGS: `${process.env.CXXFLAGS ?? ''} -DTRM_AMX_EMULATE` },
  encoding: 'utf8',
});
const addonPath = join(out, 'build', 'Release', 'trm_native.node');
if (build.status !== 0 || !existsSync(addonPath)) {
  console.error(
    `test-amx-emulated: the emulated build failed:\n${`${build.stdout}${build.stderr}`.split('\n').slice(-15).join('\n')}`,
  );
  process.exit(1);
}
const env = { ...process.env, TRM_NATIVE_PATH: addonPath };
const probe = spawnSync(
  process.execPath,
  [
    '--input-type=module',
    '-e',
    "const { addon } = await import('./dist/kernels/native.js'); console.log(addon.info().gemmBf16Kernel + ' amx=' + addon.info().amx);",
  ],
  { cwd: root, env, encoding: 'utf8' },
);
if (!/amx=true/.test(probe.stdout)) {
  console.error(`test-amx-emulated: the emulated build does not select the AMX kernel: ${probe.stdout}${probe.stderr}`);
  process.exit(1);
}
if (buildOnly) {
  console.log(addonPath);
  process.exit(0);
}
console.log(`AMX kernel tests on emulated tiles (${probe.stdout.trim()}): ${tests.join(' ')}`);
const run = spawnSync(join(root, 'node_modules', '.bin', 'vitest'), ['run', ...tests], {
  cwd: root,
  env,
  stdio: 'inherit',
});
rmSync(out, { recursive: true, force: true });
process.exit(run.status ?? 1);
