#!/usr/bin/env node
/**
 * prebuild.mjs: the prebuilt native addon shipped in the npm package (`npm run prebuild`, also run by
 * `npm pack` / `npm publish` through `prepack`). prebuildify builds the addon once per platform as an
 * N-API binary (one file serves every Node version >= 20) into
 *   prebuilds/linux-x64/trm.napi.glibc.node      (this machine)
 *   prebuilds/linux-arm64/trm.napi.armv8.glibc.node  (only where the aarch64 cross compiler is installed)
 * node-gyp-build finds them at run time (src/kernels/native.ts). The build happens in a temporary copy
 * of binding.gyp + native/, so the checkout's own build/Release (the source build `npm ci` makes) is
 * never overwritten, e.g. by an arm64 binary. prebuilds/ is not committed (.gitignore).
 *
 * Usage: node tools/prebuild.mjs [--arch x64,arm64]   (default: the host arch, plus arm64 on x64 when
 * aarch64-linux-gnu-g++ is on PATH). A missing cross compiler is a visible skip line, not an error.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const onPath = cmd => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const CROSS = {
  arm64: {
    cc: 'aarch64-linux-gnu-gcc',
    cxx: 'aarch64-linux-gnu-g++',
    strip: 'aarch64-linux-gnu-strip',
    apt: 'g++-aarch64-linux-gnu',
  },
};

const argi = process.argv.indexOf('--arch');
let archs = argi > 0 ? process.argv[argi + 1].split(',') : [arch()];
if (argi < 0 && platform() === 'linux' && arch() === 'x64') {
  if (onPath(CROSS.arm64.cxx)) archs.push('arm64');
  else
    console.log(`prebuild: linux-arm64 skipped: no ${CROSS.arm64.cxx} on PATH (apt-get install -y ${CROSS.arm64.apt})`);
}

const prebuildify = join(root, 'node_modules', 'prebuildify', 'bin.js');
// node-gyp: the one npm runs scripts with (npm_config_node_gyp), else npm's bundled copy
const npmGyp = () => {
  const r = spawnSync('npm', ['prefix', '-g'], { encoding: 'utf8' });
  return r.status === 0
    ? join(r.stdout.trim(), 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')
    : '';
};
const nodeGyp = process.env.npm_config_node_gyp || npmGyp();
if (!existsSync(nodeGyp)) {
  console.error(`prebuild: node-gyp not found (${nodeGyp || 'npm prefix -g failed'})`);
  process.exit(1);
}
// the headers of the running Node (no download): <prefix>/include/node, as node-gyp's own build uses
const nodedir = join(dirname(process.execPath), '..');
const headers = existsSync(join(nodedir, 'include', 'node', 'node_api.h')) ? { npm_config_nodedir: nodedir } : {};
if (!existsSync(prebuildify)) {
  console.error('prebuild: node_modules/prebuildify is missing: run npm ci first');
  process.exit(1);
}

for (const a of archs) {
  const work = mkdtempSync(join(tmpdir(), `trm-prebuild-${a}-`));
  try {
    cpSync(join(root, 'native'), join(work, 'native'), { recursive: true });
    cpSync(join(root, 'binding.gyp'), join(work, 'binding.gyp'));
    writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'trm', private: true }));
    symlinkSync(join(root, 'node_modules'), join(work, 'node_modules')); // node-addon-api's headers
    const env = { ...process.env, ...headers, PREBUILD_NODE_GYP: nodeGyp };
    const cross = a !== arch() ? CROSS[a] : undefined;
    if (a !== arch() && !cross) throw new Error(`no cross compiler known for ${a}`);
    if (cross)
      Object.assign(env, {
        CC: cross.cc,
        CXX: cross.cxx,
        LINK: cross.cxx,
        AR: 'aarch64-linux-gnu-ar',
        PREBUILD_STRIP_BIN: cross.strip,
      });
    console.log(`prebuild: ${platform()}-${a}${cross ? ` (cross: ${cross.cxx})` : ''}`);
    const r = spawnSync(
      process.execPath,
      [prebuildify, '--napi', '--strip', '--tag-libc', '--arch', a, '--cwd', work, '--out', root],
      { stdio: 'inherit', env },
    );
    if (r.status !== 0) throw new Error(`prebuildify exited with code ${r.status}`);
  } catch (e) {
    console.error(`prebuild: ${platform()}-${a} failed: ${e.message}`);
    process.exit(1);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
const dir = join(root, 'prebuilds');
mkdirSync(dir, { recursive: true });
for (const d of readdirSync(dir))
  for (const f of readdirSync(join(dir, d))) console.log(`prebuild: prebuilds/${d}/${f}`);
