/** `trm selfcheck`: every native kernel against the TypeScript reference on this machine. */
import { defineCommand } from '../command.js';
import { backendInfo } from '../../kernels/index.js';
import { selfCheck, selfCheckDevice, type SelfCheckResult } from '../../kernels/selfcheck.js';
import { device } from '../../kernels/core.js';
import { backendChoice, backendOption, useBackendChoice } from '../backend.js';
import { TrmError } from '../../errors.js';

export function printSelfCheck(results: SelfCheckResult[]): boolean {
  const bad = results.filter(r => !r.ok);
  for (const r of results) {
    const mark = r.ok ? 'ok  ' : 'FAIL';
    console.log(
      `  ${mark} ${r.kernel.padEnd(20)} max rel diff ${Number.isFinite(r.maxRelDiff) ? r.maxRelDiff.toExponential(1) : 'inf'} (tol ${r.tol.toExponential(1)})${r.error ? `  (${r.error})` : ''}`,
    );
  }
  console.log(`  ${results.length - bad.length}/${results.length} kernel checks agree with the TypeScript reference`);
  return bad.length === 0;
}

export const selfcheckCommand = defineCommand({
  name: 'selfcheck',
  summary: 'check every native (or --backend webgpu) kernel against the TypeScript reference',
  usage: '[--json] [--backend native|webgpu]',
  options: { json: { type: 'boolean', description: 'print JSON' }, ...backendOption },
  async run(args) {
    if (backendChoice(args.values.backend) === 'webgpu') {
      const label = await useBackendChoice('webgpu');
      const results = await selfCheckDevice(device());
      if (args.values.json)
        console.log(JSON.stringify({ backend: { backend: 'webgpu', adapter: label }, results }, null, 2));
      else {
        console.log(`webgpu kernels: ${label}`);
        printSelfCheck(results);
      }
      return results.every(r => r.ok) ? 0 : 1;
    }
    const info = backendInfo();
    if (info.backend !== 'native')
      throw new TrmError('TRM_NO_NATIVE', `native kernels not loaded (${info.reason}); nothing to check`);
    const results = selfCheck();
    if (args.values.json) console.log(JSON.stringify({ backend: info, results }, null, 2));
    else {
      console.log(`native kernels: ${info.gemmKernel} (${info.isa}), ${info.threads} threads`);
      printSelfCheck(results);
    }
    return results.every(r => r.ok) ? 0 : 1;
  },
});
