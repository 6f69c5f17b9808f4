// load-builds.mjs: several native builds (trm_native.node files) loaded side by side in one process, for
// the tools that interleave builds (bench-bf16-products.mjs, bench-fused-swiglu.mjs). Each build is
// loaded from its own copy, so one file can appear twice (dlopen would hand back the first otherwise);
// an unreadable path is a one-line error and exit 2.
//   loadBuilds(tool, paths, { before(i), after(addon, i) }): the addons, in order. before runs just
//   before build i is loaded (e.g. to set the environment it reads), after just after.
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
