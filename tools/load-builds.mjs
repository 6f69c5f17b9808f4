// load-builds.mjs: several native builds (trm_native.node files) loaded side by side in one process, for
// the tools that interleave builds (bench-bf16-products.mjs, bench-fused-swiglu.mjs). Each build is
// loaded from its own copy, so one file can appear twice (dlopen would hand back the first otherwise);
// an unreadable path is a one-line error and exit 2.
//   loadBuilds(tool, paths, { before(i), after(addon, i) }): the addons, in order. before runs just
//   before build i is loaded (e.g. to set the environment it reads), after just after.
//   settleBetweenBuilds(): 5 ms idle, before each timed call of a tool that interleaves builds.
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const require = createRequire(import.meta.url);

export function loadBuilds(tool, paths, { before = () => {}, after = () => {} } = {}) {
  const scratch = mkdtempSync(join(tmpdir(), `trm-${tool}-`));
  try {
    return paths.map((path, i) => {
      const copy = join(scratch, `build${i}.node`);
      try {
        copyFileSync(resolve(path), copy);
      } catch (e) {
        console.error(`${tool}: ${path}: cannot read the build (${e.code ?? e.message})`);
        rmSync(scratch, { recursive: true, force: true }); // (process.exit skips the finally)
        process.exit(2);
      }
      before(i);
      const addon = require(copy);
      after(addon, i);
      return addon;
    });
  } finally {
    rmSync(scratch, { recursive: true, force: true }); // loaded libraries stay mapped
  }
}

// Each loaded build has its own thread pool, whose workers spin for 1-3 ms after a call before they sleep:
// a call right after another build's ran its threads against that spinning worker on a 2-vCPU host
// (bench-tm-products, two threads: 74-82% of the peak with two builds loaded against 86-89% with one, the
// same code, 2026-12-05). Waiting 5 ms idle first lets it sleep, so each call starts as a lone build's does.
const idle = new Int32Array(new SharedArrayBuffer(4));
export function settleBetweenBuilds() {
  Atomics.wait(idle, 0, 0, 5);
}
