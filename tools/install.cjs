#!/usr/bin/env node
/**
 * install.cjs: the package's `install` script, node-gyp-build style.
 * - In a git checkout (a .git beside package.json) or with --build-from-source
 *   (npm_config_build_from_source=true): always `node-gyp rebuild`, so `npm ci` compiles the
 *   current native/ sources as before.
 * - Otherwise (the npm package): load the prebuilt addon for this platform
 *   (prebuilds/<platform>-<arch>/, from tools/prebuild.mjs) and check it answers; only when there is
 *   none, or it does not load, fall back to `node-gyp rebuild` (needs g++, make, python3).
 * At run time src/kernels/native.ts finds build/Release first, then the prebuild, and falls back to
 * the TypeScript kernels with one warning line when neither loads.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const fromSource = process.env.npm_config_build_from_source === 'true' || existsSync(join(root, '.git'));

function prebuild() {
  try {
    const path = require('node-gyp-build').path(root);
    const info = require(path).info();
    return `${path.slice(root.length + 1)} (${info.isa})`;
  } catch (e) {
    console.log(`trm: no usable prebuilt addon for ${process.platform}-${process.arch}: ${String(e.message).split('\n')[0]}`);
    return null;
  }
}

const found = fromSource ? null : prebuild();
if (found) {
  console.log(`trm: using the prebuilt native addon ${found}`);
} else {
  console.log(`trm: building the native addon from source (node-gyp rebuild${fromSource ? '' : '; needs g++, make and python3'})`);
  const gyp = process.env.npm_config_node_gyp;
  const r = gyp ? spawnSync(process.execPath, [gyp, 'rebuild'], { cwd: root, stdio: 'inherit' })
    : spawnSync('node-gyp', ['rebuild'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.status !== 0) {
    console.error(`trm: the native addon build failed${r.error ? ` (${r.error.message})` : ''}; trm would run on its slow TypeScript kernels`);
    process.exit(r.status || 1);
  }
}
